package isola.kernel;

/**
 * Pending timeouts: a binary min-heap of threads keyed by (deadline, insertion order), the
 * index kept in the thread so a wait that ends early is removed in O(log n). Capacity is the
 * thread pool's, so it never allocates.
 */
final class TimerQueue {
    private final Tcb[] heap;
    private int size;
    private long seq;

    TimerQueue(int capacity) {
        heap = new Tcb[capacity];
    }

    boolean isEmpty() {
        return size == 0;
    }

    Tcb peek() {
        return size == 0 ? null : heap[0];
    }

    /** Inserts, or moves if already present. */
    void schedule(Tcb t, long deadline, long gen) {
        if (t.heapIndex >= 0) {
            remove(t);
        }
        t.deadline = deadline;
        t.timerGen = gen;
        t.timerSeq = seq++;
        int i = size++;
        heap[i] = t;
        t.heapIndex = i;
        up(i);
    }

    void remove(Tcb t) {
        int i = t.heapIndex;
        if (i < 0) {
            return;
        }
        Tcb last = heap[--size];
        heap[size] = null;
        t.heapIndex = -1;
        if (i < size) {
            heap[i] = last;
            last.heapIndex = i;
            up(i);
            down(last.heapIndex);
        }
    }

    private static boolean less(Tcb a, Tcb b) {
        return a.deadline < b.deadline || (a.deadline == b.deadline && a.timerSeq < b.timerSeq);
    }

    private void up(int i) {
        Tcb t = heap[i];
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (!less(t, heap[p])) {
                break;
            }
            heap[i] = heap[p];
            heap[i].heapIndex = i;
            i = p;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void down(int i) {
        Tcb t = heap[i];
        for (;;) {
            int c = 2 * i + 1;
            if (c >= size) {
                break;
            }
            if (c + 1 < size && less(heap[c + 1], heap[c])) {
                c++;
            }
            if (!less(heap[c], t)) {
                break;
            }
            heap[i] = heap[c];
            heap[i].heapIndex = i;
            i = c;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
