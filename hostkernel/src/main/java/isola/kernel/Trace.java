package isola.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * A fixed-size record of kernel events, kept under the kernel lock in deterministic mode: the
 * same inputs give the same trace. Events are four longs (time, kind, a, b); recording stops
 * when the buffer is full and {@link #dropped} counts the rest, so recording never allocates.
 */
public final class Trace {
    public static final int SYSCALL = 1;
    public static final int BLOCK = 2;
    public static final int WAKE = 3;
    public static final int SWITCH = 4;
    public static final int FAULT = 5;
    public static final int PASSIVE = 6;
    public static final int IDLE = 7;
    /** An interrupt line delivered: a = line, b = vector. */
    public static final int IRQ = 8;

    private final long[] events;
    private int count;
    private long dropped;

    public Trace(int capacity) {
        events = new long[capacity * 4];
    }

    void record(long time, int kind, long a, long b) {
        if (events.length == 0) {
            return;
        }
        int i = count * 4;
        if (i >= events.length) {
            dropped++;
            return;
        }
        events[i] = time;
        events[i + 1] = kind;
        events[i + 2] = a;
        events[i + 3] = b;
        count++;
    }

    public int size() {
        return count;
    }

    public long dropped() {
        return dropped;
    }

    public boolean enabled() {
        return events.length > 0;
    }

    /** The events as text, one per line: {@code time kind a b}, names resolved. */
    public List<String> lines() {
        List<String> out = new ArrayList<>(count);
        for (int e = 0; e < count; e++) {
            int i = e * 4;
            long a = events[i + 2];
            long b = events[i + 3];
            String s = switch ((int) events[i + 1]) {
                case SYSCALL -> "syscall t" + a + " " + Kernel.opName((int) (b >>> 32)) + " " + (int) b;
                case BLOCK -> "block t" + a + " on " + b;
                case WAKE -> "wake t" + a + " " + Status.name((int) b);
                case SWITCH -> "switch t" + a;
                case FAULT -> "fault d" + a + " t" + b;
                case PASSIVE -> "passive t" + a + " d" + b;
                case IDLE -> "idle";
                case IRQ -> "irq " + a + " vector " + b;
                default -> "event" + events[i + 1] + " " + a + " " + b;
            };
            out.add(events[i] + " " + s);
        }
        return out;
    }
}
