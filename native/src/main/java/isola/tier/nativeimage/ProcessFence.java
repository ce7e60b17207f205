package isola.tier.nativeimage;

import org.graalvm.nativeimage.c.function.CFunction;

/**
 * A memory fence on every CPU running a thread of this process, so that a rare operation
 * (tearing an isolate down) can pair with plain, fence-free accesses on a hot path (entering
 * it): the slow side of an asymmetric Dekker handshake. Linux's membarrier(2) does it with an
 * interrupt to each such CPU; where that is missing, changing the protection of a page the
 * process has touched does it through the TLB shoot-down (HotSpot's FlushProcessWriteBuffers).
 * Implemented in {@code native/src/main/c/isola.c}; takes about a microsecond.
 */
final class ProcessFence {
    private ProcessFence() {}

    static void run() {
        if (isola_process_fence() != 0) {
            throw new IllegalStateException("no process-wide memory fence: membarrier(2) and mprotect(2) both failed");
        }
    }

    @CFunction
    private static native int isola_process_fence();
}
