package isola.tier.nativeimage;

import isola.kernel.KilledError;
import jdk.internal.misc.Unsafe;
import org.graalvm.nativeimage.Threading;

/**
 * Ends the code a killed server's isolate still runs, even a loop that makes no system call:
 * a recurring callback (SubstrateVM runs it at a safepoint check of the thread, which every
 * loop has, about every {@link #INTERVAL_MS} ms) on each thread that enters the server's
 * isolate. It reads the isolate's kill word, which the kernel's side sets as it tears the
 * isolate down ({@link ServerIsolate#tearDown}), and once it is set throws the
 * {@link KilledError} the tier already uses to unwind a killed domain's thread: a passive call
 * then fails with E_RESTARTED, an active thread ends. Its isolate is dead, so nothing it leaves
 * half done matters. The callback must not allocate (SubstrateVM's rule): it reads a word and
 * throws a preallocated error.
 *
 * <p>The stop throws only while its thread runs the server's own code: each thread has its own
 * callback, {@link #armed} inside an entry's try block ({@link ServerEntry}) and disarmed across
 * each system call ({@link IsolateGate}). Elsewhere (an entry's prologue and epilogue, the
 * transitions into and out of the isolate) nothing could catch the error, and one escaping an
 * entry point aborts the process: a call let in just before the isolate closed, preempted there
 * until the stop was set, once met it in its entry's transition (the native fault storm).
 *
 * <p>Cost: a thread with a callback takes the safepoint slow path about once per interval, and
 * the image is built with {@code -H:+SupportRecurringCallback}. {@code ISOLA_NATIVE_RUNAWAY_STOP=off}
 * in the environment registers no callback, to measure what it costs.
 */
final class RunawayStop implements Threading.RecurringCallback {
    static final long INTERVAL_MS = 50;
    private static final Unsafe U = Unsafe.getUnsafe();
    /** This isolate's kill word (unmanaged memory the kernel's side owns; 0 until the server starts). */
    private static volatile long killWord;
    private static final boolean OFF = "off".equals(System.getenv("ISOLA_NATIVE_RUNAWAY_STOP"));

    /**
     * 1 while this callback's thread runs the server's code, where the stop may throw: written
     * and read only by that thread (the callback runs on it), so a plain field.
     */
    private int armed;

    private RunawayStop() {}

    /** Registers a callback on the current thread, which has just entered this isolate for a new kernel thread. */
    static RunawayStop register() {
        RunawayStop stop = new RunawayStop();
        if (!OFF) {
            Threading.registerRecurringCallback(INTERVAL_MS, java.util.concurrent.TimeUnit.MILLISECONDS, stop);
        }
        return stop;
    }

    /** Arms the stop on its thread (entering the server's code); answers what to {@link #restore} after. */
    int arm() {
        int was = armed;
        armed = 1;
        return was;
    }

    /** Disarms the stop on its thread (leaving the server's code: a system call); answers what to {@link #restore} after. */
    int disarm() {
        int was = armed;
        armed = 0;
        return was;
    }

    void restore(int was) {
        armed = was;
    }

    /**
     * Where this isolate's kill word is: told at the server's start, before the server's code
     * runs. The isolate's System.err from then on drops what is written once the word is set:
     * code the stop unwinds may catch its error and print it (Log4j's status logger does, when
     * the log server is killed while configuring Log4j), and a dead server's last words are not
     * the user's business. The kernel's side, which reports faults, has its own System.err.
     */
    static void watch(long word) {
        killWord = word;
        System.setErr(new java.io.PrintStream(new QuietOnceStopped(new java.io.FileOutputStream(java.io.FileDescriptor.err)), true));
    }

    /** Whether this isolate's kill word is set: it is being torn down, and what runs in it is stopped. */
    static boolean stopped() {
        long w = killWord;
        return w != 0 && U.getIntVolatile(null, w) != 0;
    }

    /** Writes through to {@code out} until the isolate's threads are stopped. */
    private static final class QuietOnceStopped extends java.io.FilterOutputStream {
        QuietOnceStopped(java.io.OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws java.io.IOException {
            if (!stopped()) {
                out.write(b);
            }
        }

        @Override
        public void write(byte[] b, int off, int len) throws java.io.IOException {
            if (!stopped()) {
                out.write(b, off, len);
            }
        }
    }

    @Override
    public void run(Threading.RecurringCallbackAccess access) {
        if (armed != 0 && stopped()) {
            access.throwException(KilledError.INSTANCE);
        }
    }
}
