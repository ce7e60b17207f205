package isola.boot.storm;

import isola.boot.ConsoleDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The storm's end of the console: it types one line at a time into the console device's input
 * and waits, bounded, until the system is idle at the prompt again, which the device knows
 * exactly (it asks for a line only when the shell has finished with the one before). What the
 * console printed in between is the command's output.
 */
final class StormShell {
    static final String PROMPT = "isola> ";

    /** Everything the console printed, kept for a failure's report. */
    static final class Screen extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }

        synchronized int length() {
            return bytes.size();
        }

        synchronized String since(int mark) {
            byte[] all = bytes.toByteArray();
            return new String(all, mark, all.length - mark, StandardCharsets.UTF_8);
        }

        /** The last {@code n} characters printed, for a report. */
        synchronized String tail(int n) {
            String all = bytes.toString(StandardCharsets.UTF_8);
            return all.substring(Math.max(0, all.length() - n));
        }

        PrintStream printStream() {
            return new PrintStream(this, true, StandardCharsets.UTF_8);
        }
    }

    /** One command's outcome: its output (echo and prompt taken off), or that it did not end in time. */
    record Outcome(String output, boolean ended, long nanos) {}

    private final ConsoleDevice device;
    private final PipedOutputStream keyboard;
    private final Screen screen;
    private long sent;

    StormShell(ConsoleDevice device, PipedOutputStream keyboard, Screen screen) {
        this.device = device;
        this.keyboard = keyboard;
        this.screen = screen;
    }

    /** Waits, up to {@code boundNs}, for the first prompt. */
    boolean awaitPrompt(long boundNs) {
        return awaitIdle(System.nanoTime() + boundNs);
    }

    /** True while the system waits at the prompt for the next line. */
    boolean idle() {
        return device.awaitingLine() == sent;
    }

    /** Types {@code line} without waiting (shutdown: the system exits rather than prompt again). */
    void type(String line) throws IOException {
        keyboard.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        keyboard.flush();
        sent++;
    }

    /** Types {@code line} and waits, up to {@code boundNs}, until the system is idle again. */
    Outcome run(String line, long boundNs) throws IOException {
        int mark = screen.length();
        long t0 = System.nanoTime();
        type(line);
        boolean ended = awaitIdle(t0 + boundNs);
        String out = screen.since(mark);
        if (out.startsWith(line + "\n")) {
            out = out.substring(line.length() + 1);
        }
        if (ended && out.endsWith(PROMPT)) {
            out = out.substring(0, out.length() - PROMPT.length());
        }
        return new Outcome(out, ended, System.nanoTime() - t0);
    }

    private boolean awaitIdle(long deadline) {
        while (!idle()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(500));
        }
        return true;
    }

    Screen screen() {
        return screen;
    }
}
