package isola.baremetal;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * The bare-metal kernel's Java entry: the runtime (boot.c) creates the isolate on the boot
 * stack and calls {@link #main}. It brings the machine up, runs the self-tests, prints the
 * summary line and powers QEMU off with a pass or fail status. Anything thrown is a panic: the
 * message and stack trace go to the serial port and QEMU exits with the fail status.
 *
 * <p>The command line (QEMU's {@code -append}) may hold {@code panic=java} or
 * {@code panic=fault}: a deliberate exception, or a deliberate access to unmapped memory, after
 * the bring-up (for the tests of the panic path); and {@code bench} (with
 * {@code bench.warmup=N bench.iterations=N}): the benchmarks after the self-tests.
 */
public final class BareMetalMain {
    /** isa-debug-exit codes: QEMU exits with (code << 1) | 1, so 33 for a pass, 35 for a failure. */
    static final int EXIT_PASS = 0x10, EXIT_FAIL = 0x11;

    private BareMetalMain() {}

    public static void main(String[] args) {
        long start = System.nanoTime();
        Nucleus.policyAttach();
        PrintStream console = new PrintStream(new Uart(Uart.COM1), true, StandardCharsets.US_ASCII);
        System.setOut(console);
        System.setErr(console);
        try {
            console.println("isola: bare-metal kernel (Java, Native Image) on x86-64; Java started "
                    + start / 1_000_000 + " ms after the boot stub");
            BareMetalKernel k = new BareMetalKernel(console);
            String cmdline = " " + k.boot.commandLine() + " ";
            if (cmdline.contains(" panic=java ")) {
                throw new IllegalStateException("deliberate exception in kernel code (panic=java on the command line)");
            }
            if (cmdline.contains(" panic=fault ")) {
                console.println("isola: reading unmapped address 0x8 (panic=fault on the command line)");
                console.println("isola: read 0x" + Long.toHexString(Physical.U.getLongVolatile(null, 8L)) + " (not reached)");
            }
            SelfTests tests = new SelfTests(k, console);
            tests.runAll();
            long ms = (System.nanoTime() - start) / 1_000_000;
            console.println("isola: summary: " + tests.passed + " passed, " + tests.failed + " failed; " + ms
                    + " ms from the kernel's start");
            if (cmdline.contains(" bench ")) {
                new BareMetalBench(console, option(cmdline, "bench.warmup", 3), option(cmdline, "bench.iterations", 10)).runAll();
            }
            Cpu.poweroff(tests.failed == 0 ? EXIT_PASS : EXIT_FAIL);
        } catch (Throwable t) {
            panic(console, t);
        }
    }

    /** {@code name=N} from the command line, or {@code otherwise}. */
    static int option(String cmdline, String name, int otherwise) {
        int at = cmdline.indexOf(" " + name + "=");
        if (at < 0) {
            return otherwise;
        }
        int from = at + name.length() + 2, to = cmdline.indexOf(' ', from);
        try {
            return Integer.parseInt(cmdline.substring(from, to));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("command line: " + name + "=" + cmdline.substring(from, to) + " is not a number");
        }
    }

    static void panic(PrintStream console, Throwable t) {
        console.println("isola: PANIC: " + t);
        t.printStackTrace(console);
        Cpu.poweroff(EXIT_FAIL);
    }
}
