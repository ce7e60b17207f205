package isola.baremetal;

import isola.kernel.initrd.Initrd;
import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Java kernel's bring-up on x86-64, in order: boot information and RAM disk; memory (frame
 * allocator, its own page tables in CR3); the IDT; the PIC remapped and the PIT ticking; the
 * interrupt thread; the kernel core. Each step prints one line to the serial port.
 */
final class BareMetalKernel {
    static final int TIMER_HZ = 1000;

    final PrintStream out;
    final BootInfo boot;
    final Initrd ramDisk;
    final KernelMemory memory;
    final Pic pic = new Pic();
    final AtomicLong timerInterrupts = new AtomicLong();
    KernelCore core;

    BareMetalKernel(PrintStream out) {
        this.out = out;
        boot = BootInfo.parse(Physical.READER, Cpu.bootMagic(), Cpu.bootInfo());
        long ram = 0;
        for (BootInfo.Region r : boot.available()) {
            ram += r.end() - r.start();
        }
        out.println("isola: " + (ram >> 20) + " MiB of RAM in " + boot.available().size() + " regions, command line \""
                + boot.commandLine() + "\"");
        ramDisk = loadRamDisk(boot);
        out.println("isola: RAM disk " + ramDisk.imageName() + ": " + ramDisk.entries().size() + " entries, " + manifest(ramDisk));
        memory = KernelMemory.takeOver(boot);
        memory.activate();
        out.println("isola: memory: " + memory.frames.freeFrames() + " frames from 0x" + Long.toHexString(memory.base)
                + " to the frame allocator, " + Nucleus.framesPooled() + " pooled for the heap; own page tables at 0x"
                + Long.toHexString(memory.root) + " in CR3");
        long idt = memory.allocate(0, "the IDT");
        Idt.install(memory.ram, idt);
        pic.remap();
        Pit.start(TIMER_HZ);
        startInterruptThread();
        pic.unmask(0);
        Nucleus.enableInterrupts();
        out.println("isola: IDT at 0x" + Long.toHexString(idt) + " (" + Idt.VECTORS + " vectors); PIC remapped to vectors "
                + Pic.FIRST_VECTOR + "-" + (Pic.FIRST_VECTOR + 15) + "; PIT at " + TIMER_HZ + " Hz");
        core = new KernelCore(memory);
        out.println("isola: kernel core up (" + core.kernel.config().threads() + " threads, "
                + (core.machine.ram().size() >> 20) + " MiB partition)");
    }

    /**
     * What the RAM disk holds of a boot manifest, under the one name every image writer and the
     * hosted boot use ({@link Initrd#MANIFEST}); when it has none, the line says so and names
     * the file (the kernel does not start servers from it yet, so it boots on).
     */
    static String manifest(Initrd ramDisk) {
        Initrd.Entry m = ramDisk.find(Initrd.MANIFEST);
        if (m == null) {
            return "no boot manifest: " + Initrd.MANIFEST + " is missing from it";
        }
        return m.isFile() ? "boot manifest " + Initrd.MANIFEST + " (" + m.size() + " bytes)"
                : "no boot manifest: " + Initrd.MANIFEST + " is a directory, not a file";
    }

    /** The boot modules' first: the RAM disk, parsed by the reader hosted mode uses. */
    private static Initrd loadRamDisk(BootInfo boot) {
        if (boot.modules().isEmpty()) {
            throw new IllegalStateException("no RAM disk: the boot loader passed no module (boot with -initrd FILE)");
        }
        BootInfo.Module m = boot.modules().get(0);
        if (m.size() > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("RAM disk " + m.name() + " is " + m.size() + " bytes, too large");
        }
        return Initrd.parse(m.name(), Physical.read(m.start(), (int) m.size()));
    }

    /**
     * The interrupt thread: takes the lines the nucleus recorded and raises them in the kernel;
     * on the timer's, it also keeps the heap's frame pool topped up (here, outside any GC).
     */
    private void startInterruptThread() {
        Thread t = new Thread(() -> {
            for (;;) {
                int lines = Nucleus.irqWait();
                if ((lines & 1) != 0) {
                    timerInterrupts.incrementAndGet();
                    KernelCore c = core;
                    if (c != null) {
                        c.timerInterrupt();
                    }
                    memory.balance();
                }
            }
        }, "interrupts");
        t.setDaemon(true);
        t.setPriority(Thread.MAX_PRIORITY);
        t.start();
    }
}
