package isola.kernel;

/** The right to hand out interrupt lines as {@link IrqHandler}s; the kernel has one, init holds it. */
public final class IrqControl extends KernelObject {
    IrqControl() {
        super(ObjectType.IRQ_CONTROL, 0);
        live = true;
    }
}
