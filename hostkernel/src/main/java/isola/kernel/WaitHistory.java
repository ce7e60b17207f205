package isola.kernel;

/**
 * What a machine has learnt from one thread's recent waits, so that it can decide how long the
 * next one spins before it parks (the concurrent machine's spin-then-park policy; other machines
 * leave it alone). Owner: only the thread itself reads or writes it, always outside the kernel
 * lock and never concurrently, so its fields are plain.
 */
public final class WaitHistory {
    /** How long the next spinning wait spins, in ns; 0 until the machine first sets it. */
    public long budget;
    /** Consecutive waits whose spin did not pay off (it parked anyway, or lost its CPU). */
    public int misses;
    /** Waits left that park without spinning, because spins have not been paying off. */
    public int skip;
    /** How many waits the next run of parking waits lasts (0: the shortest). */
    public int backoff;
    /** The budget was raised after the last wait; the next wait tells whether that paid off. */
    public boolean grew;
}
