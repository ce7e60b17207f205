package isola.init;

import java.util.ArrayDeque;

/**
 * Records of init's and the supervisor's on their way to the log server. Neither may wait on the
 * log server: it is one of the servers they restart, and a supervisor blocked writing to the log
 * server it should restart is a hung system. So they append here, which never blocks on another
 * domain, and klogd, a thread of init's that does nothing else, writes the records through.
 * Bounded: while the log server is down or slow the oldest records are dropped, and counted.
 */
final class LogQueue {
    /** Records held for the log server at most (a storm of restarts writes a few each). */
    static final int CAPACITY = 1024;

    /** A record: the slot of init's it goes through (which badge, so which source), its level and text. */
    record Entry(int slot, int level, String text) {}

    private final ArrayDeque<Entry> entries = new ArrayDeque<>();
    private long dropped;

    synchronized void add(int slot, int level, String text) {
        if (entries.size() == CAPACITY) {
            entries.pollFirst();
            dropped++;
        }
        entries.addLast(new Entry(slot, level, text));
    }

    /** The oldest record, or null if none waits. */
    synchronized Entry poll() {
        return entries.pollFirst();
    }

    /** Records dropped since the last call. */
    synchronized long takeDropped() {
        long d = dropped;
        dropped = 0;
        return d;
    }

    synchronized boolean isEmpty() {
        return entries.isEmpty();
    }
}
