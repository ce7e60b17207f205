package isola.kernel;

import java.util.function.IntFunction;

/**
 * A fixed-capacity pool of kernel objects of one type, all created up front. Allocation pops a
 * free list and fails (returns null) when the pool is empty: the kernel never grows at run time.
 */
final class ObjectPool<T extends KernelObject> {
    private final T[] objects;
    private final int[] free;
    private int freeCount;
    private final IntFunction<T> factory;

    @SuppressWarnings("unchecked")
    ObjectPool(int capacity, IntFunction<T> factory) {
        this.factory = factory;
        objects = (T[]) new KernelObject[capacity];
        free = new int[capacity];
        for (int i = 0; i < capacity; i++) {
            objects[i] = factory.apply(i);
            free[i] = capacity - 1 - i;
        }
        freeCount = capacity;
    }

    T allocate() {
        if (freeCount == 0) {
            return null;
        }
        T o = objects[free[--freeCount]];
        o.live = true;
        o.capCount = 0;
        return o;
    }

    void release(T o) {
        o.live = false;
        o.owner = null;
        free[freeCount++] = o.id;
    }

    /**
     * Frees {@code o}'s id with a fresh object behind it: {@code o} itself is never handed out
     * again, so whatever still refers to it (the host, a log record, a thread that raced its
     * death) sees it as it died, never as the next object with its id.
     */
    void retire(T o) {
        o.live = false;
        objects[o.id] = factory.apply(o.id);
        free[freeCount++] = o.id;
    }

    T get(int id) {
        return objects[id];
    }

    int capacity() {
        return objects.length;
    }

    int inUse() {
        return objects.length - freeCount;
    }
}
