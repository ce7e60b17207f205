package isola.init.manifest;

/**
 * A size as people write it in a manifest or on the command line: a whole number and a binary
 * unit, K (KiB), M (MiB) or G (GiB), with optional spaces between (512K, 16 M, 1G).
 */
public final class ByteSize {
    private ByteSize() {}

    /**
     * The bytes {@code value} stands for, taking only the units in {@code units} (e.g. "KM"):
     * -1 if it is not such a size, Long.MAX_VALUE if it is too large to count in bytes.
     */
    public static long parse(String value, String units) {
        String v = value.strip();
        int i = 0;
        while (i < v.length() && v.charAt(i) >= '0' && v.charAt(i) <= '9') {
            i++;
        }
        String digits = v.substring(0, i);
        String unit = v.substring(i).strip();
        if (digits.isEmpty() || unit.length() != 1 || units.indexOf(unit.charAt(0)) < 0) {
            return -1;
        }
        int shift = switch (unit.charAt(0)) {
            case 'K' -> 10;
            case 'M' -> 20;
            default -> 30;
        };
        return digits.length() > 6 ? Long.MAX_VALUE : Long.parseLong(digits) << shift;
    }

    /** The shortest way to write {@code bytes} (a whole number of KiB): 4K, 16M, 1G. */
    public static String format(long bytes) {
        return bytes >= 1L << 30 && bytes % (1L << 30) == 0 ? (bytes >> 30) + "G"
                : bytes >= 1L << 20 && bytes % (1L << 20) == 0 ? (bytes >> 20) + "M" : (bytes >> 10) + "K";
    }
}
