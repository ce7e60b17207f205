package isola.kernel;

/**
 * The kernel's log: a ring of the last {@link #CAPACITY} lifecycle events (domains created,
 * faulted, killed, reclaimed; endpoints rebound), like Linux's printk buffer. Recording is four stores
 * under the kernel lock and never allocates; the oldest record is overwritten. A reader (init's
 * klogd) drains it by sequence number and is woken through a notification.
 */
final class KernelLog {
    static final int CAPACITY = 512;

    static final int DOMAIN_CREATED = 1;
    static final int DOMAIN_FAULTED = 2;
    static final int DOMAIN_KILLED = 3;
    static final int ENDPOINT_REBOUND = 4;
    static final int RESTART_ABANDONED = 5;

    static final int DOMAIN_RECLAIMED = 6;

    private final long[] records = new long[CAPACITY * 4];
    /** The domain each record is about (null: none), as it was: ids are reused, domains not. */
    private final Domain[] subjects = new Domain[CAPACITY];
    /** Records ever written; the ring holds the last CAPACITY. */
    private long written;
    /** Times are kept relative to the kernel's start. */
    final long origin;
    Notification reader;

    KernelLog(long origin) {
        this.origin = origin;
    }

    /** Records an event (lock held). */
    void record(long time, int kind, long a, long b, Domain subject) {
        subjects[(int) (written % CAPACITY)] = subject;
        int i = (int) (written % CAPACITY) * 4;
        records[i] = time - origin;
        records[i + 1] = kind;
        records[i + 2] = a;
        records[i + 3] = b;
        written++;
    }

    long written() {
        return written;
    }

    /** The oldest sequence number still held. */
    long first() {
        return Math.max(0, written - CAPACITY);
    }

    long time(long seq) {
        return records[slot(seq)];
    }

    int kind(long seq) {
        return (int) records[slot(seq) + 1];
    }

    long a(long seq) {
        return records[slot(seq) + 2];
    }

    long b(long seq) {
        return records[slot(seq) + 3];
    }

    Domain subject(long seq) {
        return subjects[(int) (seq % CAPACITY)];
    }

    private static int slot(long seq) {
        return (int) (seq % CAPACITY) * 4;
    }
}
