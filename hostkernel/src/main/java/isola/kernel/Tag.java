package isola.kernel;

/**
 * A message tag: {@code label << 32 | caps << 8 | length}. The label is the message's meaning
 * (an operation number or a reply code), the length the number of message registers used, caps
 * the number of capabilities transferred (0..3).
 */
public final class Tag {
    private Tag() {}

    public static long of(int label, int length) {
        return ((long) label << 32) | (length & 0xFF);
    }

    public static long of(int label, int length, int caps) {
        return ((long) label << 32) | ((long) (caps & 0xFF) << 8) | (length & 0xFF);
    }

    public static int label(long tag) {
        return (int) (tag >>> 32);
    }

    public static int length(long tag) {
        return (int) (tag & 0xFF);
    }

    public static int caps(long tag) {
        return (int) ((tag >>> 8) & 0xFF);
    }

    public static long withCaps(long tag, int caps) {
        return (tag & ~0xFF00L) | ((long) (caps & 0xFF) << 8);
    }
}
