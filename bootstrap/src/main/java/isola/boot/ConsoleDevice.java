package isola.boot;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.machine.HostedMachine;
import isola.sdk.ActiveLoop;
import isola.sdk.Console;
import isola.sdk.Replies;
import isola.sdk.Sys;
import isola.init.Init;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.completer.StringsCompleter;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

/**
 * The hosted machine's console device: the host's terminal (or the streams a caller gives) with
 * its line discipline, as a tty is on Unix. It is host code, like init, and init serves it as the
 * built-in service {@link Console#DEVICE} to the server the manifest grants it to (the console
 * driver); no other server can reach it. It speaks the console protocol ({@link Console}).
 *
 * <p>It owns what must outlive a crash of the console driver: the lines read and not yet
 * acknowledged (a reader acknowledges line {@code n} by asking for line {@code n + 1}), the
 * number of the first line not handed out, the line editor with its history, and the words Tab
 * completes. A driver killed in the middle of a read loses nothing: the reader asks the next
 * incarnation for the same line, and the device still has it. Input is read only when a line is
 * asked for, so the prompt is shown before the device waits for input.
 *
 * <p>On a terminal it reads with JLine 3 (line editing, history in {@code $HOME/.isola_history}, Tab
 * completion); otherwise it reads plain lines and echoes each after its prompt, so a transcript
 * shows what ran. A read waiting for input holds no thread of the device: its reply is saved,
 * and the reader thread answers it when the line comes. One thread serves requests and one
 * reads, in a domain of their own.
 */
public final class ConsoleDevice implements Init.HostService {
    /** Longest line delivered, in characters; a longer one is refused (and said so), not cut. */
    static final int MAX_LINE = 1 << 20;
    /** Reads waiting for a line at once; beyond that the oldest is let go ({@link Console#AGAIN}). */
    static final int WAITERS = 16;
    private static final int ENDPOINT = 0;
    private static final int FIRST_WAITER = 1;
    private static final int PRIORITY = 150;

    /**
     * JLine logs through java.util.logging, whose default handler writes to stderr: the user's
     * terminal. Its records go to the host log instead. A logger is held weakly by its manager,
     * so this reference keeps the configuration alive.
     */
    private static final Logger JLINE_LOG = Logger.getLogger("org.jline");

    static {
        JLINE_LOG.setUseParentHandlers(false);
        JLINE_LOG.addHandler(new ToLog4j());
    }

    private final PrintStream out;
    private final BufferedReader plain;
    private final LineReader editor;
    private final List<String> completions = new CopyOnWriteArrayList<>();

    // Guarded by this.
    /**
     * Lines read and not yet acknowledged: {@code lines.get(i)} is line {@code first + i}; null
     * for a line refused as too long, whose length {@link #refused} keeps.
     */
    private final ArrayList<String> lines = new ArrayList<>();
    private final java.util.HashMap<Long, Long> refused = new java.util.HashMap<>();
    private long first;
    /** The first line not yet handed out to any reader. */
    private long handedOut;
    /** The first line no reader has taken ({@link Console#TAKE_LINE}): where a new reader starts. */
    private long taken;
    private boolean eof;
    /** The line the reader thread is to read next (always the next unread), or -1 if none is asked for. */
    private long wanted = -1;
    private String wantedPrompt = "";
    /** Saved replies of reads waiting for line {@link #wanted}, oldest first. */
    private final ArrayDeque<Integer> waiting = new ArrayDeque<>();
    private final BitSet waiterSlots = new BitSet();

    private Kernel kernel;
    private Domain domain;
    /** The line a plain read waits for the user to send (its prompt shown), or -1: see {@link #awaitingLine}. */
    private volatile long awaiting = -1;

    /**
     * A device over {@code in} and {@code out}; if {@code terminal}, the host's terminal instead
     * (through JLine; a system terminal, so the streams are the process's own).
     */
    public ConsoleDevice(InputStream in, PrintStream out, boolean terminal) {
        this.out = out;
        if (terminal) {
            plain = null;
            editor = lineEditor();
        } else {
            plain = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            editor = null;
        }
    }

    private LineReader lineEditor() {
        Terminal t;
        try {
            t = TerminalBuilder.builder().system(true).build();
        } catch (IOException e) {
            throw new IllegalStateException("the console device: cannot open the terminal: " + e.getMessage(), e);
        }
        return LineReaderBuilder.builder()
                .terminal(t)
                .appName("isola")
                .completer((r, line, candidates) -> new StringsCompleter(completions).complete(r, line, candidates))
                .variable(LineReader.HISTORY_FILE, historyFile())
                .build();
    }

    /**
     * {@code ~/.isola_history}, where {@code ~} is {@code $HOME} as a shell takes it (the JVM's
     * user.home is the password database's, which a user or a test who sets HOME did not choose).
     */
    static Path historyFile() {
        String home = System.getenv("HOME");
        return Path.of(home == null || home.isEmpty() ? System.getProperty("user.home") : home, ".isola_history");
    }

    /** The terminal's type as JLine sees it ("dumb" if it could not open the real one); null if not a terminal. */
    public String terminalType() {
        return editor == null ? null : editor.getTerminal().getType();
    }

    @Override
    public void start(HostedMachine machine, Endpoint endpoint) {
        kernel = machine.kernel();
        domain = kernel.createDomain(Console.DEVICE, FIRST_WAITER + WAITERS, 4);
        kernel.installCap(domain, ENDPOINT, endpoint, Rights.ALL, 0);
        kernel.rebindEndpoint(endpoint, domain);
        Tcb requests = kernel.createThread(domain, "requests", PRIORITY);
        machine.spawn(requests, () -> ActiveLoop.run(Sys.of(kernel, requests), ENDPOINT, this::handle));
        Tcb reader = kernel.createThread(domain, "reader", PRIORITY);
        machine.spawn(reader, () -> read(Sys.of(kernel, reader)));
    }

    private long handle(Sys sys) {
        try {
            return switch (sys.label()) {
                case Console.WRITE -> {
                    String text = sys.string(0);
                    if (text == null) {
                        yield Replies.error(sys, Status.E_INVALID_ARG, "console device write: no text in MR0..");
                    }
                    emit(text);
                    yield Replies.ok(0);
                }
                case Console.COMPLETE -> {
                    String w = sys.string(0);
                    if (w == null || w.isBlank()) {
                        yield Replies.error(sys, Status.E_INVALID_ARG, "console device completion: no word");
                    }
                    if (!completions.contains(w)) {
                        completions.add(w);
                    }
                    yield Replies.ok(0);
                }
                case Console.NEXT_LINE -> {
                    synchronized (this) {
                        sys.mr(0, Math.max(taken, first));
                    }
                    yield Replies.ok(1);
                }
                case Console.TAKE_LINE -> {
                    long n = sys.mr(0);
                    synchronized (this) {
                        if (n >= handedOut) {
                            yield Replies.error(sys, Status.E_INVALID_ARG, "console take: line " + n
                                    + " was not handed out (lines up to " + handedOut + " were)");
                        }
                        taken = Math.max(taken, n + 1);
                    }
                    yield Replies.ok(0);
                }
                case Console.READ_LINE -> readLine(sys, sys.mr(0), sys.mr(1), sys.string(2));
                default -> Replies.error(sys, Status.E_INVALID_ARG, "console device: unknown request " + sys.label());
            };
        } catch (RuntimeException e) {
            // The device is host code: a bug here must not take the machine's console with it.
            return Replies.error(sys, Status.E_INVALID_ARG, "console device: " + e);
        }
    }

    /** Line {@code n} from {@code offset}, after acknowledging the lines before it; 0 (no reply yet) if it must be read first. */
    private synchronized long readLine(Sys sys, long n, long offset, String prompt) {
        long count = first + lines.size();
        if (n < first) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console read: line " + n
                    + " was acknowledged already (the console keeps lines from " + first + " on)");
        }
        if (n > count) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console read: line " + n
                    + " comes after the next line to be read, " + count);
        }
        while (first < n) {
            lines.removeFirst();
            refused.remove(first);
            first++;
        }
        if (n < count) {
            return piece(sys, n, offset);
        }
        if (eof) {
            return Tag.of(Replies.EOF, 0);
        }
        if (offset != 0) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console read: offset " + offset
                    + " into line " + n + ", which has not been read yet");
        }
        int slot = waiterSlots.nextClearBit(FIRST_WAITER);
        if (slot >= FIRST_WAITER + WAITERS) {
            // A read still waiting from a driver that died holds a slot until the line comes;
            // after many restarts the oldest goes. Were its driver alive, it would just ask again.
            slot = waiting.removeFirst();
            sys.replyTo(slot, Tag.of(Console.AGAIN, 0));
            sys.delete(slot); // if the reply failed, its capability is still there
            waiterSlots.clear(slot);
        }
        int st = sys.saveReply(slot);
        if (st != Status.OK) {
            return Replies.error(sys, st, sys.describe(st, "console read: saving the reply"));
        }
        waiterSlots.set(slot);
        waiting.addLast(slot);
        if (wanted != n) {
            wanted = n;
            wantedPrompt = prompt == null ? "" : prompt;
            notifyAll();
        }
        return 0;
    }

    /** The reply with line {@code n} from character {@code offset}, as much as fits; handed out. */
    private long piece(Sys sys, long n, long offset) {
        String line = lines.get((int) (n - first));
        if (line == null) {
            // Its reader counts it as a failed command: a script's exit status says it went wrong.
            sys.mr(0, n);
            sys.mr(1, refused.get(n));
            int len = sys.putString(2, "console: line " + (n + 1) + " (" + refused.get(n)
                    + " characters) was refused: at most " + MAX_LINE);
            handedOut = Math.max(handedOut, n + 1);
            return Tag.of(Console.REFUSED, len);
        }
        if (offset > line.length()) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console read: offset " + offset
                    + " is past the end of line " + n + " (" + line.length() + " characters)");
        }
        int from = (int) offset;
        int to = Sys.fit(line, from, Sys.maxStringBytes(2));
        sys.mr(0, n);
        sys.mr(1, line.length());
        int len = sys.putString(2, line.substring(from, to));
        handedOut = Math.max(handedOut, n + 1);
        return Tag.of(Replies.OK, len);
    }

    /** The reader thread: reads each line asked for, then answers the reads waiting for it. */
    private void read(Sys sys) {
        for (;;) {
            long n;
            String prompt;
            synchronized (this) {
                while (wanted < 0) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return; // the machine is closing
                    }
                }
                n = wanted;
                prompt = wantedPrompt;
            }
            String line;
            long tooLong = 0;
            try {
                line = editor != null ? edit(prompt) : readPlain(prompt, n);
            } catch (LineTooLong e) {
                line = null;
                tooLong = e.length;
            } catch (IOException | RuntimeException e) {
                emit("console device: input failed, ending it: " + e.getMessage() + "\n");
                line = null;
            }
            synchronized (this) {
                if (tooLong > 0) {
                    lines.add(null);
                    refused.put(n, tooLong);
                } else if (line == null) {
                    eof = true;
                } else {
                    lines.add(line);
                }
                wanted = -1;
                while (!waiting.isEmpty()) {
                    int slot = waiting.removeFirst();
                    long tag = eof ? Tag.of(Replies.EOF, 0) : piece(sys, n, 0);
                    if (sys.replyTo(slot, tag) != Status.OK) {
                        sys.delete(slot); // a reply the kernel refused is still in its slot
                    }
                    waiterSlots.clear(slot);
                }
                if (eof) {
                    return;
                }
            }
        }
    }

    /** A line longer than {@link #MAX_LINE}: refused, said so, and counted as a failed command. */
    private static final class LineTooLong extends IOException {
        final long length;

        LineTooLong(long length) {
            super("a line of " + length + " characters", null);
            this.length = length;
        }
    }

    /**
     * The number (from 0) of the line that plain input is awaited for, its prompt shown; -1 while
     * no read waits on the input. Lines are asked for only when the shell has finished with the
     * one before, so a driver that has sent {@code n} lines and sees {@code n} here knows the
     * system is idle at the prompt (the fault storm's driver waits for that, see
     * {@code isola.boot.storm}). A line that was sent but not yet read counts as not waited for.
     */
    public long awaitingLine() {
        return awaiting;
    }

    private String edit(String prompt) {
        try {
            return editor.readLine(prompt);
        } catch (UserInterruptException e) {
            return ""; // Ctrl-C drops the line being typed
        } catch (EndOfFileException e) {
            return null;
        }
    }

    /**
     * Shows the prompt, then reads a line; echoes it, so that the transcript reads as a session
     * (the input is not a terminal, which would have echoed it). Null at the end of input (after
     * ending the prompt's line). A line longer than {@link #MAX_LINE} is refused with a message
     * ({@link LineTooLong}); its reader is told ({@link Console#REFUSED}).
     */
    private String readPlain(String prompt, long n) throws IOException {
        emit(prompt);
        StringBuilder b = new StringBuilder();
        long length = 0;
        int c;
        awaiting = n;
        try {
            while ((c = plain.read()) >= 0 && c != '\n') {
                if (length++ < MAX_LINE) {
                    b.append((char) c);
                }
            }
        } finally {
            awaiting = -1;
        }
        if (c < 0 && length == 0) {
            emit(prompt.isEmpty() ? "" : "\n");
            return null;
        }
        if (length > MAX_LINE) {
            emit("console: a line of " + length + " characters was refused: at most " + MAX_LINE + "\n");
            throw new LineTooLong(length);
        }
        if (!b.isEmpty() && b.charAt(b.length() - 1) == '\r') {
            b.setLength(b.length() - 1);
        }
        String line = b.toString();
        emit(line + "\n");
        return line;
    }

    /** Writes text to the terminal: above the line being edited, if one is. */
    private void emit(String text) {
        if (text == null || text.isEmpty()) {
            return;
        }
        if (editor == null) {
            synchronized (out) {
                out.print(text);
                out.flush();
            }
        } else if (editor.isReading()) {
            editor.printAbove(text.endsWith("\n") ? text.substring(0, text.length() - 1) : text);
        } else {
            editor.getTerminal().writer().print(text);
            editor.getTerminal().writer().flush();
        }
    }

    /** java.util.logging records (JLine's) into the host log, through Log4j. */
    private static final class ToLog4j extends Handler {
        @Override
        public void publish(LogRecord r) {
            org.apache.logging.log4j.Logger to = org.apache.logging.log4j.LogManager.getLogger(r.getLoggerName());
            int v = r.getLevel().intValue();
            org.apache.logging.log4j.Level level = v >= Level.SEVERE.intValue() ? org.apache.logging.log4j.Level.ERROR
                    : v >= Level.WARNING.intValue() ? org.apache.logging.log4j.Level.WARN
                    : v >= Level.INFO.intValue() ? org.apache.logging.log4j.Level.INFO
                    : org.apache.logging.log4j.Level.DEBUG;
            String message = r.getParameters() == null ? r.getMessage()
                    : java.text.MessageFormat.format(r.getMessage(), r.getParameters());
            to.log(level, message, r.getThrown());
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
