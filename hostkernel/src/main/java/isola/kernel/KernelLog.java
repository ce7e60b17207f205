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

    /** Record {@code seq} as it is held, or null if it was overwritten or is not written yet (lock held). */
    Entry entry(long seq) {
        if (seq < first() || seq >= written) {
            return null;
        }
        return new Entry(time(seq), kind(seq), a(seq), b(seq), subject(seq));
    }

    /** One record, copied out from under the lock. */
    record Entry(long time, int kind, long a, long b, Domain subject) {
        /**
         * The record as text, with the kernel's time in ms. Names and causes are read now, racily,
         * from the domain the record is about: which text may, so it is formatted without the lock.
         */
        String text() {
            Domain d = subject;
            String what = switch (kind) {
                case DOMAIN_CREATED -> domainText(d) + " created";
                case DOMAIN_FAULTED -> {
                    Throwable cause = d.lastFault;
                    yield domainText(d) + " faulted in thread " + d.lastFaultThread + " ("
                            + (b == Domain.FAULT_INJECTED ? "injected: " + (cause == null ? "" : cause.getMessage())
                            : cause == null ? "fault" : cause.toString()) + ")";
                }
                case DOMAIN_KILLED -> domainText(d) + " killed" + (b != 0 ? ", to be restarted" : "");
                case ENDPOINT_REBOUND -> "endpoint " + a + " now served by " + domainText(d);
                case RESTART_ABANDONED -> domainText(d) + ": restart abandoned";
                case DOMAIN_RECLAIMED -> domainText(d) + " reclaimed: its id is free";
                default -> "event " + kind + " " + a + " " + b;
            };
            return "[" + time / 1_000_000 + "." + String.format(java.util.Locale.ROOT, "%03d", time / 1000 % 1000)
                    + " ms] " + what;
        }

        private static String domainText(Domain d) {
            return "domain " + d.id + " (" + d.name + ")";
        }
    }
}
