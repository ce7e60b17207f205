package isola.system.shell;

import isola.sdk.Console;
import isola.sdk.IsolaException;
import isola.sdk.Log;
import isola.sdk.Names;
import isola.sdk.Proc;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.Arrays;
import java.util.List;

/**
 * The shell: reads commands from the console and runs them through the services it was
 * granted (console, names, log, proc, supervisor). An unknown command or a bad argument prints
 * a usage line and changes nothing. At the end of input it shuts the system down, with status
 * 0 if every command succeeded.
 */
public final class ShellServer implements Server {
    static final String PROMPT = "isola> ";

    /** name, arguments, what it does. */
    static final String[][] COMMANDS = {
        {"help", "", "list the commands"},
        {"ps", "", "domains and their threads: state, priority"},
        {"caps", "DOMAIN", "the capabilities in a domain's slots"},
        {"mem", "", "physical frames: free, used, and each domain's use and quota"},
        {"irq", "", "interrupt lines: vector, deliveries, priority, state, owner"},
        {"names", "", "registered service names"},
        {"dmesg", "", "kernel and server log records"},
        {"kill", "SERVER", "crash a server (its supervisor restarts it)"},
        {"restart", "SERVER", "restart a server in a fresh domain"},
        {"supervisor", "", "restart counts and policies"},
        {"echo", "[TEXT...]", "print the text"},
        {"shutdown", "", "stop every server and exit"},
    };

    private Sys sys;
    private int console;
    private int names;
    private int log;
    private int proc;
    private int supervisor;

    @Override
    public void start(ServerContext ctx) {
        sys = ctx.sys();
        console = ctx.service("console");
        names = ctx.service("names");
        log = ctx.service("log");
        proc = ctx.service(Proc.PROC);
        supervisor = ctx.service(Proc.SUPERVISOR);
        for (String[] c : COMMANDS) {
            Console.addCompletion(sys, console, c[0]);
        }
        for (String s : Proc.servers(sys, proc)) {
            Console.addCompletion(sys, console, s);
        }
        Log.info(sys, log, "shell ready");
        boolean allOk = true;
        for (;;) {
            String line = Console.readLine(sys, console, PROMPT);
            if (line == null) {
                break;
            }
            String[] words = line.trim().split("\\s+");
            if (words.length == 0 || words[0].isEmpty()) {
                continue;
            }
            if (words[0].equals("shutdown") && words.length == 1) {
                Console.println(sys, console, "shutting down");
                Proc.shutdown(sys, proc, 0);
                return;
            }
            allOk &= run(words);
        }
        Proc.shutdown(sys, proc, allOk ? 0 : 1);
    }

    /** Runs one command; false (after printing why) if it failed. */
    boolean run(String[] w) {
        String cmd = w[0];
        String[] args = Arrays.copyOfRange(w, 1, w.length);
        String[] spec = null;
        for (String[] c : COMMANDS) {
            if (c[0].equals(cmd)) {
                spec = c;
            }
        }
        if (spec == null) {
            out("unknown command '" + cmd + "'; usage: COMMAND [ARGS], one of: " + commandNames() + " (try help)");
            return false;
        }
        int want = spec[1].isEmpty() ? 0 : spec[1].startsWith("[") ? -1 : spec[1].split(" ").length;
        if (want >= 0 && args.length != want) {
            out("usage: " + cmd + (spec[1].isEmpty() ? "" : " " + spec[1]) + "  (" + spec[2] + ")");
            return false;
        }
        try {
            switch (cmd) {
                case "help" -> {
                    StringBuilder b = new StringBuilder();
                    for (String[] c : COMMANDS) {
                        b.append(String.format("  %-22s %s%n", c[0] + (c[1].isEmpty() ? "" : " " + c[1]), c[2]));
                    }
                    Console.write(sys, console, b.toString());
                }
                case "ps" -> lines(Proc.ps(sys, proc));
                case "caps" -> lines(Proc.caps(sys, proc, args[0]));
                case "mem" -> lines(Proc.mem(sys, proc));
                case "irq" -> lines(Proc.irq(sys, proc));
                case "names" -> lines(Names.list(sys, names));
                case "dmesg" -> lines(Log.read(sys, log));
                case "kill" -> {
                    Proc.kill(sys, proc, args[0]);
                    out("crashed " + args[0]);
                }
                case "restart" -> out(Proc.restart(sys, supervisor, args[0]));
                case "supervisor" -> lines(Proc.supervisorStatus(sys, supervisor));
                case "echo" -> out(String.join(" ", args));
                default -> throw new IllegalStateException(cmd);
            }
            return true;
        } catch (IsolaException e) {
            out("error: " + e.getMessage());
            return false;
        }
    }

    private static String commandNames() {
        StringBuilder b = new StringBuilder();
        for (String[] c : COMMANDS) {
            b.append(b.length() == 0 ? "" : ", ").append(c[0]);
        }
        return b.toString();
    }

    private void lines(List<String> lines) {
        Console.write(sys, console, lines.isEmpty() ? "" : String.join("\n", lines) + "\n");
    }

    private void out(String line) {
        Console.println(sys, console, line);
    }
}
