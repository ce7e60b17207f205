package isola.kernel;

/**
 * The reading side of the kernel log ({@link KernelLog}), for init's klogd, which drains it into
 * the log server, and for tests: records by sequence number, and a notification signalled on
 * each new record. Every read takes the kernel lock; records are formatted outside it.
 */
public final class KernelLogReader {
    private final KernelLock lock;
    private final KernelLog klog;

    KernelLogReader(KernelLock lock, KernelLog klog) {
        this.lock = lock;
        this.klog = klog;
    }

    /** Signals {@code n} whenever the kernel log gets a record (boot interface; null: nobody). */
    public void setReader(Notification n) {
        lock.run(() -> klog.reader = n);
    }

    /** The sequence number the next record will get. */
    public long written() {
        return lock.get(klog::written);
    }

    /** The oldest record still held. */
    public long first() {
        return lock.get(klog::first);
    }

    /**
     * Record {@code seq} as text (with the kernel's time in ms), or null if it was overwritten or
     * is not written yet. Names are read now, from the domain the record is about.
     */
    public String record(long seq) {
        KernelLog.Entry e = lock.get(() -> klog.entry(seq));
        return e == null ? null : e.text(); // formatted outside the lock
    }
}
