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

    /** System call numbers, for {@link #SYSCALL} events. */
    static final int OP_SEND = 1, OP_RECV = 2, OP_CALL = 3, OP_REPLY = 4, OP_REPLY_RECV = 5,
            OP_SIGNAL = 6, OP_WAIT = 7, OP_YIELD = 8, OP_CAP = 9, OP_CREATE = 10, OP_KILL = 11,
            OP_EXIT = 12, OP_FAULT = 13, OP_SAVE_REPLY = 14, OP_TICK = 15, OP_BOOT = 16, OP_MEM = 17, OP_IRQ = 18;
    private static final String[] OP_NAMES = {"?", "send", "recv", "call", "reply", "replyRecv",
        "signal", "wait", "yield", "cap", "create", "kill", "exit", "fault", "saveReply", "tick", "boot", "mem", "irq"};

    static String opName(int op) {
        return op > 0 && op < OP_NAMES.length ? OP_NAMES[op] : "op" + op;
    }

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
                case SYSCALL -> "syscall t" + a + " " + opName((int) (b >>> 32)) + " " + (int) b;
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
