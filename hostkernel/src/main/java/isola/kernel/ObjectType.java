package isola.kernel;

/** Kernel object types. Stored as ints so the fast path compares a field, not a class. */
public final class ObjectType {
    private ObjectType() {}

    public static final int ENDPOINT = 1;
    public static final int NOTIFICATION = 2;
    public static final int REPLY = 3;
    public static final int DOMAIN = 4;
    public static final int THREAD = 5;
    public static final int FRAME = 6;
    public static final int PAGE_TABLE = 7;
    public static final int IRQ_HANDLER = 8;
    /** The right to hand out IRQ handlers (init's). */
    public static final int IRQ_CONTROL = 9;

    public static String name(int type) {
        return switch (type) {
            case ENDPOINT -> "endpoint";
            case NOTIFICATION -> "notification";
            case REPLY -> "reply";
            case DOMAIN -> "domain";
            case THREAD -> "thread";
            case FRAME -> "frame";
            case PAGE_TABLE -> "page table";
            case IRQ_HANDLER -> "irq handler";
            case IRQ_CONTROL -> "irq control";
            default -> "type" + type;
        };
    }
}
