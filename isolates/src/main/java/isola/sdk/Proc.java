package isola.sdk;

import isola.kernel.Tag;
import java.util.List;

/**
 * The system's process services: {@code proc}, served by init (domains, threads, capabilities,
 * crash injection, shutdown), and {@code supervisor} (restarts). Listings are lines of text.
 */
public final class Proc {
    private Proc() {}

    /** Names of the two built-in services, which no manifest server may provide. */
    public static final String PROC = "proc";
    public static final String SUPERVISOR = "supervisor";

    // proc
    public static final int PS = 1;
    public static final int CAPS = 2;
    public static final int KILL = 3;
    public static final int SHUTDOWN = 4;
    public static final int SERVERS = 5;
    /** A listing of physical memory: free and used frames, and each domain's use and quota. */
    public static final int MEM = 6;
    /** A listing of interrupt lines: vector, deliveries, priority, state, owner. */
    public static final int IRQ = 7;
    // supervisor
    public static final int RESTART = 1;
    public static final int STATUS = 2;

    public static List<String> ps(Sys sys, int proc) {
        return Replies.lines(sys, proc, PS, null, "ps");
    }

    public static List<String> caps(Sys sys, int proc, String domain) {
        return Replies.lines(sys, proc, CAPS, domain, "caps " + domain);
    }

    /** Physical memory: free and used frames, per-domain use (4 KiB frames) and quota. */
    public static List<String> mem(Sys sys, int proc) {
        return Replies.lines(sys, proc, MEM, null, "mem");
    }

    /** Interrupt lines in use (the timer's, and lines with a handler or deliveries). */
    public static List<String> irq(Sys sys, int proc) {
        return Replies.lines(sys, proc, IRQ, null, "irq");
    }

    /** Names of the servers the manifest started. */
    public static List<String> servers(Sys sys, int proc) {
        return Replies.lines(sys, proc, SERVERS, null, "servers");
    }

    /**
     * Crashes {@code server} on purpose and waits (briefly) for its supervisor to restart it;
     * returns what happened: restarted, restarting (a backoff is longer than the wait), or left dead.
     */
    public static String kill(Sys sys, int proc, String server) {
        int len = sys.putString(0, server);
        Replies.check(sys, sys.callRetrying(proc, Tag.of(KILL, len), Sys.RESTART_ATTEMPTS), "kill " + server);
        return sys.string(0);
    }

    /** Stops every server; the system exits with {@code status}. */
    public static void shutdown(Sys sys, int proc, int status) {
        sys.mr(0, status);
        Replies.check(sys, sys.call(proc, Tag.of(SHUTDOWN, 1), Sys.FOREVER), "shutdown");
    }

    /** Restarts {@code server} in a fresh domain; returns a line saying how it went. */
    public static String restart(Sys sys, int supervisor, String server) {
        int len = sys.putString(0, server);
        Replies.check(sys, sys.call(supervisor, Tag.of(RESTART, len), Sys.FOREVER), "restart " + server);
        return sys.string(0);
    }

    public static List<String> supervisorStatus(Sys sys, int supervisor) {
        return Replies.lines(sys, supervisor, STATUS, null, "supervisor status");
    }
}
