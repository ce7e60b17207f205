package isola.baremetal;

/**
 * The 8254 programmable interval timer's channel 0, wired to IRQ 0: a periodic tick that
 * drives the scheduler's time slices and timed waits.
 */
final class Pit {
    static final long INPUT_HZ = 1_193_182;
    private static final int CHANNEL0 = 0x40, COMMAND = 0x43;
    private static final int CH0_LOHI_RATE_GENERATOR = 0x34;

    private Pit() {}

    /** The divisor for {@code hz}, which must give one in 1..65535 (19 Hz to the input clock). */
    static int divisor(int hz) {
        if (hz <= 0 || INPUT_HZ / hz > 65535 || INPUT_HZ / hz < 1) {
            throw new IllegalArgumentException("PIT rate " + hz + " Hz is outside 19.." + INPUT_HZ + " Hz");
        }
        return (int) ((INPUT_HZ + hz / 2) / hz);
    }

    static void start(int hz) {
        int d = divisor(hz);
        Cpu.outb(COMMAND, CH0_LOHI_RATE_GENERATOR);
        Cpu.outb(CHANNEL0, d & 0xFF);
        Cpu.outb(CHANNEL0, d >> 8);
    }
}
