package isola.baremetal;

import isola.kernel.initrd.Initrd;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * The bare-metal kernel's Java entry: the runtime (runtime.c) creates the isolate on the boot
 * stack and calls {@link #main}. It brings the machine up, runs the self-tests, prints the
 * summary line and powers QEMU off with a pass or fail status. Anything thrown is a panic: the
 * message and stack trace go to the serial port and QEMU exits with the fail status.
 */
public final class BareMetalMain {
    /** isa-debug-exit codes: QEMU exits with (code << 1) | 1, so 33 for a pass, 35 for a failure. */
    static final int EXIT_PASS = 0x10, EXIT_FAIL = 0x11;

    private BareMetalMain() {}

    public static void main(String[] args) {
        PrintStream console = new PrintStream(new Uart(Uart.COM1), true, StandardCharsets.US_ASCII);
        System.setOut(console);
        System.setErr(console);
        try {
            console.println("isola: bare-metal kernel (Java, Native Image) on x86-64");
            BootInfo boot = BootInfo.parse(Physical.READER, Cpu.bootMagic(), Cpu.bootInfo());
            long ram = 0;
            for (BootInfo.Region r : boot.available()) {
                console.println("isola: RAM 0x" + Long.toHexString(r.start()) + "-0x" + Long.toHexString(r.end()));
                ram += r.end() - r.start();
            }
            console.println("isola: " + (ram >> 20) + " MiB available, " + boot.modules().size() + " module(s), command line \""
                    + boot.commandLine() + "\"");
            for (BootInfo.Module m : boot.modules()) {
                Initrd image = Initrd.parse(m.name(), Physical.read(m.start(), (int) m.size()));
                console.println("isola: RAM disk " + m.name() + ": " + image.entries().size() + " entries");
            }
            console.println("isola: summary: passed");
            Cpu.poweroff(EXIT_PASS);
        } catch (Throwable t) {
            panic(console, t);
        }
    }

    static void panic(PrintStream console, Throwable t) {
        console.println("isola: PANIC: " + t);
        t.printStackTrace(console);
        Cpu.poweroff(EXIT_FAIL);
    }
}
