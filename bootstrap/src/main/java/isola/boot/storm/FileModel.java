package isola.boot.storm;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What each of the storm's files may hold, as far as what the shell acknowledged proves. A
 * file's content is {@code null} when it does not exist.
 *
 * <p>Two sets per file: {@code current}, what it may hold now, and {@code durable}, what it may
 * hold on disk, which is what a restart of the fs server reverts it to: besides what the last
 * sync made durable, any state it passed through since (the server's clock commits once a
 * second), such as the empty file a write's open made before the write. A command the shell
 * reported done narrows {@code current}; one that failed or was cut short by a crash of the
 * shell widens it (it may or may not have happened, or half: a file truncated but not written).
 * A sync that succeeded makes {@code current} durable, unless the shell restarted since the
 * last sync: then the fs server may have restarted meanwhile and lost writes of the old shell
 * without the new shell's sync seeing EIO (it had written nothing). A sync that failed (EIO:
 * the fs server restarted and lost what was not synced) leaves the files where either may hold.
 */
final class FileModel {
    private static final class File {
        final Set<String> current = new HashSet<>();
        final Set<String> durable = new HashSet<>();

        File() {
            current.add(null);
            durable.add(null);
        }

        boolean mayHold(String content) {
            return current.contains(content) || durable.contains(content);
        }
    }

    private final Map<String, File> files = new TreeMap<>();
    /** The shell restarted since the last sync that made everything durable. */
    private boolean shellRestarted;

    private File file(String path) {
        return files.computeIfAbsent(path, p -> new File());
    }

    /** {@code content} written to {@code path}; {@code sure}: the shell said it was done. */
    void wrote(String path, String content, boolean sure) {
        File f = file(path);
        changing(f);
        f.durable.add(""); // the open truncated it before the write: the clock may have committed that
        if (!sure) {
            f.current.add(content);
            f.current.add(""); // opened (created, truncated) but not written
            return;
        }
        f.current.clear();
        f.current.add(content);
    }

    void removed(String path, boolean sure) {
        File f = file(path);
        changing(f);
        if (sure) {
            f.current.clear();
        }
        f.current.add(null);
    }

    /**
     * The file is about to change: what it may hold now may be on disk already, since the fs
     * server commits once a second on its own, and a restart reverts the file to the last
     * commit, not to the last sync.
     */
    private static void changing(File f) {
        f.durable.addAll(f.current);
    }

    /** The shell read {@code content} (null: no such file) from {@code path}, now. */
    void read(String path, String content) {
        File f = file(path);
        f.current.clear();
        f.current.add(content);
    }

    boolean mayHold(String path, String content) {
        return file(path).mayHold(content);
    }

    void shellRestarted() {
        shellRestarted = true;
    }

    /** A sync: {@code ok} if it succeeded (the shell printed nothing), else it failed or was cut short. */
    void synced(boolean ok) {
        for (File f : files.values()) {
            if (ok && !shellRestarted) {
                f.durable.clear();
                f.durable.addAll(f.current);
            } else {
                f.durable.addAll(f.current);
                f.current.addAll(f.durable);
            }
        }
        if (ok) {
            shellRestarted = false;
        }
    }

    /** The files' paths. */
    Set<String> paths() {
        return files.keySet();
    }

    /** What the disk may hold at {@code path} (null: no such file). */
    Set<String> durable(String path) {
        return file(path).durable.stream().map(c -> c == null ? NONE : c).collect(java.util.stream.Collectors.toUnmodifiableSet());
    }

    /** Stands for "no such file" in {@link #durable}, as unmodifiable sets take no null. */
    static final String NONE = "\0(no such file)";

    String describe(String path) {
        File f = file(path);
        return "current " + f.current + ", durable " + f.durable;
    }
}
