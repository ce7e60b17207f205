package isola.kernel;

/**
 * The right to one interrupt line: bind it to a notification, acknowledge it (end of
 * interrupt), mask it, set its priority. One handler per line; its last capability unbinds the
 * line and masks it.
 */
public final class IrqHandler extends KernelObject {
    int line;
    /** What a delivery signals, and with which bits; null: nothing bound yet. */
    Notification notification;
    long bits;

    IrqHandler(int id) {
        super(ObjectType.IRQ_HANDLER, id);
    }

    public int line() {
        return line;
    }
}
