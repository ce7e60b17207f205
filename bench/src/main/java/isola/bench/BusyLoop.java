package isola.bench;

import java.io.IOException;

/**
 * One busy OS process for {@code --load} ({@link LoadProcesses}): a thread that never stops
 * computing, and a main thread that reads standard input until it closes. The parent holds the
 * other end of that pipe, so the process ends when the parent closes it or dies in any way
 * (even SIGKILL), and a crashed benchmark never leaves a core busy behind it.
 */
public final class BusyLoop {
    private BusyLoop() {}

    /** The line the process prints once its busy thread runs. */
    static final String READY = "busy";

    /** Written by the busy thread now and then, so the JIT cannot drop the loop's work. */
    static volatile long sink;

    public static void main(String[] args) throws IOException {
        Thread busy = new Thread(BusyLoop::spin, "busy");
        busy.setDaemon(true);
        busy.start();
        System.out.println(READY);
        System.out.flush();
        while (System.in.read() >= 0) {
            // nothing is sent: only end of input matters
        }
        Runtime.getRuntime().halt(0); // end of input: the parent is gone or done
    }

    /** A plain integer loop: it occupies a CPU without touching memory or making system calls. */
    private static void spin() {
        long x = 1;
        for (long i = 0; ; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            if ((i & 0xFFFFFF) == 0) {
                sink = x;
            }
        }
    }
}
