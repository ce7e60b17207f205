package isola.kernel;

/** One interrupt line's state, for the shell and tests ({@link Kernel#irqLine}). */
public record IrqLine(int line, int vector, String vectorName, long delivered, boolean masked, boolean pending,
        boolean inService, int priority, String owner) {}
