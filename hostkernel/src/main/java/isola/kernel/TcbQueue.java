package isola.kernel;

/**
 * Intrusive doubly-linked queue of threads (links live in the {@link Tcb}, so queueing
 * allocates nothing). Priority order: highest first, FIFO among equals.
 */
final class TcbQueue {
    Tcb head;
    Tcb tail;
    int size;

    boolean isEmpty() {
        return head == null;
    }

    void addLast(Tcb t) {
        t.queue = this;
        t.qNext = null;
        t.qPrev = tail;
        if (tail != null) {
            tail.qNext = t;
        } else {
            head = t;
        }
        tail = t;
        size++;
    }

    void addFirst(Tcb t) {
        t.queue = this;
        t.qPrev = null;
        t.qNext = head;
        if (head != null) {
            head.qPrev = t;
        } else {
            tail = t;
        }
        head = t;
        size++;
    }

    /** Inserts after the last thread of equal or higher priority. O(n); endpoint queues are short. */
    void addByPriority(Tcb t) {
        Tcb after = tail;
        while (after != null && after.priority < t.priority) {
            after = after.qPrev;
        }
        if (after == null) {
            addFirst(t);
            return;
        }
        t.queue = this;
        t.qPrev = after;
        t.qNext = after.qNext;
        if (after.qNext != null) {
            after.qNext.qPrev = t;
        } else {
            tail = t;
        }
        after.qNext = t;
        size++;
    }

    Tcb pollFirst() {
        Tcb t = head;
        if (t != null) {
            remove(t);
        }
        return t;
    }

    void remove(Tcb t) {
        if (t.qPrev != null) {
            t.qPrev.qNext = t.qNext;
        } else {
            head = t.qNext;
        }
        if (t.qNext != null) {
            t.qNext.qPrev = t.qPrev;
        } else {
            tail = t.qPrev;
        }
        t.qNext = null;
        t.qPrev = null;
        t.queue = null;
        size--;
    }
}
