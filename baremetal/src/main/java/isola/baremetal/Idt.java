package isola.baremetal;

import isola.kernel.mem.PhysicalMemory;

/**
 * The interrupt descriptor table the Java kernel installs: a 64-bit interrupt gate (interrupts
 * off on entry) for each of the 32 exceptions and the 16 PIC lines remapped to vectors 32 to
 * 47, as hostkernel's interrupt model numbers them. Each points at the runtime's entry stub
 * for its vector. Double fault, NMI and machine check run on the IST 1 stack, since the stack
 * may be what failed; the rest run on the interrupted stack and switch to the interrupt stack
 * in the stub. Vectors above 47 are beyond the table's limit: raising one is a #GP.
 */
final class Idt {
    static final int VECTORS = 48;
    static final int KERNEL_CODE = 0x08;
    static final int INTERRUPT_GATE = 0x8E; // present, DPL 0, 64-bit interrupt gate

    private Idt() {}

    /** The IST a vector's gate uses (0: none). */
    static int ist(int vector) {
        return vector == 2 || vector == 8 || vector == 18 ? 1 : 0;
    }

    /** The low and high quadwords of a gate to {@code handler} (Intel SDM Vol. 3A, 6.14.1). */
    static long gateLow(long handler, int ist) {
        return (handler & 0xFFFFL) | ((long) KERNEL_CODE << 16) | ((long) (ist & 7) << 32) | ((long) INTERRUPT_GATE << 40)
                | (((handler >>> 16) & 0xFFFFL) << 48);
    }

    static long gateHigh(long handler) {
        return handler >>> 32;
    }

    /** Writes the table into the frame at {@code pa} and loads it. */
    static void install(PhysicalMemory ram, long pa) {
        ram.zero(pa, PhysicalMemory.FRAME);
        for (int v = 0; v < VECTORS; v++) {
            long handler = Nucleus.isrStub(v);
            ram.write64(pa + 16L * v, gateLow(handler, ist(v)));
            ram.write64(pa + 16L * v + 8, gateHigh(handler));
        }
        Nucleus.lidt(pa, 16 * VECTORS - 1);
    }
}
