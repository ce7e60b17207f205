package isola.kernel;

/**
 * A virtual interrupt controller with the x86 vector layout: vectors 0 to 31 are the CPU's
 * exceptions, vectors 32 to 255 the interrupt lines 0 to 223 (line n is vector 32 + n, as with
 * a remapped PIC or an I/O APIC). Lines raised together are delivered highest priority (0 to
 * 15) first, as a local APIC orders them; the kernel acknowledges the controller at once, so a
 * line waiting for its driver holds back only itself: it stays in service, masked alone, until
 * the driver acknowledges it (as in seL4), and a raise meanwhile is remembered as pending, not
 * lost, and counted once delivered. Called by the kernel under its lock; no allocation.
 *
 * <p>Line 0 is the timer's: the kernel handles it itself ({@link Kernel#raiseIrq}).
 */
final class InterruptController {
    static final int VECTORS = 256;
    static final int FIRST_IRQ_VECTOR = 32;
    static final int LINES = VECTORS - FIRST_IRQ_VECTOR;
    static final int TIMER_LINE = 0;
    static final int PRIORITIES = 16;

    private static final String[] EXCEPTIONS = {
        "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range exceeded",
        "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor segment overrun",
        "#TS invalid TSS", "#NP segment not present", "#SS stack-segment fault", "#GP general protection",
        "#PF page fault", "reserved", "#MF x87 floating-point error", "#AC alignment check", "#MC machine check",
        "#XM SIMD floating-point", "#VE virtualization", "#CP control protection", "reserved", "reserved",
        "reserved", "reserved", "reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
        "#SX security", "reserved",
    };

    final IrqHandler[] handler = new IrqHandler[LINES];
    final boolean[] masked = new boolean[LINES];
    final boolean[] pending = new boolean[LINES];
    final boolean[] inService = new boolean[LINES];
    final int[] priority = new int[LINES];
    final long[] delivered = new long[LINES];

    InterruptController() {
        for (int line = 0; line < LINES; line++) {
            priority[line] = (FIRST_IRQ_VECTOR + line) >> 4; // the APIC's priority class of the vector
            masked[line] = line != TIMER_LINE; // unmasked once a driver binds it
        }
    }

    static String vectorName(int vector) {
        return vector < FIRST_IRQ_VECTOR ? EXCEPTIONS[vector] : "IRQ " + (vector - FIRST_IRQ_VECTOR);
    }

    boolean deliverable(int line) {
        return pending[line] && !masked[line] && !inService[line];
    }

    /** The deliverable pending line of highest priority (the lowest line among equals), or -1. */
    int next() {
        int best = -1;
        for (int line = 0; line < LINES; line++) {
            if (deliverable(line) && (best < 0 || priority[line] > priority[best])) {
                best = line;
            }
        }
        return best;
    }
}
