package isola.kernel;

/**
 * A capability: an object, the rights over it, and a badge. Immutable, so a slot is changed by
 * swapping one reference and a reader that is not under the kernel lock (the IPC fast path)
 * always sees a consistent capability.
 */
public final class Cap {
    /** Left in a slot whose capability was revoked, so its holder gets E_REVOKED, not E_EMPTY_SLOT. */
    static final Cap REVOKED = new Cap(null, 0, 0, 0);
    static final int REVOKED_TYPE = 0;

    public final KernelObject object;
    /** Copied from the object so the fast path compares an int without another load. */
    public final int type;
    public final int rights;
    public final long badge;

    private Cap(KernelObject object, int type, int rights, long badge) {
        this.object = object;
        this.type = type;
        this.rights = rights;
        this.badge = badge;
    }

    static Cap of(KernelObject object, int rights, long badge) {
        return new Cap(object, object.type, rights, badge);
    }

    public boolean isRevoked() {
        return this == REVOKED;
    }

    @Override
    public String toString() {
        if (this == REVOKED) {
            return "revoked";
        }
        return object + " " + Rights.toString(rights) + (badge != 0 ? " badge=" + badge : "");
    }
}
