package isola.sdk;

import isola.kernel.Status;

/**
 * A buffer in frames that two domains both map, plus a notification for "data ready": the
 * zero-copy way to move bulk data between servers (message registers carry 512 bytes a call).
 * Each side builds one over its own mapping of the same frames (at whatever address it chose)
 * and a notification capability both hold; the producer writes and {@link #publish}es, the
 * consumer {@link #awaitReady}s and reads. What the bytes mean, and who may write when, is the
 * two servers' protocol (typically a second buffer or a reply carries the acknowledgement).
 *
 * <p>Accesses are bounds-checked against the buffer and go through the thread's MMU
 * ({@link VirtualMemory}): a side that mapped the frames read-only cannot write them.
 */
public final class SharedBuffer {
    private final Sys sys;
    private final VirtualMemory memory;
    private final long base;
    private final long size;
    private final int notification;

    /** The buffer of {@code size} bytes mapped at {@code base}; {@code notification} is the data-ready signal's slot. */
    public SharedBuffer(Sys sys, long base, long size, int notification) {
        if (size <= 0 || base + size < base) {
            throw new IllegalArgumentException("shared buffer at 0x" + Long.toHexString(base) + " of " + size + " bytes");
        }
        this.sys = sys;
        this.memory = sys.memory();
        this.base = base;
        this.size = size;
        this.notification = notification;
    }

    public long size() {
        return size;
    }

    public void write(long offset, byte[] src, int from, int length) {
        check(offset, length);
        memory.write(base + offset, src, from, length);
    }

    public void read(long offset, byte[] dst, int to, int length) {
        check(offset, length);
        memory.read(base + offset, dst, to, length);
    }

    /** Zero-copy read of {@code length} bytes from {@code offset}: see {@link VirtualMemory#readInPlace}. */
    public void readInPlace(long offset, long length, VirtualMemory.Run visitor) {
        check(offset, length);
        memory.readInPlace(base + offset, length, visitor);
    }

    /** Zero-copy write of {@code length} bytes from {@code offset}: see {@link VirtualMemory#writeInPlace}. */
    public void writeInPlace(long offset, long length, VirtualMemory.Run visitor) {
        check(offset, length);
        memory.writeInPlace(base + offset, length, visitor);
    }

    public long getLong(long offset) {
        check(offset, 8);
        return memory.getLong(base + offset);
    }

    public void putLong(long offset, long value) {
        check(offset, 8);
        memory.putLong(base + offset, value);
    }

    /** Tells the other side that data is ready (signals the notification). */
    public void publish() {
        sys.check(sys.signal(notification), "shared buffer: publish");
    }

    /** Waits until the other side has published. */
    public void awaitReady() {
        sys.check(sys.await(notification), "shared buffer: wait for data");
    }

    private void check(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IsolaException(Status.E_INVALID_ARG, "shared buffer of " + size + " bytes: access of " + length
                    + " bytes at offset " + offset + " is outside it");
        }
    }
}
