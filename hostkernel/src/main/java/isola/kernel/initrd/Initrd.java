package isola.kernel.initrd;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A parsed RAM disk image: a cpio "newc" archive (magic {@code 070701}) or its "crc" variant
 * ({@code 070702}), whose per-file checksums are verified. Only regular files and directories are
 * accepted. The image is validated completely before anything is returned, and every defect is
 * reported as an {@link InitrdException} naming the image, the entry (index from 0, in archive
 * order, and its name as stored), the entry's header offset and the problem.
 *
 * <p>Paths are normalized by stripping a leading {@code ./}; an entry named {@code .} that is a
 * directory stands for the image root and is not listed. Zero bytes after the trailer are
 * accepted (GNU cpio pads to 512 bytes); anything else there is rejected.
 *
 * <p>The reader runs in the kernel, so it is plain Java on a {@code byte[]}: no files, no
 * reflection, no libraries. The image array is not copied: entries read from it, so the caller
 * must not modify it after {@link #parse}.
 */
public final class Initrd {
    /**
     * Where an image holds its boot manifest: the one name the image writer, the hosted boot and
     * the bare-metal kernel all use (each takes it from here).
     */
    public static final String MANIFEST = "boot.manifest";

    private final String imageName;
    private final List<Entry> entries;
    private final Map<String, Entry> byPath;

    private Initrd(String imageName, List<Entry> entries, Map<String, Entry> byPath) {
        this.imageName = imageName;
        this.entries = entries;
        this.byPath = byPath;
    }

    /** Parses and validates {@code image}; {@code imageName} is used only in error messages. */
    public static Initrd parse(String imageName, byte[] image) {
        return new Parser(imageName, image).parse();
    }

    /** The name the image was parsed under. */
    public String imageName() {
        return imageName;
    }

    /** The files and directories, in archive order (without the root and the trailer). */
    public List<Entry> entries() {
        return entries;
    }

    /** The entry with this normalized path, or {@code null} if there is none. */
    public Entry find(String path) {
        return byPath.get(path);
    }

    /** A copy of the contents of the regular file at {@code path}. */
    public byte[] read(String path) {
        Entry e = byPath.get(path);
        if (e == null) throw new InitrdException(imageName + ": no file \"" + path + "\" in the image");
        if (!e.isFile()) throw new InitrdException(imageName + ": \"" + path + "\" is a directory, not a file");
        return e.data();
    }

    /** One file or directory of an image. */
    public static final class Entry {
        private final byte[] image;
        private final String path;
        private final int mode;
        private final int offset;
        private final int size;
        // Where the entry came from, for messages about it found after it was parsed.
        private final int index;
        private final int headerOffset;

        private Entry(byte[] image, String path, int mode, int offset, int size, int index, int headerOffset) {
            this.image = image;
            this.path = path;
            this.mode = mode;
            this.offset = offset;
            this.size = size;
            this.index = index;
            this.headerOffset = headerOffset;
        }

        /** The normalized path: relative, {@code /}-separated, no {@code .} or {@code ..}. */
        public String path() {
            return path;
        }

        /** The Unix mode: file type bits ({@code 0100000} or {@code 0040000}) and permissions. */
        public int mode() {
            return mode;
        }

        public boolean isDirectory() {
            return (mode & Parser.S_IFMT) == Parser.S_IFDIR;
        }

        public boolean isFile() {
            return (mode & Parser.S_IFMT) == Parser.S_IFREG;
        }

        /** The size of the contents in bytes; 0 for a directory. */
        public int size() {
            return size;
        }

        /** Where the contents start in the image, so they can be used in place without a copy. */
        public int offset() {
            return offset;
        }

        /** A copy of the contents; empty for a directory. */
        public byte[] data() {
            return Arrays.copyOfRange(image, offset, offset + size);
        }

        @Override
        public String toString() {
            return (isDirectory() ? "dir " : "file ") + path + " (" + size + " bytes at 0x" + Integer.toHexString(offset) + ")";
        }
    }

    /** One pass over an image; holds the position of the entry being read, for messages. */
    private static final class Parser {
        static final int HEADER_SIZE = 110;
        static final int S_IFMT = 0170000, S_IFREG = 0100000, S_IFDIR = 0040000;
        static final String TRAILER = "TRAILER!!!";
        // The 13 header fields after the 6-byte magic, 8 hex digits each, named as in cpio(5).
        static final String[] FIELDS = {
            "c_ino", "c_mode", "c_uid", "c_gid", "c_nlink", "c_mtime", "c_filesize",
            "c_devmajor", "c_devminor", "c_rdevmajor", "c_rdevminor", "c_namesize", "c_check"
        };
        static final int MODE = 1, NLINK = 4, FILESIZE = 6, NAMESIZE = 11, CHECK = 12;

        final String imageName;
        final byte[] image;
        int index;
        int headerOffset;
        String name; // as stored, once decoded

        Parser(String imageName, byte[] image) {
            this.imageName = imageName;
            this.image = image;
        }

        Initrd parse() {
            if (image.length == 0) {
                throw new InitrdException(imageName + ": empty image (0 bytes); expected a cpio newc archive");
            }
            List<Entry> entries = new ArrayList<>();
            Map<String, Entry> byPath = new HashMap<>();
            int pos = 0;
            for (index = 0; ; index++) {
                headerOffset = pos;
                name = null;
                if (pos >= image.length) throw fail("missing " + TRAILER + " entry: the image ends where the next header should be");
                if (zeroFrom(pos, image.length)) {
                    throw fail("missing " + TRAILER + " entry: only zero padding where the next header should be");
                }
                if (image.length - pos < HEADER_SIZE) {
                    throw fail("truncated header: " + (image.length - pos) + " of " + HEADER_SIZE + " bytes");
                }
                boolean crc = readMagic(pos);
                long[] field = new long[FIELDS.length];
                for (int f = 0; f < FIELDS.length; f++) field[f] = readHex(pos + 6 + 8 * f, f);

                long nameSize = field[NAMESIZE];
                if (nameSize == 0) throw fail("name size is 0; it must count the name's terminating NUL");
                long nameEnd = pos + HEADER_SIZE + nameSize;
                if (nameEnd > image.length) {
                    throw fail("name size " + hex(nameSize) + " runs past the end of the image (" + image.length + " bytes)");
                }
                if (image[(int) nameEnd - 1] != 0) throw fail("name is not NUL-terminated");
                name = decodeName(pos + HEADER_SIZE, (int) nameEnd - 1);
                // Header plus name, then the data, are each padded to a multiple of 4 from the archive start.
                int dataStart = clampedAlign4(nameEnd);
                requireZero((int) nameEnd, dataStart, "name");

                long fileSize = field[FILESIZE];
                if (name.equals(TRAILER)) {
                    if (fileSize != 0) throw fail("trailer has file size " + hex(fileSize) + "; it must be 0");
                    requireZero(dataStart, image.length, "trailer");
                    break;
                }
                long dataEnd = dataStart + fileSize;
                if (dataEnd > image.length) {
                    throw fail("file size " + hex(fileSize) + " runs past the end of the image (" + image.length + " bytes)");
                }
                pos = clampedAlign4(dataEnd);
                requireZero((int) dataEnd, pos, "data");

                int mode = checkType(field[MODE], field[NLINK], fileSize);
                if (crc) checkSum(dataStart, (int) dataEnd, field[CHECK]);
                if (name.equals(".") && (mode & S_IFMT) == S_IFDIR) continue; // the root, which always exists

                String path = InitrdPath.normalize(name);
                String problem = InitrdPath.problem(path);
                if (problem != null) throw fail("bad name: " + problem);
                Entry earlier = byPath.get(path);
                if (earlier != null) throw fail("duplicate path \"" + path + "\"; entry " + earlier.index + " has it too");
                Entry e = new Entry(image, path, mode, dataStart, (int) fileSize, index, headerOffset);
                entries.add(e);
                byPath.put(path, e);
            }
            checkParentsAreDirectories(entries, byPath);
            return new Initrd(imageName, Collections.unmodifiableList(entries), byPath);
        }

        /** Returns whether the magic is the "crc" variant; fails unless it is 070701 or 070702. */
        boolean readMagic(int pos) {
            if (image[pos] == '0' && image[pos + 1] == '7' && image[pos + 2] == '0'
                    && image[pos + 3] == '7' && image[pos + 4] == '0'
                    && (image[pos + 5] == '1' || image[pos + 5] == '2')) {
                return image[pos + 5] == '2';
            }
            String found = quote(pos, pos + 6);
            String hint = found.equals("\"070707\"") ? " (old portable \"odc\" cpio format, not supported)" : "";
            throw fail("bad magic " + found + hint + "; expected \"070701\" (cpio newc) or \"070702\" (cpio crc)");
        }

        long readHex(int at, int field) {
            long value = 0;
            for (int i = at; i < at + 8; i++) {
                int b = image[i], digit;
                if (b >= '0' && b <= '9') digit = b - '0';
                else if (b >= 'a' && b <= 'f') digit = b - 'a' + 10;
                else if (b >= 'A' && b <= 'F') digit = b - 'A' + 10;
                else throw fail("header field " + FIELDS[field] + " at offset " + hex(at) + " is not 8 hex digits: " + quote(at, at + 8));
                value = value << 4 | digit;
            }
            return value;
        }

        String decodeName(int from, int to) {
            for (int i = from; i < to; i++) {
                if (image[i] == 0) throw fail("name has a NUL byte at offset " + hex(i) + " before its end");
            }
            try {
                // Strict decoding: a lenient one would silently turn bad bytes into U+FFFD and alias names.
                return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(image, from, to - from)).toString();
            } catch (CharacterCodingException e) {
                throw fail("name is not valid UTF-8: " + quote(from, to));
            }
        }

        /** Returns the mode as an int after checking it names a regular file or a directory. */
        int checkType(long mode, long nlink, long fileSize) {
            if ((mode & ~0177777L) != 0) throw fail("mode " + hex(mode) + " has bits beyond the file type and permissions");
            int type = (int) mode & S_IFMT;
            if (type == S_IFDIR) {
                if (fileSize != 0) throw fail("directory has file size " + hex(fileSize) + "; it must be 0");
            } else if (type == S_IFREG) {
                // newc stores a hard-linked file's data only with its last link; earlier links would read as empty.
                if (nlink > 1) throw fail("hard link (c_nlink " + nlink + ") is not supported");
            } else {
                throw fail(typeName(type) + " (mode 0" + Long.toOctalString(mode) + ") is not supported; only regular files and directories are");
            }
            return (int) mode;
        }

        static String typeName(int type) {
            return switch (type) {
                case 0120000 -> "symbolic link";
                case 0020000 -> "character device";
                case 0060000 -> "block device";
                case 0010000 -> "FIFO";
                case 0140000 -> "socket";
                default -> "unknown file type 0" + Integer.toOctalString(type);
            };
        }

        /** The crc format's check field is the 32-bit sum of the data bytes, each taken unsigned. */
        void checkSum(int from, int to, long expected) {
            long sum = 0;
            for (int i = from; i < to; i++) sum += image[i] & 0xff;
            sum &= 0xffffffffL;
            if (sum != expected) throw fail("checksum mismatch: header says " + hex(expected) + ", data sums to " + hex(sum));
        }

        void checkParentsAreDirectories(List<Entry> entries, Map<String, Entry> byPath) {
            for (Entry e : entries) {
                String ancestor = InitrdPath.fileAncestor(e.path, p -> byPath.containsKey(p) && !byPath.get(p).isDirectory());
                if (ancestor != null) {
                    index = e.index;
                    headerOffset = e.headerOffset;
                    name = e.path;
                    throw fail("parent \"" + ancestor + "\" is a file (entry " + byPath.get(ancestor).index + "), not a directory");
                }
            }
        }

        void requireZero(int from, int to, String after) {
            for (int i = from; i < Math.min(to, image.length); i++) {
                if (image[i] != 0) {
                    String what = after.equals("trailer")
                            ? "; only zero padding may follow the trailer"
                            : " in the padding after the " + after;
                    throw fail("non-zero byte " + hex(image[i] & 0xff) + " at offset " + hex(i) + what);
                }
            }
        }

        boolean zeroFrom(int from, int to) {
            for (int i = from; i < to; i++) if (image[i] != 0) return false;
            return true;
        }

        InitrdException fail(String problem) {
            String entry = name == null ? "" : " " + quote(name);
            return new InitrdException(imageName + ": entry " + index + entry + " at offset " + hex(headerOffset) + ": " + problem);
        }

        /** Shows image bytes as a quoted string, escaping anything but printable ASCII. */
        String quote(int from, int to) {
            StringBuilder s = new StringBuilder("\"");
            for (int i = from; i < to; i++) appendEscaped(s, image[i] & 0xff);
            return s.append('"').toString();
        }

        /** Quotes a name, escaping control characters so a hostile name cannot garble the console. */
        static String quote(String name) {
            StringBuilder s = new StringBuilder("\"");
            for (int i = 0; i < name.length(); i++) {
                char c = name.charAt(i);
                if (c > 0x7f) s.append(c);
                else appendEscaped(s, c);
            }
            return s.append('"').toString();
        }

        static void appendEscaped(StringBuilder s, int b) {
            if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') s.append((char) b);
            else s.append("\\x").append(Character.forDigit(b >> 4, 16)).append(Character.forDigit(b & 15, 16));
        }

        /** Rounds up to a multiple of 4, but not past the end of the image (where padding may be cut off). */
        int clampedAlign4(long n) {
            return (int) Math.min((n + 3) & ~3L, image.length);
        }

        static String hex(long n) {
            return "0x" + Long.toHexString(n);
        }
    }
}
