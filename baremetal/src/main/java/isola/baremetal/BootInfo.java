package isola.baremetal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a Multiboot (version 1) boot loader tells the kernel: the physical memory map, the boot
 * modules (the RAM disk image) and the kernel's command line. Parsed from physical memory
 * through a {@link Reader}, so the parser runs on the JVM in tests as it does on bare metal.
 * Every defect is a {@link BootInfoException} naming the field and its address.
 */
record BootInfo(List<Region> available, List<Module> modules, String commandLine) {
    /** EAX after a Multiboot 1 loader jumps to the kernel. */
    static final int MAGIC = 0x2BADB002;
    static final int FLAG_MEMORY = 1, FLAG_CMDLINE = 1 << 2, FLAG_MODULES = 1 << 3, FLAG_MMAP = 1 << 6;
    static final int TYPE_AVAILABLE = 1;
    private static final int MAX_STRING = 4096, MAX_MODULES = 64, MAX_MMAP = 64 * 1024;

    /** Reads physical memory. */
    interface Reader {
        byte[] read(long pa, int length);
    }

    /** A range of RAM the firmware says is free to use, {@code [start, end)}. */
    record Region(long start, long end) {}

    /** A module the loader placed in memory, {@code [start, end)}, with the name it was given. */
    record Module(long start, long end, String name) {
        long size() {
            return end - start;
        }
    }

    static BootInfo parse(Reader memory, int magic, long info) {
        if (magic != MAGIC) {
            throw new BootInfoException("not started by a Multiboot loader: EAX was 0x" + Integer.toHexString(magic)
                    + ", not 0x" + Integer.toHexString(MAGIC));
        }
        if (info <= 0 || info > 0xFFFF_FFFFL) {
            throw new BootInfoException("Multiboot information at 0x" + Long.toHexString(info) + " is not below 4 GiB");
        }
        ByteBuffer b = le(memory.read(info, 52));
        int flags = b.getInt(0);
        if ((flags & FLAG_MMAP) == 0) {
            throw new BootInfoException("the boot loader passed no memory map (Multiboot flags 0x"
                    + Integer.toHexString(flags) + ")");
        }
        String cmdline = (flags & FLAG_CMDLINE) != 0 ? string(memory, u32(b, 16), "the command line") : "";
        List<Module> modules = new ArrayList<>();
        if ((flags & FLAG_MODULES) != 0) {
            long count = u32(b, 20), at = u32(b, 24);
            if (count > MAX_MODULES) {
                throw new BootInfoException("the boot loader passed " + count + " modules (at most " + MAX_MODULES + ")");
            }
            ByteBuffer m = le(memory.read(at, (int) count * 16));
            for (int i = 0; i < count; i++) {
                long start = u32(m, 16 * i), end = u32(m, 16 * i + 4);
                String name = string(memory, u32(m, 16 * i + 8), "module " + i + "'s name");
                if (end < start) {
                    throw new BootInfoException("module " + i + " (" + name + ") ends at 0x" + Long.toHexString(end)
                            + ", before its start 0x" + Long.toHexString(start));
                }
                modules.add(new Module(start, end, name));
            }
        }
        long length = u32(b, 44), at = u32(b, 48);
        if (length == 0 || length > MAX_MMAP) {
            throw new BootInfoException("the memory map at 0x" + Long.toHexString(at) + " has a length of " + length + " bytes");
        }
        ByteBuffer map = le(memory.read(at, (int) length));
        List<Region> available = new ArrayList<>();
        for (int off = 0; off < length; ) {
            if (off + 24 > length) {
                throw new BootInfoException("the memory map entry at 0x" + Long.toHexString(at + off) + " is truncated");
            }
            long size = u32(map, off);
            long base = map.getLong(off + 4), len = map.getLong(off + 12);
            int type = map.getInt(off + 20);
            if (size < 20) {
                throw new BootInfoException("the memory map entry at 0x" + Long.toHexString(at + off) + " has size " + size);
            }
            if (type == TYPE_AVAILABLE && len > 0) {
                available.add(new Region(base, base + len));
            }
            off += (int) size + 4;
        }
        return new BootInfo(List.copyOf(available), List.copyOf(modules), cmdline);
    }

    /** The highest address of the modules, or 0. */
    long modulesEnd() {
        long end = 0;
        for (Module m : modules) {
            end = Math.max(end, m.end());
        }
        return end;
    }

    private static ByteBuffer le(byte[] bytes) {
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long u32(ByteBuffer b, int offset) {
        return Integer.toUnsignedLong(b.getInt(offset));
    }

    private static String string(Reader memory, long pa, String what) {
        if (pa == 0) {
            return "";
        }
        byte[] bytes = memory.read(pa, MAX_STRING);
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                return new String(bytes, 0, i, StandardCharsets.US_ASCII);
            }
        }
        throw new BootInfoException(what + " at 0x" + Long.toHexString(pa) + " is not terminated within " + MAX_STRING + " bytes");
    }

    static final class BootInfoException extends RuntimeException {
        BootInfoException(String message) {
            super(message);
        }
    }
}
