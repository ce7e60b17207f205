package isola.kernel;

/**
 * A block of physical memory of one page size (4 KiB, 2 MiB or 1 GiB), zeroed when allocated.
 * Capabilities name it; each mapping of it in an address space holds it too, so it is freed
 * when both its last capability and its last mapping are gone. With a frame capability, RECV
 * is the right to map it readable and SEND the right to map it writable.
 */
public final class Frame extends KernelObject {
    /** Physical address of the block. */
    long pa;
    /** Block order: 0 (4 KiB), 9 (2 MiB) or 18 (1 GiB). */
    int order;
    /** Address spaces mapping it, counted per mapping. */
    int mappings;
    /** Ever mapped: freeing it then waits for the MMUs (see {@link Memory}). */
    boolean mapped;

    Frame(int id) {
        super(ObjectType.FRAME, id);
    }

    public long physicalAddress() {
        return pa;
    }

    public long size() {
        return 4096L << order;
    }

    public int mappings() {
        return mappings;
    }
}
