package isola.kernel;

/**
 * Ready queues for 256 priorities with a bitmap of non-empty queues, so enqueue, dequeue and
 * "highest ready" are O(1). Round robin within a priority: a thread whose slice ran out, or
 * that yields, goes to the tail; a preempted thread keeps its place at the head.
 */
final class Scheduler {
    static final int PRIORITIES = 256;
    private final TcbQueue[] queues = new TcbQueue[PRIORITIES];
    private final long[] bitmap = new long[PRIORITIES / 64];

    Scheduler() {
        for (int i = 0; i < PRIORITIES; i++) {
            queues[i] = new TcbQueue();
        }
    }

    void enqueueTail(Tcb t) {
        queues[t.priority].addLast(t);
        bitmap[t.priority >>> 6] |= 1L << (t.priority & 63);
    }

    void enqueueHead(Tcb t) {
        queues[t.priority].addFirst(t);
        bitmap[t.priority >>> 6] |= 1L << (t.priority & 63);
    }

    void remove(Tcb t) {
        TcbQueue q = queues[t.priority];
        q.remove(t);
        if (q.isEmpty()) {
            bitmap[t.priority >>> 6] &= ~(1L << (t.priority & 63));
        }
    }

    boolean isQueued(Tcb t) {
        return t.queue == queues[t.priority];
    }

    /** Highest priority with a ready thread, or -1. */
    int highestPriority() {
        for (int w = bitmap.length - 1; w >= 0; w--) {
            long b = bitmap[w];
            if (b != 0) {
                return (w << 6) + 63 - Long.numberOfLeadingZeros(b);
            }
        }
        return -1;
    }

    /** Removes and returns the head of the highest non-empty queue, or null. */
    Tcb pollHighest() {
        int p = highestPriority();
        if (p < 0) {
            return null;
        }
        Tcb t = queues[p].head;
        remove(t);
        return t;
    }
}
