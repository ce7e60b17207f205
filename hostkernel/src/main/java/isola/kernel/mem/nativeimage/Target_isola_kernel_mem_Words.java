package isola.kernel.mem.nativeimage;

import com.oracle.svm.core.AlwaysInline;
import com.oracle.svm.core.SubstrateUtil;
import com.oracle.svm.core.annotate.Alias;
import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;
import isola.kernel.mem.Words;
import java.lang.foreign.MemorySegment;
import jdk.internal.misc.Unsafe;

/**
 * {@link Words} in the native image: the Maven Central builder has no FFM support for VarHandle
 * access to memory segments (it fails with UnsupportedOperationException), so each access goes
 * to the segment's address through {@link Unsafe}, with the same ordering and the same bounds
 * check. Only native segments are accessed this way; the kernel's all are (UTCBs, physical
 * memory, shared rings). A segment's liveness (its arena closed) is not checked: the kernel
 * never frees these while a thread can reach them.
 */
@TargetClass(Words.class)
final class Target_isola_kernel_mem_Words {
    @Substitute
    static long get(MemorySegment s, long offset) {
        return RawMemory.U.getLong(RawMemory.at(s, offset, 8));
    }

    @Substitute
    static void set(MemorySegment s, long offset, long value) {
        RawMemory.U.putLong(RawMemory.atWritable(s, offset, 8), value);
    }

    @Substitute
    static long getVolatile(MemorySegment s, long offset) {
        return RawMemory.U.getLongVolatile(null, RawMemory.at(s, offset, 8));
    }

    @Substitute
    static void setVolatile(MemorySegment s, long offset, long value) {
        RawMemory.U.putLongVolatile(null, RawMemory.atWritable(s, offset, 8), value);
    }

    @Substitute
    static long getAcquire(MemorySegment s, long offset) {
        return RawMemory.U.getLongAcquire(null, RawMemory.at(s, offset, 8));
    }

    @Substitute
    static void setRelease(MemorySegment s, long offset, long value) {
        RawMemory.U.putLongRelease(null, RawMemory.atWritable(s, offset, 8), value);
    }

    @Substitute
    static boolean compareAndSet(MemorySegment s, long offset, long expected, long value) {
        return RawMemory.U.compareAndSetLong(null, RawMemory.atWritable(s, offset, 8), expected, value);
    }

    @Substitute
    static long getAndSet(MemorySegment s, long offset, long value) {
        return RawMemory.U.getAndSetLong(null, RawMemory.atWritable(s, offset, 8), value);
    }

    @Substitute
    static long getAndAdd(MemorySegment s, long offset, long delta) {
        return RawMemory.U.getAndAddLong(null, RawMemory.atWritable(s, offset, 8), delta);
    }

    @Substitute
    static int getInt(MemorySegment s, long offset) {
        return RawMemory.U.getInt(RawMemory.at(s, offset, 4));
    }

    @Substitute
    static void setInt(MemorySegment s, long offset, int value) {
        RawMemory.U.putInt(RawMemory.atWritable(s, offset, 4), value);
    }

    @Substitute
    static short getShort(MemorySegment s, long offset) {
        return RawMemory.U.getShort(RawMemory.at(s, offset, 2));
    }

    @Substitute
    static void setShort(MemorySegment s, long offset, short value) {
        RawMemory.U.putShort(RawMemory.atWritable(s, offset, 2), value);
    }

    @Substitute
    static byte getByte(MemorySegment s, long offset) {
        return RawMemory.U.getByte(RawMemory.at(s, offset, 1));
    }

    @Substitute
    static void setByte(MemorySegment s, long offset, byte value) {
        RawMemory.U.putByte(RawMemory.atWritable(s, offset, 1), value);
    }
}

/** What the substitution needs that a substitution class may not declare itself. */
final class RawMemory {
    private RawMemory() {}

    static final Unsafe U = Unsafe.getUnsafe();

    /**
     * The address of {@code size} bytes at {@code offset} of native segment {@code s}, bounds
     * checked. Reads the segment's fields directly: the MemorySegment methods are interface
     * calls an ahead-of-time compiler cannot always inline.
     */
    @AlwaysInline("one compare and an add on every kernel memory access")
    static long at(MemorySegment s, long offset, int size) {
        if (!(s instanceof jdk.internal.foreign.NativeMemorySegmentImpl)) {
            throw notNative(s);
        }
        long length = SubstrateUtil.cast(s, Target_jdk_internal_foreign_AbstractMemorySegmentImpl.class).length;
        if (offset < 0 || offset > length - size) {
            throw outOfBounds(s, offset, size);
        }
        return SubstrateUtil.cast(s, Target_jdk_internal_foreign_NativeMemorySegmentImpl.class).min + offset;
    }

    private static IllegalArgumentException notNative(MemorySegment s) {
        return new IllegalArgumentException("Words in the native image reaches native segments only, not " + s);
    }

    private static IndexOutOfBoundsException outOfBounds(MemorySegment s, long offset, int size) {
        return new IndexOutOfBoundsException(size + " bytes at offset " + offset + " are outside " + s);
    }

    /** As {@link #at}, for a write: a read-only segment refuses it, as its VarHandles do. */
    @AlwaysInline("as at")
    static long atWritable(MemorySegment s, long offset, int size) {
        long a = at(s, offset, size);
        if (SubstrateUtil.cast(s, Target_jdk_internal_foreign_AbstractMemorySegmentImpl.class).readOnly) {
            throw new UnsupportedOperationException("write to a read-only segment " + s);
        }
        return a;
    }
}

/** The fields of a native memory segment (its address, size and whether it is read-only). */
@TargetClass(className = "jdk.internal.foreign.NativeMemorySegmentImpl")
final class Target_jdk_internal_foreign_NativeMemorySegmentImpl {
    @Alias long min;
}

@TargetClass(className = "jdk.internal.foreign.AbstractMemorySegmentImpl")
final class Target_jdk_internal_foreign_AbstractMemorySegmentImpl {
    @Alias long length;
    @Alias boolean readOnly;
}
