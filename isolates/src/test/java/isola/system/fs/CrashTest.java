package isola.system.fs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import isola.device.HostDisk;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Randomized crash tests of the file system itself: a random workload is killed at a random
 * write or flush of the disk, the image is mounted again (replaying the journal), and what it
 * holds is compared with a model. The state found must be the one of the last commit that
 * completed, or of the one in flight when the kill came: the same names, types and sizes; the
 * same bytes for every file not written since; and fsck must find nothing wrong. So nothing
 * fsync acknowledged is lost, no operation is half-applied, and the disk always mounts.
 */
class CrashTest {
    @TempDir
    Path tmp;

    /** One file's identity in the model, across renames: its bytes and how often they changed. */
    static final class FileModel {
        byte[] data = new byte[0];
        int version;
    }

    /** The namespace: path to a file (a FileModel) or a directory (null), sorted. */
    static final class Model {
        final TreeMap<String, FileModel> entries = new TreeMap<>();

        Model() {
            entries.put("/", null);
        }

        /** A copy that keeps each file's identity, bytes and version as they are now. */
        Snapshot snapshot() {
            Snapshot s = new Snapshot();
            for (var e : entries.entrySet()) {
                FileModel f = e.getValue();
                s.entries.put(e.getKey(), f == null ? null : new Object[] {f, f.data.clone(), f.version});
            }
            return s;
        }

        List<String> dirs() {
            return entries.entrySet().stream().filter(e -> e.getValue() == null).map(Map.Entry::getKey).toList();
        }

        List<String> files() {
            return entries.entrySet().stream().filter(e -> e.getValue() != null).map(Map.Entry::getKey).toList();
        }

        boolean hasChildren(String dir) {
            String prefix = dir.equals("/") ? "/" : dir + "/";
            String next = entries.higherKey(prefix);
            return next != null && next.startsWith(prefix);
        }
    }

    static final class Snapshot {
        final TreeMap<String, Object[]> entries = new TreeMap<>();
    }

    private static String child(String dir, String name) {
        return dir.equals("/") ? "/" + name : dir + "/" + name;
    }

    /** Applies one random operation to the file system and, if it succeeded, to the model. */
    private static void step(FileSystem fs, Model m, Random r, List<Snapshot> commits) {
        List<String> dirs = m.dirs();
        List<String> files = m.files();
        int op = r.nextInt(100);
        if (op < 25 || files.isEmpty()) { // create or overwrite a file
            String path = child(dirs.get(r.nextInt(dirs.size())), "f" + r.nextInt(40));
            if (m.entries.containsKey(path) && m.entries.get(path) == null) {
                return;
            }
            byte[] data = new byte[r.nextInt(4) == 0 ? r.nextInt(200_000) : r.nextInt(9000)];
            r.nextBytes(data);
            FileSystem.Handle h = fs.open(path, true, false, true, 0644);
            FileModel f = m.entries.computeIfAbsent(path, k -> new FileModel());
            f.data = new byte[0];
            f.version++;
            fs.write(h, 0, MemorySegment.ofArray(data), 0, data.length);
            f.data = data;
        } else if (op < 40) { // write somewhere in a file
            String path = files.get(r.nextInt(files.size()));
            FileModel f = m.entries.get(path);
            int at = r.nextInt(f.data.length + 5000);
            byte[] data = new byte[1 + r.nextInt(20000)];
            r.nextBytes(data);
            FileSystem.Handle h = fs.open(path, false, false, false, 0);
            f.version++;
            fs.write(h, at, MemorySegment.ofArray(data), 0, data.length);
            byte[] grown = java.util.Arrays.copyOf(f.data, Math.max(f.data.length, at + data.length));
            System.arraycopy(data, 0, grown, at, data.length);
            f.data = grown;
        } else if (op < 47) { // truncate
            String path = files.get(r.nextInt(files.size()));
            FileModel f = m.entries.get(path);
            int size = r.nextInt(f.data.length + 10000);
            f.version++;
            fs.truncate(path, size);
            f.data = java.util.Arrays.copyOf(f.data, size);
        } else if (op < 57) { // unlink
            String path = files.get(r.nextInt(files.size()));
            fs.unlink(path);
            m.entries.remove(path);
        } else if (op < 65) { // mkdir
            String path = child(dirs.get(r.nextInt(dirs.size())), "d" + r.nextInt(8));
            if (m.entries.containsKey(path) || path.chars().filter(c -> c == '/').count() > 4) {
                return;
            }
            fs.mkdir(path, 0755);
            m.entries.put(path, null);
        } else if (op < 70) { // rmdir of an empty directory
            String path = dirs.get(r.nextInt(dirs.size()));
            if (path.equals("/") || m.hasChildren(path)) {
                return;
            }
            fs.rmdir(path);
            m.entries.remove(path);
        } else if (op < 85) { // rename a file, maybe over another
            String from = files.get(r.nextInt(files.size()));
            String to = r.nextBoolean() ? files.get(r.nextInt(files.size()))
                    : child(dirs.get(r.nextInt(dirs.size())), "f" + r.nextInt(40));
            if (m.entries.containsKey(to) && m.entries.get(to) == null) {
                return;
            }
            fs.rename(from, to);
            if (!from.equals(to)) {
                m.entries.put(to, m.entries.remove(from));
            }
        } else if (op < 88) { // rename a directory with what is under it
            String from = dirs.get(r.nextInt(dirs.size()));
            String parent = dirs.get(r.nextInt(dirs.size()));
            String to = child(parent, "d" + r.nextInt(8));
            if (from.equals("/") || m.entries.containsKey(to) || (to + "/").startsWith(from + "/")
                    || to.chars().filter(c -> c == '/').count() > 4) {
                return;
            }
            fs.rename(from, to);
            for (String k : new ArrayList<>(m.entries.subMap(from, true, from + "0", false).keySet())) {
                if (k.equals(from) || k.startsWith(from + "/")) {
                    m.entries.put(to + k.substring(from.length()), m.entries.remove(k));
                }
            }
        } else { // fsync: the model's state is acknowledged
            fs.sync();
        }
    }

    /** The file system's whole tree, checked against a snapshot. */
    private static String differences(FileSystem fs, Snapshot s) {
        TreeMap<String, Boolean> found = new TreeMap<>();
        collect(fs, "/", found);
        if (!found.keySet().equals(s.entries.keySet())) {
            return "names: found " + found.keySet() + ", expected " + s.entries.keySet();
        }
        for (var e : s.entries.entrySet()) {
            Object[] f = e.getValue();
            if ((f == null) != found.get(e.getKey())) {
                return e.getKey() + ": the wrong type";
            }
            if (f == null) {
                continue;
            }
            byte[] data = (byte[]) f[1];
            FileSystem.Stat st = fs.stat(e.getKey());
            if (st.size() != data.length) {
                return e.getKey() + ": size " + st.size() + ", expected " + data.length;
            }
            if (((FileModel) f[0]).version == (int) f[2]) { // not written since: the bytes must match
                byte[] back = new byte[data.length];
                fs.read(fs.open(e.getKey(), false, false, false, 0), 0, MemorySegment.ofArray(back), 0, back.length);
                if (!java.util.Arrays.equals(back, data)) {
                    return e.getKey() + ": its bytes differ";
                }
            }
        }
        return null;
    }

    private static void collect(FileSystem fs, String dir, Map<String, Boolean> out) {
        out.put(dir, true);
        for (FileSystem.Entry e : fs.list(dir)) {
            String p = child(dir, e.name());
            if (e.directory()) {
                collect(fs, p, out);
            } else {
                out.put(p, false);
            }
        }
    }

    @Test
    void killedAtRandomWritesLosesNothingCommitted() throws Exception {
        Random seeds = new Random(Long.getLong("isola.crash.seed", 20261124L));
        int runs = Integer.getInteger("isola.crash.runs", 120);
        for (int run = 0; run < runs; run++) {
            long seed = seeds.nextLong();
            crashOnce(seed, run);
        }
    }

    private void crashOnce(long seed, int run) throws Exception {
        Random r = new Random(seed);
        Path image = Images.formatted(tmp, "crash-" + run + ".img", (2 + r.nextInt(6)) << 20);
        Model model = new Model();
        List<Snapshot> commits = new ArrayList<>();
        commits.add(model.snapshot());
        Snapshot inFlight = null;
        long crashAt = 1 + r.nextInt(r.nextBoolean() ? 200 : 2000);
        try (HostDisk host = HostDisk.open(image, false)) {
            CrashingDisk disk = new CrashingDisk(host, crashAt);
            try {
                FileSystem fs = FileSystem.mount(disk);
                for (int i = 0; i < 400; i++) {
                    Snapshot before = model.snapshot();
                    long c = fs.commits();
                    inFlight = before;
                    try {
                        step(fs, model, r, commits);
                    } catch (FsException e) {
                        if (e.errno() != isola.sdk.Errno.ENOSPC) {
                            throw e;
                        }
                    }
                    inFlight = null;
                    if (fs.commits() != c) {
                        // A commit at the start of the step covers the state before it.
                        commits.add(before);
                    }
                }
                inFlight = model.snapshot();
                fs.sync();
                commits.add(inFlight);
                inFlight = null;
            } catch (CrashingDisk.Crash expected) {
                // killed
            }
        }
        try (HostDisk host = HostDisk.open(image, false)) {
            FileSystem fs = FileSystem.mount(host);
            String last = differences(fs, commits.get(commits.size() - 1));
            String flying = inFlight == null ? "no commit in flight" : differences(fs, inFlight);
            if (last != null && flying != null) {
                fail("seed " + seed + " (run " + run + ", killed at disk operation " + crashAt + "): neither the last commit ("
                        + last + ") nor the one in flight (" + flying + ") is what the disk holds");
            }
            fs.close();
            Fsck.Report report = Fsck.check(host);
            assertEquals(List.of(), report.problems(), "seed " + seed + ": fsck after the crash");
        }
    }
}
