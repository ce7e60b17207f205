package isola.kernel;

/**
 * Base of every kernel object. Objects are preallocated in fixed-size pools
 * ({@link ObjectPool}); {@code id} is the index in the pool, stable for the object's life.
 */
public abstract class KernelObject {
    public final int type;
    final int id;
    /** Capabilities naming this object; the last one deleted destroys it (endpoints, notifications). */
    int capCount;
    boolean live;
    /** Domain whose quota this object is charged to; null for kernel-owned objects. */
    Domain owner;

    KernelObject(int type, int id) {
        this.type = type;
        this.id = id;
    }

    public final int id() {
        return id;
    }

    public final boolean isLive() {
        return live;
    }

    @Override
    public String toString() {
        return ObjectType.name(type) + "#" + id;
    }
}
