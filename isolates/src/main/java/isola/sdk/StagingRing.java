package isola.sdk;

/**
 * The bookkeeping of the block client's staging area (no memory of its own): which blocks each
 * in-flight request holds, so that none is handed out again before the driver has performed
 * the request that holds it. The blocks form a ring, reserved at the head and freed at the
 * tail in request order; a span that would run past the end starts over at block 0, and the
 * blocks it skipped are charged to it. A request's share is kept by its ring slot
 * ({@code id % slots}), so a request may take a slot only once the one that used it last has
 * been freed here, not merely completed by the driver: {@link #slotFree}. Used by one thread.
 */
final class StagingRing {
    private final int blocks;
    /** Blocks each unfreed request holds (skipped ones included), by its slot. */
    private final int[] held;
    /** Requests submitted, and how many of them have had their blocks freed (counts). */
    private long submitted;
    private long freed;
    /** The next block to hand out, and how many are held. */
    private int head;
    private int used;
    /** Blocks reserved for the next request to be submitted, and the head before them. */
    private int pending;
    private int pendingFrom;

    /** A ring of {@code blocks} for a queue of {@code slots} descriptors, whose count is at {@code submitted}. */
    StagingRing(int blocks, int slots, long submitted) {
        this.blocks = blocks;
        this.held = new int[slots];
        this.submitted = submitted;
        this.freed = submitted;
    }

    /**
     * Reserves {@code n} contiguous blocks for the next request; returns the first, or -1 if
     * they are not free yet (wait for a completion, {@link #completed}, and try again). A
     * reservation whose request was never submitted (its thread unwound in between) is taken
     * back first: no driver will read its blocks.
     */
    int reserve(int n) {
        if (n <= 0 || n > blocks) {
            throw new IllegalArgumentException("a reservation of " + n + " staging blocks; the ring has " + blocks);
        }
        if (pending > 0) {
            head = pendingFrom;
            used -= pending;
            pending = 0;
            if (used == 0) {
                head = 0;
            }
        }
        pendingFrom = head;
        boolean wrap = head + n > blocks;
        int skipped = wrap ? blocks - head : 0; // 0 too when the head is at the very end
        if (used + skipped + n > blocks) {
            return -1;
        }
        int at = wrap ? 0 : head;
        head = at + n;
        used += skipped + n;
        pending += skipped + n;
        return at;
    }

    /** True if the next request may take its slot: the slot's last request has been freed. */
    boolean slotFree() {
        return submitted - freed < held.length;
    }

    /** The next request's id (the count of requests submitted before it). */
    long nextId() {
        return submitted;
    }

    /** Requests whose blocks are free again (a count). */
    long freed() {
        return freed;
    }

    /** The next request is submitted: it holds what was reserved since the last one. */
    void submitted() {
        if (!slotFree()) {
            throw new IllegalStateException("request " + submitted + " would take the slot of request "
                    + (submitted - held.length) + ", whose staging blocks are not freed yet");
        }
        held[(int) (submitted % held.length)] = pending;
        pending = 0;
        submitted++;
    }

    /** The driver has completed the first {@code done} requests: their blocks are free again. */
    void completed(long done) {
        while (freed < done && freed < submitted) {
            used -= held[(int) (freed % held.length)];
            freed++;
        }
        if (used == 0) {
            head = 0;
        }
    }

    /** Blocks held by unfreed requests and the pending reservation. */
    int used() {
        return used;
    }
}
