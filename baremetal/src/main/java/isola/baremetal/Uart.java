package isola.baremetal;

import java.io.OutputStream;

/**
 * The 16550 UART at COM1 (I/O port 0x3F8): the kernel's console. 115200 baud, 8N1, FIFOs on,
 * its interrupts off (the kernel polls the transmit holding register; output is all it does
 * for now). {@code \n} goes out as CR LF, as a terminal on the other end expects.
 */
final class Uart extends OutputStream {
    static final int COM1 = 0x3F8;
    private static final int DATA = 0, IER = 1, FCR = 2, LCR = 3, MCR = 4, LSR = 5;
    private static final int LSR_THR_EMPTY = 0x20;

    private final int base;

    Uart(int base) {
        this.base = base;
        Cpu.outb(base + IER, 0x00);
        Cpu.outb(base + LCR, 0x80); // DLAB: the next two registers are the divisor
        Cpu.outb(base + DATA, 0x01); // 115200 / 1
        Cpu.outb(base + IER, 0x00);
        Cpu.outb(base + LCR, 0x03); // 8 data bits, no parity, 1 stop bit
        Cpu.outb(base + FCR, 0xC7); // FIFOs on and cleared, 14-byte threshold
        Cpu.outb(base + MCR, 0x03); // DTR, RTS
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
