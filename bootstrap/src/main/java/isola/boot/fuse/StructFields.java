package isola.boot.fuse;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.cryptomator.jfuse.api.Fuse;
import org.cryptomator.jfuse.api.FuseConfig;
import org.cryptomator.jfuse.api.Stat;
import org.cryptomator.jfuse.api.Statvfs;

/**
 * jfuse's Stat, Statvfs and FuseConfig have no setters for st_ino, st_blocks, f_files, f_ffree and use_ino (which
 * libfuse 3 takes only from fuse_config, not from -o). Its Linux implementations are records over the native
 * struct, so when jfuse is on the class path (or its package is opened to us) we write those fields at their
 * x86_64 offsets (as in jfuse's jextract'ed layouts; use_ino has been at 64 since libfuse 3.0). Otherwise they stay
 * 0: libfuse then numbers inodes itself, and du / df -i show zeros.
 */
final class StructFields {
    private static final Logger LOG = LogManager.getLogger(StructFields.class);

    private static final long ST_INO = 8, ST_BLOCKS = 64, STAT_SIZE = 144;
    private static final long F_FILES = 40, F_FFREE = 48, F_FAVAIL = 56, STATVFS_SIZE = 112;
    private static final long USE_INO = 64, CONFIG_SIZE = 68;
    private static final MethodHandle STAT = segmentAccessor("org.cryptomator.jfuse.linux.amd64.StatImpl");
    private static final MethodHandle STATVFS = segmentAccessor("org.cryptomator.jfuse.linux.amd64.StatvfsImpl");
    private static final MethodHandle CONFIG = segmentAccessor("org.cryptomator.jfuse.linux.amd64.FuseConfigImpl");

    private StructFields() {}

    /** Only together: inode numbers in stat are ignored without use_ino, and use_ino without them would be all 0. */
    static void useInodeNumbers(FuseConfig cfg) {
        MemorySegment s = STAT == null ? null : segment(CONFIG, cfg, CONFIG_SIZE);
        if (s != null) s.set(JAVA_INT, USE_INO, 1);
    }

    private static MethodHandle segmentAccessor(String className) {
        try {
            Class<?> c = Class.forName(className, false, Fuse.class.getClassLoader());
            var accessor = c.getDeclaredMethod("segment");
            accessor.setAccessible(true);
            return MethodHandles.lookup().unreflect(accessor).asType(MethodType.methodType(MemorySegment.class, Object.class));
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.warn("no access to " + className + ": inode numbers, block and file counts"
                    + " are not reported (put jfuse on the class path or open its package)", e);
            return null;
        }
    }

    static void setInodeAndBlocks(Stat stat, long inode, long blocks512) {
        MemorySegment s = segment(STAT, stat, STAT_SIZE);
        if (s == null) return;
        s.set(JAVA_LONG, ST_INO, inode);
        s.set(JAVA_LONG, ST_BLOCKS, blocks512);
    }

    static void setFileCounts(Statvfs statvfs, long files, long freeFiles) {
        MemorySegment s = segment(STATVFS, statvfs, STATVFS_SIZE);
        if (s == null) return;
        s.set(JAVA_LONG, F_FILES, files);
        s.set(JAVA_LONG, F_FFREE, freeFiles);
        s.set(JAVA_LONG, F_FAVAIL, freeFiles);
    }

    private static MemorySegment segment(MethodHandle accessor, Object struct, long size) {
        if (accessor == null || !accessor.type().parameterType(0).isInstance(struct)) return null;
        try {
            MemorySegment s = (MemorySegment) accessor.invokeExact(struct);
            return s.byteSize() >= size ? s : s.reinterpret(size);
        } catch (Throwable wrongType) { // a Stat that is not jfuse's StatImpl, e.g. in a unit test
            return null;
        }
    }
}
