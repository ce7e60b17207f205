package isola.drivers.console;

import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Console;
import isola.sdk.HostConsole;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.reader.impl.completer.StringsCompleter;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

/**
 * The console driver: the host console device ({@link HostConsole}) as a server. On a terminal
 * it reads lines with JLine 3 (line editing, history in {@code ~/.isola_history}, Tab completion
 * of the words clients add); otherwise it reads plain lines and echoes each after its prompt,
 * so a transcript shows what ran. Two threads, so output from other servers is not held up by
 * a pending read.
 */
public final class ConsoleServer implements Server {
    private final List<String> completions = new CopyOnWriteArrayList<>();
    private PrintStream out;
    private LineReader reader;
    private BufferedReader plain;

    @Override
    public void start(ServerContext ctx) throws IOException {
        out = HostConsole.out();
        if (HostConsole.isTerminal()) {
            Terminal terminal = TerminalBuilder.builder().system(true).build();
            reader = LineReaderBuilder.builder()
                    .terminal(terminal)
                    .appName("isola")
                    .completer((r, line, candidates) -> new StringsCompleter(completions).complete(r, line, candidates))
                    .variable(LineReader.HISTORY_FILE, Path.of(System.getProperty("user.home"), ".isola_history"))
                    .build();
        } else {
            plain = HostConsole.lines();
        }
        ctx.serveActive(ctx.endpoint("console"), this::handle, 2, 150);
    }

    private long handle(Sys sys) {
        return switch (sys.label()) {
            case Console.WRITE -> write(sys);
            case Console.READ_LINE -> readLine(sys);
            case Console.COMPLETE -> complete(sys);
            default -> Replies.error(sys, Status.E_INVALID_ARG, "console: unknown request " + sys.label());
        };
    }

    private long write(Sys sys) {
        String text = sys.string(0);
        if (text == null) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console write: no text in MR0..");
        }
        if (reader != null && reader.isReading()) {
            reader.printAbove(text.endsWith("\n") ? text.substring(0, text.length() - 1) : text);
        } else if (reader != null) {
            reader.getTerminal().writer().print(text);
            reader.getTerminal().writer().flush();
        } else {
            synchronized (out) {
                out.print(text);
                out.flush();
            }
        }
        return Replies.ok(0);
    }

    private long readLine(Sys sys) {
        String prompt = sys.string(0);
        if (prompt == null) {
            prompt = "";
        }
        String line;
        try {
            if (reader != null) {
                line = reader.readLine(prompt);
            } else {
                line = plain.readLine();
                if (line != null) {
                    synchronized (out) {
                        out.println(prompt + line); // echo: the transcript shows each command
                        out.flush();
                    }
                }
            }
        } catch (EndOfFileException e) {
            line = null;
        } catch (UserInterruptException e) {
            line = "";
        } catch (IOException e) {
            return Replies.error(sys, Status.E_DELETED, "console read: " + e.getMessage());
        }
        if (line == null) {
            return Tag.of(Replies.EOF, 0);
        }
        int bytes = line.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > Sys.maxStringBytes(0)) {
            return Replies.error(sys, Status.E_MSG_TOO_LONG, "console read: a line of " + bytes
                    + " bytes is longer than the " + Sys.maxStringBytes(0) + " a message holds");
        }
        return Tag.of(Replies.OK, sys.putString(0, line));
    }

    private long complete(Sys sys) {
        String word = sys.string(0);
        if (word == null || word.isBlank()) {
            return Replies.error(sys, Status.E_INVALID_ARG, "console completion: no word");
        }
        if (!completions.contains(word)) {
            completions.add(word);
        }
        return Replies.ok(0);
    }
}
