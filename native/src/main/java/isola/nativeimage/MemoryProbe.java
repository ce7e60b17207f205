package isola.nativeimage;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Which memory-segment access paths work in this executable (a build without the foreign API). */
@Command(name = "memory-probe", hidden = true)
final class MemoryProbe implements Callable<Integer> {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    private static final VarHandle LONG_EXACT = ValueLayout.JAVA_LONG.varHandle().withInvokeExactBehavior();

    interface Probe {
        long run(MemorySegment s) throws Throwable;
    }

    private static void probe(String name, MemorySegment s, Probe p) {
        try {
            System.out.println(name + ": OK " + p.run(s));
        } catch (Throwable e) {
            System.out.println(name + ": FAIL " + e);
        }
    }

    @Override
    public Integer call() {
        MemorySegment s = Arena.global().allocate(4096, 64);
        probe("varhandle set/get", s, m -> { LONG.set(m, 8L, 42L); return (long) LONG.get(m, 8L); });
        probe("varhandle exact set/get", s, m -> { LONG_EXACT.set(m, 8L, 43L); return (long) LONG_EXACT.get(m, 8L); });
        probe("varhandle cas", s, m -> LONG_EXACT.compareAndSet(m, 8L, 43L, 44L) ? 1 : 0);
        probe("varhandle acquire", s, m -> (long) LONG_EXACT.getAcquire(m, 8L));
        probe("segment get", s, m -> m.get(ValueLayout.JAVA_LONG, 8));
        probe("segment copy", s, m -> { MemorySegment.copy(m, 0, m, 64, 64); return 0; });
        probe("segment copy to array", s, m -> { long[] a = new long[4]; MemorySegment.copy(m, ValueLayout.JAVA_LONG, 0, a, 0, 4); return a[1]; });
        probe("segment fill", s, m -> { m.asSlice(128, 64).fill((byte) 1); return 0; });
        probe("ofAddress reinterpret", s, m -> (long) LONG_EXACT.get(MemorySegment.ofAddress(m.address()).reinterpret(64), 8L));
        probe("word read", s, m -> org.graalvm.word.WordFactory.<org.graalvm.word.Pointer>pointer(m.address()).readLong(8));
        return 0;
    }
}
