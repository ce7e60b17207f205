package isola.baremetal;

import org.graalvm.nativeimage.c.function.CFunction;
import org.graalvm.nativeimage.c.function.CFunction.Transition;

/**
 * The privileged instructions the Java kernel uses, each a few instructions of the runtime
 * (baremetal/src/main/c/cpu.c). None blocks or calls back into Java, so none needs a thread
 * state transition: each is as cheap as the instruction itself plus a call.
 */
final class Cpu {
    private Cpu() {}

    @CFunction(value = "isola_inb", transition = Transition.NO_TRANSITION)
    static native int inb(int port);

    @CFunction(value = "isola_outb", transition = Transition.NO_TRANSITION)
    static native void outb(int port, int value);

    @CFunction(value = "isola_rdtsc", transition = Transition.NO_TRANSITION)
    static native long rdtsc();

    @CFunction(value = "isola_read_cr2", transition = Transition.NO_TRANSITION)
    static native long readCr2();

    @CFunction(value = "isola_read_cr3", transition = Transition.NO_TRANSITION)
    static native long readCr3();

    /** Loads a new root page table: every non-global TLB entry goes. */
    @CFunction(value = "isola_write_cr3", transition = Transition.NO_TRANSITION)
    static native void writeCr3(long root);

    @CFunction(value = "isola_invlpg", transition = Transition.NO_TRANSITION)
    static native void invlpg(long va);

    /** Exits QEMU through its isa-debug-exit device (status (code << 1) | 1), or halts for ever. */
    @CFunction(value = "isola_poweroff", transition = Transition.NO_TRANSITION)
    static native void poweroff(int code);

    /** The Multiboot magic (EAX) and information address (EBX) the boot loader passed. */
    @CFunction(value = "isola_boot_magic", transition = Transition.NO_TRANSITION)
    static native int bootMagic();

    @CFunction(value = "isola_boot_info", transition = Transition.NO_TRANSITION)
    static native long bootInfo();
}
