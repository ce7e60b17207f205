package isola.system.fs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.kernel.KilledError;
import isola.sdk.BlockDevice;
import isola.device.HostDisk;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An operation interrupted by the death of the thread that runs it, while the file system
 * lives on. The fs server's operations are passive calls, run on the caller's thread: when the
 * caller's domain (the shell) is killed mid-operation, the thread's next system call (a block
 * request's submission or wait) unwinds it with {@link KilledError}, and the server serves the
 * next caller with the same {@link FileSystem}. The interrupted operation must have happened
 * entirely or not at all, in memory and so on disk at the next commit; and neither the buffer
 * cache nor the journal may be left believing something the disk does not hold.
 *
 * <p>Deterministic: a fixed workload, interrupted at each of its disk requests in turn.
 */
class InterruptTest {
    @TempDir
    Path tmp;

    /**
     * A disk whose {@code n}-th request (read, write or flush) unwinds its caller once, as
     * {@code KilledError} does: a write is submitted first (the block driver performs what was
     * submitted), a read or flush is not. Every request after it works.
     */
    static final class InterruptingDisk implements BlockDevice {
        private final BlockDevice disk;
        /** Requests until the interruption; 0: none armed. */
        private long left;
        private boolean fired;

        InterruptingDisk(BlockDevice disk) {
            this.disk = disk;
        }

        /** Unwinds the caller at the {@code n}-th request from now. */
        void arm(long n) {
            left = n;
        }

        boolean fired() {
            return fired;
        }

        private boolean due() {
            if (left > 0 && --left == 0) {
                fired = true;
                return true;
            }
            return false;
        }

        @Override
        public long blocks() {
            return disk.blocks();
        }

        @Override
        public void read(long block, int count, MemorySegment dst, long offset) {
            if (due()) {
                throw KilledError.INSTANCE;
            }
            disk.read(block, count, dst, offset);
        }

        @Override
        public void write(long block, int count, MemorySegment src, long offset) {
            disk.write(block, count, src, offset);
            if (due()) {
                throw KilledError.INSTANCE;
            }
        }

        @Override
        public void flush() {
            if (due()) {
                throw KilledError.INSTANCE;
            }
            disk.flush();
        }

        @Override
        public void close() {}
    }

    private static final byte[] OLD = "the old contents of /a, synced\n".getBytes(StandardCharsets.UTF_8);
    private static final byte[] NEW = new byte[3 * Disk.BLOCK + 100];

    static {
        Arrays.fill(NEW, (byte) 'n');
    }

    private static void put(FileSystem fs, String path, byte[] data) {
        FileSystem.Handle h = fs.open(path, true, false, true, 0644);
        fs.write(h, 0, MemorySegment.ofArray(data), 0, data.length);
    }

    private static byte[] get(FileSystem fs, String path) {
        FileSystem.Handle h = fs.open(path, false, false, false, 0);
        byte[] b = new byte[(int) fs.stat(h).size()];
        fs.read(h, 0, MemorySegment.ofArray(b), 0, b.length);
        return b;
    }

    /** The interrupted workload: each step once; one of them may be unwound midway. */
    private static final List<String> STEPS = List.of("write /a", "write /b", "mkdir /d", "write /d/c", "rename /b /d/b",
            "unlink /d/c", "sync");

    private static void step(FileSystem fs, String step) {
        switch (step) {
            case "write /a" -> put(fs, "/a", NEW); // truncates, allocates, writes, sets the size
            case "write /b" -> put(fs, "/b", NEW);
            case "mkdir /d" -> fs.mkdir("/d", 0755);
            case "write /d/c" -> put(fs, "/d/c", OLD);
            case "rename /b /d/b" -> fs.rename("/b", "/d/b");
            case "unlink /d/c" -> fs.unlink("/d/c");
            case "sync" -> fs.sync();
            default -> throw new IllegalArgumentException(step);
        }
    }

    @Test
    void anOperationUnwoundByItsThreadsDeathIsUndoneAndTheNextCommitIsClean() throws Exception {
        int interrupted = 0;
        for (int at = 1; ; at++) {
            Path image = Images.formatted(tmp, "interrupt-" + at + ".img", 4 << 20);
            boolean fired;
            List<String> unwound = new ArrayList<>();
            try (HostDisk host = HostDisk.open(image, false)) {
                FileSystem setup = FileSystem.mount(host);
                put(setup, "/a", OLD);
                setup.close();
                InterruptingDisk disk = new InterruptingDisk(host);
                FileSystem fs = FileSystem.mount(new BlockCache(disk, 1024));
                disk.arm(at);
                for (String s : STEPS) {
                    try {
                        step(fs, s);
                    } catch (KilledError e) {
                        unwound.add(s); // the caller is gone; the server serves the next one
                    } catch (FsException e) {
                        if (unwound.isEmpty() || e.errno() != isola.sdk.Errno.ENOENT) {
                            throw e; // only a step after an unwound one may miss what it undid
                        }
                    }
                }
                disk.arm(0);
                fired = disk.fired();
                // The next caller: everything the other steps did is made durable.
                fs.sync();
                String where = "interrupted at disk request " + at + " (in " + unwound + ")";
                // What the live file system shows: each step whole or, if unwound, not at all.
                byte[] a = get(fs, "/a");
                // (put is two operations: truncated by the open, not written, is whole too)
                assertTrue(Arrays.equals(a, NEW) || unwound.contains("write /a") && (Arrays.equals(a, OLD) || a.length == 0),
                        where + ": /a holds " + a.length + " bytes");
                fs.close();
                assertEquals(List.of(), Fsck.check(host).problems(), where + ": fsck");
                FileSystem again = FileSystem.mount(host);
                byte[] a2 = get(again, "/a");
                assertTrue(Arrays.equals(a2, a), where + ": /a after a remount holds " + a2.length + " bytes, not what was synced");
                if (!unwound.contains("write /b") && !unwound.contains("rename /b /d/b")) {
                    assertTrue(Arrays.equals(get(again, "/d/b"), NEW), where + ": /d/b");
                }
                again.close();
            }
            if (!fired) {
                break; // the workload made fewer requests than that: every one was interrupted once
            }
            interrupted++;
        }
        assertTrue(interrupted >= 15, "the workload made only " + interrupted + " disk requests");
    }
}
