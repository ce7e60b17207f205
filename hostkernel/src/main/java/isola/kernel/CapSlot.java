package isola.kernel;

/**
 * One slot of a capability space, and its node in the derivation tree. A copy, mint or
 * transfer makes the new capability a child of its source; revoke deletes every descendant.
 * The tree links change only under the kernel lock; {@link #cap} is also read without it.
 */
public final class CapSlot {
    public final CSpace cspace;
    public final int index;
    volatile Cap cap;

    CapSlot parent;
    CapSlot firstChild;
    CapSlot nextSibling;
    CapSlot prevSibling;

    CapSlot(CSpace cspace, int index) {
        this.cspace = cspace;
        this.index = index;
    }

    public Cap cap() {
        return cap;
    }

    public CapSlot parent() {
        return parent;
    }

    public boolean hasChildren() {
        return firstChild != null;
    }

    void addChild(CapSlot child) {
        child.parent = this;
        child.prevSibling = null;
        child.nextSibling = firstChild;
        if (firstChild != null) {
            firstChild.prevSibling = child;
        }
        firstChild = child;
    }

    /** Unlinks this node; its children move up to its parent (or become roots). */
    void unlink() {
        CapSlot c = firstChild;
        while (c != null) {
            CapSlot next = c.nextSibling;
            c.parent = null;
            c.prevSibling = null;
            c.nextSibling = null;
            if (parent != null) {
                parent.addChild(c);
            }
            c = next;
        }
        firstChild = null;
        detach();
    }

    /** Removes this node from its parent's child list, keeping its own children. */
    void detach() {
        if (prevSibling != null) {
            prevSibling.nextSibling = nextSibling;
        } else if (parent != null) {
            parent.firstChild = nextSibling;
        }
        if (nextSibling != null) {
            nextSibling.prevSibling = prevSibling;
        }
        parent = null;
        prevSibling = null;
        nextSibling = null;
    }

    /** Moves this node's tree position (parent, siblings, children) to {@code to}. */
    void transplantTo(CapSlot to) {
        to.parent = parent;
        to.prevSibling = prevSibling;
        to.nextSibling = nextSibling;
        to.firstChild = firstChild;
        if (prevSibling != null) {
            prevSibling.nextSibling = to;
        } else if (parent != null) {
            parent.firstChild = to;
        }
        if (nextSibling != null) {
            nextSibling.prevSibling = to;
        }
        for (CapSlot c = firstChild; c != null; c = c.nextSibling) {
            c.parent = to;
        }
        parent = null;
        prevSibling = null;
        nextSibling = null;
        firstChild = null;
    }
}
