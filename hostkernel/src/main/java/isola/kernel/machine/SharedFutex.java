package isola.kernel.machine;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Linux futexes on a 32-bit word in memory shared between processes (the hosted RAM file, a
 * UTCB), through Panama's {@code syscall}: how a thread of one process sleeps until a thread of
 * another writes the word and wakes it. Never {@code FUTEX_PRIVATE_FLAG}: a private futex is
 * keyed by the address space and would not see the other process's wake.
 *
 * <p>{@link #wake} is stateless. A thread that waits owns a {@link Waiter}, whose timeout and
 * errno buffers are allocated once, so waiting allocates nothing. Neither call is
 * {@code critical}: a blocking call must let the JVM reach a safepoint.
 */
public final class SharedFutex {
    /** {@code SYS_futex} on x86-64. */
    private static final long SYS_FUTEX = 202;
    private static final long FUTEX_WAIT = 0, FUTEX_WAKE = 1;
    /** errno values a wait reports. */
    public static final int EAGAIN = 11, EINTR = 4, ETIMEDOUT = 110;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    /**
     * {@code long syscall(long number, ...)}: every argument passed as a long, as the kernel
     * reads them, addresses included, so that a call makes no segment object.
     */
    private static final FunctionDescriptor SIX_ARGS = FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);
    private static final MethodHandle SYSCALL;
    private static final MethodHandle SYSCALL_ERRNO;

    static {
        MemorySegment symbol = LINKER.defaultLookup().find("syscall")
                .orElseThrow(() -> new IllegalStateException("libc has no syscall()"));
        SYSCALL = LINKER.downcallHandle(symbol, SIX_ARGS, Linker.Option.firstVariadicArg(1));
        SYSCALL_ERRNO = LINKER.downcallHandle(symbol, SIX_ARGS, Linker.Option.firstVariadicArg(1),
                Linker.Option.captureCallState("errno"));
    }

    private SharedFutex() {
    }

    /**
     * Wakes up to {@code count} threads, of any process, waiting on the word at {@code offset}
     * of {@code memory}; returns how many it woke (0 when none waited: a wake is never stored).
     */
    public static int wake(MemorySegment memory, long offset, int count) {
        checkWord(memory, offset);
        try {
            long r = (long) SYSCALL.invokeExact(SYS_FUTEX, memory.address() + offset, FUTEX_WAKE, (long) count,
                    0L, 0L, 0L);
            if (r < 0) {
                // checkWord ruled out EINVAL (alignment); what is left is EFAULT. Reading errno would
                // need a call-state buffer per wake, which a stateless wake does not have.
                throw new IllegalStateException("futex wake at offset " + offset + " of " + memory
                        + " failed: the word is not mapped in this process");
            }
            return (int) r;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static void checkWord(MemorySegment memory, long offset) {
        if (!memory.isNative()) {
            throw new IllegalArgumentException("a futex word must be in native (mapped) memory, not " + memory);
        }
        if (((memory.address() + offset) & 3) != 0 || offset < 0 || offset + 4 > memory.byteSize()) {
            throw new IllegalArgumentException("futex word at offset " + offset + " is not an aligned int inside the "
                    + memory.byteSize() + "-byte segment");
        }
    }

    /** One thread's way to wait: its timeout and errno buffers, reused by every wait. */
    public static final class Waiter {
        private final MemorySegment timespec;
        private final MemorySegment callState;

        /** A waiter whose buffers live as long as it is reachable. */
        public Waiter() {
            Arena arena = Arena.ofAuto();
            this.timespec = arena.allocate(16, 8);
            this.callState = arena.allocate(CALL_STATE);
        }

        /**
         * Sleeps while the word at {@code offset} of {@code memory} holds {@code expected}, at
         * most {@code timeoutNanos} (negative: no bound). Returns 0 when woken (or spuriously:
         * the caller re-reads the word), {@link #EAGAIN} if the word no longer held
         * {@code expected}, {@link #ETIMEDOUT} or {@link #EINTR}.
         */
        public int await(MemorySegment memory, long offset, int expected, long timeoutNanos) {
            checkWord(memory, offset);
            long timeout = 0; // NULL: no bound
            if (timeoutNanos >= 0) {
                timespec.set(ValueLayout.JAVA_LONG, 0, timeoutNanos / 1_000_000_000L);
                timespec.set(ValueLayout.JAVA_LONG, 8, timeoutNanos % 1_000_000_000L);
                timeout = timespec.address();
            }
            try {
                long r = (long) SYSCALL_ERRNO.invokeExact(callState, SYS_FUTEX, memory.address() + offset, FUTEX_WAIT,
                        (long) expected, timeout, 0L, 0L);
                if (r == 0) {
                    return 0;
                }
                int errno = (int) ERRNO.get(callState, 0L);
                if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR) {
                    return errno;
                }
                throw new IllegalStateException("futex wait at offset " + offset + " failed: errno " + errno);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        }
    }
}
