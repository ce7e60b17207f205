package isola.kernel.mem;

/**
 * A buddy allocator of physical frames (4 KiB), in blocks of 2^order frames, order 0 (4 KiB)
 * to {@link #MAX_ORDER} (1 GiB), each block aligned to its size, as the x86 page sizes need.
 * Free blocks sit on one list per order, linked through arrays indexed by frame number, so
 * nothing is allocated after construction. Freeing a block merges it with its buddy while the
 * buddy is free.
 *
 * <p>Single frames go through a small stack of recently freed ones first, like Linux's per-CPU
 * page lists: a frame freed and allocated again soon needs no splitting and merging.
 *
 * <p>Not thread-safe: the kernel calls it under its lock. Errors are exceptions naming the
 * bad address; running out is a -1 result, not an exception.
 */
public final class FrameAllocator {
    public static final int MAX_ORDER = 18;
    private static final int NONE = -1;
    /** Frames the order-0 stack holds at most, and how many it moves to or from the lists at once. */
    static final int HOT_CAPACITY = 64;
    static final int HOT_BATCH = 16;

    private final int frames;
    private final long base;
    private final int[] head = new int[MAX_ORDER + 1];
    private final int[] next;
    private final int[] prev;
    /** Order of the free block this frame heads, else NONE. */
    private final byte[] freeOrder;
    /** Order + 1 of the allocated block this frame heads, else 0. */
    private final byte[] allocated;
    private final int[] hot = new int[HOT_CAPACITY];
    private int hotCount;
    private long freeFrames;

    /**
     * Manages the frames of {@code [base, base + bytes)}; {@code base} is frame-aligned, and
     * blocks are aligned to their size relative to physical address 0.
     */
    public FrameAllocator(long base, long bytes) {
        if ((base & (PhysicalMemory.FRAME - 1)) != 0 || bytes <= 0 || (bytes & (PhysicalMemory.FRAME - 1)) != 0
                || ((base + bytes) >>> PhysicalMemory.FRAME_SHIFT) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("frame allocator over [" + Long.toHexString(base) + ", +"
                    + Long.toHexString(bytes) + "): base and size must be whole frames");
        }
        this.base = base;
        int first = (int) (base >>> PhysicalMemory.FRAME_SHIFT);
        this.frames = first + (int) (bytes >>> PhysicalMemory.FRAME_SHIFT);
        next = new int[frames];
        prev = new int[frames];
        freeOrder = new byte[frames];
        allocated = new byte[frames];
        java.util.Arrays.fill(head, NONE);
        java.util.Arrays.fill(freeOrder, (byte) NONE);
        for (int f = first; f < frames; ) {
            int order = 0;
            while (order < MAX_ORDER && (f & ((2 << order) - 1)) == 0 && f + (2 << order) <= frames) {
                order++;
            }
            push(f, order);
            freeFrames += 1L << order;
            f += 1 << order;
        }
    }

    /** Physical address of a free block of {@code 2^order} frames, aligned to its size; -1 if none. */
    public long allocate(int order) {
        if (order < 0 || order > MAX_ORDER) {
            throw new IllegalArgumentException("frame block order " + order + " is outside 0.." + MAX_ORDER);
        }
        int f;
        if (order == 0) {
            if (hotCount == 0 && !refillHot()) {
                return -1;
            }
            f = hot[--hotCount];
        } else {
            f = take(order);
            if (f == NONE && hotCount > 0) {
                drainHot(); // cached single frames may complete the block
                f = take(order);
            }
            if (f == NONE) {
                return -1;
            }
        }
        allocated[f] = (byte) (order + 1);
        freeFrames -= 1L << order;
        return (long) f << PhysicalMemory.FRAME_SHIFT;
    }

    /** Frees the block at {@code pa} that {@link #allocate} returned for {@code order}. */
    public void free(long pa, int order) {
        long fl = pa >>> PhysicalMemory.FRAME_SHIFT;
        if ((pa & (PhysicalMemory.FRAME - 1)) != 0 || pa < base || fl >= frames || allocated[(int) fl] != order + 1) {
            throw new IllegalArgumentException("free of frame block " + Long.toHexString(pa) + " order " + order
                    + ": not an allocated block of that order");
        }
        int f = (int) fl;
        allocated[f] = 0;
        freeFrames += 1L << order;
        if (order == 0) {
            if (hotCount == HOT_CAPACITY) {
                for (int i = 0; i < HOT_BATCH; i++) {
                    merge(hot[--hotCount], 0);
                }
            }
            hot[hotCount++] = f;
        } else {
            merge(f, order);
        }
    }

    /** Order of the allocated block at {@code pa}, or -1 if no allocated block starts there. */
    public int orderOf(long pa) {
        long f = pa >>> PhysicalMemory.FRAME_SHIFT;
        if ((pa & (PhysicalMemory.FRAME - 1)) != 0 || f >= frames) {
            return -1;
        }
        return allocated[(int) f] - 1;
    }

    public long freeFrames() {
        return freeFrames;
    }

    public long totalFrames() {
        return frames - (base >>> PhysicalMemory.FRAME_SHIFT);
    }

    /** Largest block order that could be allocated now, or -1. */
    public int largestFreeOrder() {
        drainHot();
        for (int o = MAX_ORDER; o >= 0; o--) {
            if (head[o] != NONE) {
                return o;
            }
        }
        return -1;
    }

    private void drainHot() {
        while (hotCount > 0) {
            merge(hot[--hotCount], 0);
        }
    }

    private boolean refillHot() {
        while (hotCount < HOT_BATCH) {
            int f = take(0);
            if (f == NONE) {
                break;
            }
            hot[hotCount++] = f;
        }
        return hotCount > 0;
    }

    /** Unlinks a free block of exactly {@code order}, splitting a larger one if needed. */
    private int take(int order) {
        int o = order;
        while (o <= MAX_ORDER && head[o] == NONE) {
            o++;
        }
        if (o > MAX_ORDER) {
            return NONE;
        }
        int f = head[o];
        unlink(f, o);
        while (o > order) { // keep the lower half, free the upper
            o--;
            push(f + (1 << o), o);
        }
        return f;
    }

    private void merge(int f, int order) {
        while (order < MAX_ORDER) {
            int buddy = f ^ (1 << order);
            if (buddy >= frames || freeOrder[buddy] != order) {
                break;
            }
            unlink(buddy, order);
            f &= ~(1 << order);
            order++;
        }
        push(f, order);
    }

    private void push(int f, int order) {
        int h = head[order];
        next[f] = h;
        prev[f] = NONE;
        if (h != NONE) {
            prev[h] = f;
        }
        head[order] = f;
        freeOrder[f] = (byte) order;
    }

    private void unlink(int f, int order) {
        int n = next[f], p = prev[f];
        if (p != NONE) {
            next[p] = n;
        } else {
            head[order] = n;
        }
        if (n != NONE) {
            prev[n] = p;
        }
        freeOrder[f] = NONE;
    }
}
