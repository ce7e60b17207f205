package isola.baremetal;

import java.io.OutputStream;

/**
 * The 16550 UART at COM1 (I/O port 0x3F8): the kernel's console. The runtime programmed it at
 * boot (115200 baud, 8N1, FIFOs on, interrupts off: console.c's isola_console_init), since its own
 * messages come before Java's; the kernel polls the transmit holding register (output is all
 * it does for now). {@code \n} goes out as CR LF, as a terminal on the other end expects.
 */
final class Uart extends OutputStream {
    static final int COM1 = 0x3F8;
    private static final int DATA = 0, LSR = 5;
    private static final int LSR_THR_EMPTY = 0x20;

    private final int base;

    Uart(int base) {
        this.base = base;
    }

    @Override
    public void write(int b) {
        if (b == '\n') {
            put('\r');
        }
        put(b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        for (int i = off; i < off + len; i++) {
            write(b[i]);
        }
    }

    private void put(int b) {
        while ((Cpu.inb(base + LSR) & LSR_THR_EMPTY) == 0) {
            Thread.onSpinWait();
        }
        Cpu.outb(base + DATA, b & 0xFF);
    }
}
