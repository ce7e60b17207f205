package isola.sdk;

import java.io.InputStream;
import java.io.PrintStream;

/**
 * The hosted machine's console device: the streams the console driver serves. Like an I/O
 * port range on bare metal, only the console driver should touch it; the launcher points it at
 * the host's stdin and stdout, tests at their own streams.
 */
public final class HostConsole {
    private HostConsole() {}

    private static volatile InputStream in = System.in;
    private static volatile PrintStream out = System.out;
    private static volatile boolean terminal;
    private static volatile java.io.BufferedReader lines;

    public static void attach(InputStream input, PrintStream output, boolean isTerminal) {
        in = input;
        out = output;
        terminal = isTerminal;
        lines = null;
    }

    /**
     * The device's line reader. It belongs to the device, not to a driver incarnation, so input
     * it has buffered survives a restart of the console driver (as a UART's FIFO would).
     */
    public static synchronized java.io.BufferedReader lines() {
        if (lines == null) {
            lines = new java.io.BufferedReader(new java.io.InputStreamReader(in, java.nio.charset.StandardCharsets.UTF_8));
        }
        return lines;
    }

    public static InputStream in() {
        return in;
    }

    public static PrintStream out() {
        return out;
    }

    /** True if the device is an interactive terminal (line editing, history, completion). */
    public static boolean isTerminal() {
        return terminal;
    }
}
