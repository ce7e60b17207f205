package isola.baremetal;

import jdk.internal.misc.Unsafe;

/**
 * Raw access to physical memory on bare metal, where the kernel's page tables map RAM at
 * virtual = physical. Used before and beside the page-table code's own accessors (boot
 * information, modules).
 */
final class Physical {
    private Physical() {}

    static final Unsafe U = Unsafe.getUnsafe();

    /** A copy of {@code length} bytes at physical address {@code pa}. */
    static byte[] read(long pa, int length) {
        byte[] b = new byte[length];
        U.copyMemory(null, pa, b, Unsafe.ARRAY_BYTE_BASE_OFFSET, length);
        return b;
    }

    static final BootInfo.Reader READER = Physical::read;
}
