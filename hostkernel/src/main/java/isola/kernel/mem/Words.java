package isola.kernel.mem;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Word accesses to unmanaged memory (UTCBs, physical memory, shared buffers), with explicit
 * memory ordering: the one place the kernel and the SDK read or write a memory segment by
 * offset. Offsets are checked against the segment like any segment access.
 *
 * <p>Why one place: on HotSpot these are the FFM API's VarHandles, intrinsified to plain loads
 * and stores. A native image built from the Maven Central jars has no FFM support for VarHandle
 * access, so the native build substitutes this class with raw address accesses
 * ({@code isola.kernel.mem.nativeimage.Target_isola_kernel_mem_Words}, in both images), bounds
 * checks kept.
 */
public final class Words {
    private Words() {}

    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle().withInvokeExactBehavior();
    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle().withInvokeExactBehavior();
    private static final VarHandle SHORT = ValueLayout.JAVA_SHORT.varHandle().withInvokeExactBehavior();
    private static final VarHandle BYTE = ValueLayout.JAVA_BYTE.varHandle().withInvokeExactBehavior();

    public static long get(MemorySegment s, long offset) {
        return (long) LONG.get(s, offset);
    }

    public static void set(MemorySegment s, long offset, long value) {
        LONG.set(s, offset, value);
    }

    public static long getVolatile(MemorySegment s, long offset) {
        return (long) LONG.getVolatile(s, offset);
    }

    public static void setVolatile(MemorySegment s, long offset, long value) {
        LONG.setVolatile(s, offset, value);
    }

    public static long getAcquire(MemorySegment s, long offset) {
        return (long) LONG.getAcquire(s, offset);
    }

    public static void setRelease(MemorySegment s, long offset, long value) {
        LONG.setRelease(s, offset, value);
    }

    public static boolean compareAndSet(MemorySegment s, long offset, long expected, long value) {
        return LONG.compareAndSet(s, offset, expected, value);
    }

    public static long getAndSet(MemorySegment s, long offset, long value) {
        return (long) LONG.getAndSet(s, offset, value);
    }

    public static long getAndAdd(MemorySegment s, long offset, long delta) {
        return (long) LONG.getAndAdd(s, offset, delta);
    }

    public static int getInt(MemorySegment s, long offset) {
        return (int) INT.get(s, offset);
    }

    public static void setInt(MemorySegment s, long offset, int value) {
        INT.set(s, offset, value);
    }

    public static short getShort(MemorySegment s, long offset) {
        return (short) SHORT.get(s, offset);
    }

    public static void setShort(MemorySegment s, long offset, short value) {
        SHORT.set(s, offset, value);
    }

    public static byte getByte(MemorySegment s, long offset) {
        return (byte) BYTE.get(s, offset);
    }

    public static void setByte(MemorySegment s, long offset, byte value) {
        BYTE.set(s, offset, value);
    }
}
