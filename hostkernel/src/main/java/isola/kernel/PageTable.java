package isola.kernel;

/**
 * A page table of one level (3: PDPT, 2: page directory, 1: page table) in a frame of its own,
 * linked into at most one address space at a time. As in seL4, a domain allocates and links
 * its page tables itself, so it pays for them from its frame quota.
 */
public final class PageTable extends KernelObject {
    long pa;
    int level;
    /** Whether it is linked into an address space (which holds it until it is unlinked). */
    boolean linked;
    /** Ever linked, so MMUs may have walked it: freeing it waits for them. */
    boolean walked;

    PageTable(int id) {
        super(ObjectType.PAGE_TABLE, id);
    }

    public long physicalAddress() {
        return pa;
    }

    public int level() {
        return level;
    }

    public boolean isLinked() {
        return linked;
    }
}
