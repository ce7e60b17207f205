package isola.boot.fuse;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A file system as the FUSE bridge sees it. Every method returns 0 or a non-negative value on success, or a negative
 * POSIX errno (-2 ENOENT, -17 EEXIST, -20 ENOTDIR, -21 EISDIR, -39 ENOTEMPTY, -28 ENOSPC, -9 EBADF, -36 ENAMETOOLONG,
 * -22 EINVAL, -5 EIO). Paths are absolute, '/'-separated, as FUSE gives them.
 * <p>
 * Implementations must be thread-safe: {@link FuseMount} runs libfuse's multi-threaded loop, so any method may be
 * called concurrently from several native threads. A method must not throw; if it does, the bridge answers EIO.
 * <p>
 * Handles still open when the file system is unmounted may never see {@link #close(long)}: the kernel drops pending
 * releases when the connection goes away. {@link #sync()} is called once after unmounting and must make everything
 * written so far durable regardless.
 */
public interface MountedFs {

    /** Attributes of one node, filled in by {@link #stat}. Times are nanoseconds since the epoch. */
    final class Stat {
        /** Inode number; stable for the node's lifetime and unique within the file system. */
        public long inode;
        /** File type and permission bits, e.g. {@code S_IFREG | 0644} ({@code 0100644}) or {@code S_IFDIR | 0755}. */
        public int mode;
        /** Link count; for a directory 2 plus its number of subdirectories. */
        public int nlink;
        /** Size in bytes. */
        public long size;
        /** Space actually allocated, in 512-byte units (what {@code du} and {@code ls -s} show). */
        public long blocks512;
        public long atimeNs, mtimeNs, ctimeNs;
    }

    /** File system totals, filled in by {@link #statfs}. Block counts are in units of {@code blockSize} bytes. */
    final class StatFs {
        public long blockSize, blocks, freeBlocks, files, freeFiles;
        /** Longest file name accepted, in bytes. */
        public int nameMax;
    }

    /** Fills {@code out} with the attributes of {@code path}; follows no links. */
    int stat(String path, Stat out);

    /** Adds the names of the entries of directory {@code dir} to {@code names}, without "." and "..". */
    int list(String dir, List<String> names);          // names without "." and ".."

    /** Creates directory {@code path} with permission bits {@code mode} (07777 mask, umask already applied). */
    int mkdir(String path, int mode);

    /** Removes the empty directory {@code path}; -ENOTEMPTY if it has entries. */
    int rmdir(String path);

    /** Removes the non-directory {@code path}; open handles on it stay usable until closed. */
    int unlink(String path);

    /**
     * Renames {@code from} to {@code to}, atomically replacing an existing target (a file by a file, an empty directory
     * by a directory). Renaming a directory into its own subtree is -EINVAL.
     */
    int rename(String from, String to);                // atomically replaces an existing target

    /** Sets the size of the file {@code path}, cutting it or extending it with zeros. */
    int truncate(String path, long size);

    /**
     * Opens the regular file {@code path} for reading and writing.
     *
     * @param create    create the file if it does not exist, with permission bits {@code mode}
     * @param exclusive with {@code create}: fail with -EEXIST if the file exists
     * @param truncate  set the size to 0 once open
     * @return a handle {@code >= 0} for {@link #read}, {@link #write}, {@link #fsync} and {@link #close}, or -errno
     */
    long open(String path, boolean create, boolean exclusive, boolean truncate, int mode); // a handle >= 0, or -errno

    /** Reads up to {@code length} bytes at {@code offset} into {@code dst}; returns the bytes read, 0 at end of file. */
    int read(long handle, long offset, MemorySegment dst, int length);   // bytes read, 0 at end of file

    /** Writes {@code length} bytes from {@code src} at {@code offset}, extending the file; returns the bytes written. */
    int write(long handle, long offset, MemorySegment src, int length);  // bytes written

    /** Makes the data and attributes of the open file durable. */
    int fsync(long handle);

    /** Releases a handle from {@link #open}; called exactly once per handle (unless unmounted while open). */
    int close(long handle);

    /** Fills {@code out} with the file system's totals. */
    int statfs(StatFs out);

    /** Sets the permission bits (07777 mask) of {@code path}, keeping its type. */
    int chmod(String path, int mode);

    /** Sets the access and modification times of {@code path}, in nanoseconds since the epoch. */
    int utimens(String path, long atimeNs, long mtimeNs);

    /** Makes everything written so far durable. Called by the bridge after unmounting and for directory fsyncs. */
    int sync();
}
