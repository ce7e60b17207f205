package isola.boot.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Our view of /proc/self/mountinfo: find our mount's id, tell whether it is still there, wait for changes. */
final class MountTable implements AutoCloseable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");
    private final int fd;

    private MountTable(int fd) {
        this.fd = fd;
    }

    /** Opens a change watch; changes after this call wake {@link #awaitChange}. */
    static MountTable open() throws IOException {
        return new MountTable(Libc.open(MOUNTINFO.toString()));
    }

    void awaitChange(int timeoutMs) throws InterruptedException {
        if (Libc.pollPriority(fd, timeoutMs) < 0) Thread.sleep(timeoutMs); // poll failed (EINTR...): don't spin
    }

    @Override
    public void close() {
        Libc.close(fd);
    }

    /** The id of the topmost FUSE mount at {@code dir}, or -1 if none is found. */
    static long idOf(Path dir) throws IOException {
        long id = -1;
        for (String[] m : entries()) {
            if (m[1].equals(dir.toString()) && m[2].startsWith("fuse")) id = Long.parseLong(m[0]);
        }
        return id;
    }

    /** Whether the mount {@code id} (any FUSE mount if -1) is still at {@code dir}. */
    static boolean contains(long id, Path dir) throws IOException {
        for (String[] m : entries()) {
            if (m[1].equals(dir.toString()) && (id < 0 ? m[2].startsWith("fuse") : Long.parseLong(m[0]) == id)) {
                return true;
            }
        }
        return false;
    }

    /** Per mount: {id, mount point, fs type}. Format: proc(5), fields separated by ' ', optional ones until "-". */
    private static List<String[]> entries() throws IOException {
        List<String[]> result = new ArrayList<>();
        for (String line : Files.readAllLines(MOUNTINFO)) {
            String[] f = line.split(" ");
            int sep = List.of(f).indexOf("-");
            if (f.length < 5 || sep < 0 || sep + 1 >= f.length) continue;
            result.add(new String[] {f[0], unescape(f[4]), f[sep + 1]});
        }
        return result;
    }

    /** mountinfo writes space, tab, newline and backslash as \ooo octal escapes. */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
