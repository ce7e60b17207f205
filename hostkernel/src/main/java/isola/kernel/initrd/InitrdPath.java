package isola.kernel.initrd;

import java.util.function.Predicate;

/**
 * The one rule for which entry paths a RAM disk image may hold, shared by the kernel's reader and
 * the build's writer so that nothing the build writes is refused at boot and nothing refused at
 * boot can be written.
 *
 * <p>A valid path is relative, uses {@code /} as separator, and has only non-empty components
 * other than {@code .} and {@code ..}; so it can never name something outside the place the image
 * is unpacked to, and each file has exactly one spelling (which makes duplicates detectable).
 */
public final class InitrdPath {
    private InitrdPath() {}

    /** Returns why {@code path} is not a valid image path, or {@code null} if it is. */
    public static String problem(String path) {
        if (path == null) return "no path";
        if (path.isEmpty()) return "empty path";
        if (path.charAt(0) == '/') return "absolute path";
        int componentStart = 0;
        for (int i = 0; i <= path.length(); i++) {
            char c = i < path.length() ? path.charAt(i) : '/';
            if (c == '\\') return "backslash in path";
            if (c < 0x20 || c == 0x7f) return "control character 0x" + Integer.toHexString(c) + " in path";
            if (c != '/') continue;
            int length = i - componentStart;
            if (length == 0) return "empty path component";
            if (length == 1 && path.charAt(componentStart) == '.') return "\".\" path component";
            if (length == 2 && path.startsWith("..", componentStart)) {
                return "\"..\" path component escapes the image";
            }
            componentStart = i + 1;
        }
        return null;
    }

    /**
     * Returns the first proper ancestor of {@code path} that {@code isFile} says is a file, or
     * {@code null}. An image where a file is also a parent cannot be unpacked, so both sides reject it.
     */
    public static String fileAncestor(String path, Predicate<String> isFile) {
        for (int slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1)) {
            String ancestor = path.substring(0, slash);
            if (isFile.test(ancestor)) return ancestor;
        }
        return null;
    }

    /** Strips the one leading {@code ./} that {@code find . | cpio -o} puts on every name. */
    public static String normalize(String name) {
        return name.startsWith("./") ? name.substring(2) : name;
    }
}
