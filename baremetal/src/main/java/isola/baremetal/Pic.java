package isola.baremetal;

/**
 * The two cascaded 8259A interrupt controllers. At reset they deliver IRQs 0 to 15 on vectors 8
 * to 15 and 0x70 to 0x77, over the CPU's exceptions; {@link #remap} moves them to 32 to 47,
 * where hostkernel's interrupt model puts line n at vector 32 + n. Lines start masked but for
 * the cascade; {@link #unmask} opens one when something handles it. (The runtime's handler
 * acknowledges each interrupt with an EOI.)
 */
final class Pic {
    static final int MASTER = 0x20, SLAVE = 0xA0;
    static final int FIRST_VECTOR = 32;
    static final int LINES = 16;
    private static final int ICW1_INIT_ICW4 = 0x11, ICW4_8086 = 0x01, CASCADE_LINE = 2;

    private int mask = 0xFFFF & ~(1 << CASCADE_LINE);

    void remap() {
        Cpu.outb(MASTER, ICW1_INIT_ICW4);
        Cpu.outb(SLAVE, ICW1_INIT_ICW4);
        Cpu.outb(MASTER + 1, FIRST_VECTOR);
        Cpu.outb(SLAVE + 1, FIRST_VECTOR + 8);
        Cpu.outb(MASTER + 1, 1 << CASCADE_LINE); // the slave hangs off line 2
        Cpu.outb(SLAVE + 1, CASCADE_LINE);        // its cascade identity
        Cpu.outb(MASTER + 1, ICW4_8086);
        Cpu.outb(SLAVE + 1, ICW4_8086);
        writeMask();
    }

    void unmask(int line) {
        if (line < 0 || line >= LINES) {
            throw new IllegalArgumentException("PIC line " + line + " is outside 0.." + (LINES - 1));
        }
        mask &= ~(1 << line);
        writeMask();
    }

    private void writeMask() {
        Cpu.outb(MASTER + 1, mask & 0xFF);
        Cpu.outb(SLAVE + 1, mask >> 8);
    }
}
