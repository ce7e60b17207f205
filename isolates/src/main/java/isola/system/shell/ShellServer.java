package isola.system.shell;

import isola.sdk.Console;
import isola.sdk.Fs;
import isola.sdk.IsolaException;
import isola.sdk.Keep;
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
        {"echo", "[TEXT...]", "print the text (echo TEXT > FILE writes it to a file, >> appends)"},
        {"ls", "[PATH]", "list a directory: size and name (a directory's ends in /)"},
        {"cat", "FILE", "print a file"},
        {"write", "FILE TEXT...", "write the text and a newline to a file, replacing it"},
        {"mkdir", "DIR", "make a directory"},
        {"rm", "PATH", "remove a file or an empty directory"},
        {"mv", "FROM TO", "rename or move; replaces an existing file at TO atomically"},
        {"stat", "PATH", "a file's inode, type, mode, links, size, blocks and times"},
        {"df", "", "the file system's size, use and free space"},
        {"sync", "", "make everything written so far durable"},
        {"shutdown", "", "stop every server and exit"},
    };

    private Sys sys;
    private int console;
    private int names;
    private int log;
    private int proc;
    private int supervisor;
    private Fs.Client fs;
    /** Why there is no file system client, if there is none. */
    private String noFs;
    static final int FS_FRAME = 200;
    static final int FS_TABLES = 201;
    static final long FS_BUFFER_VA = 0x0000_0060_0000_0000L;

    @Override
    public void start(ServerContext ctx) {
        sys = ctx.sys();
        console = ctx.service("console");
        names = ctx.service("names");
        log = ctx.service("log");
        proc = ctx.service(Proc.PROC);
        supervisor = ctx.service(Proc.SUPERVISOR);
        try {
            fs = Fs.Client.create(sys, ctx.service("fs"), ctx.service(Fs.ATTACH_SERVICE), FS_FRAME, FS_TABLES, FS_BUFFER_VA);
        } catch (IsolaException e) {
            noFs = e.getMessage();
        }
        for (String[] c : COMMANDS) {
            Console.addCompletion(sys, console, c[0]);
        }
        for (String s : Proc.servers(sys, proc)) {
            Console.addCompletion(sys, console, s);
        }
        Log.info(sys, log, "shell ready");
        keep = keepSlot(ctx);
        boolean allOk = !FAILED.equals(ctx.kept().values().get(STATUS_KEY)); // an earlier incarnation's failures count
        Console.Input input = new Console.Input(console);
        for (;;) {
            String line;
            try {
                line = input.readLine(sys, PROMPT);
            } catch (Console.RefusedLine e) {
                allOk = failed(allOk); // the console said why; the exit status says a command failed
                continue;
            }
            if (line == null) {
                break;
            }
            String[] words = line.trim().split("\\s+");
            if (words.length == 0 || words[0].isEmpty()) {
                continue;
            }
            if (words[0].equals("shutdown") && words.length == 1) {
                Console.println(sys, console, "shutting down");
                boolean synced = syncFileSystem();
                Proc.shutdown(sys, proc, allOk && synced ? 0 : 1); // the status says whether every command succeeded
                return;
            }
            if (!run(words)) {
                allOk = failed(allOk);
            }
        }
        allOk &= syncFileSystem();
        Proc.shutdown(sys, proc, allOk ? 0 : 1);
    }

    /** What init keeps for the shell across its restarts: whether a command has failed. */
    static final String STATUS_KEY = "status";
    static final String FAILED = "a command failed";
    /** The keep capability's slot, or -1 if the shell's launcher keeps nothing for it. */
    private int keep = -1;

    private static int keepSlot(ServerContext ctx) {
        try {
            return ctx.keep();
        } catch (IsolaException e) {
            return -1;
        }
    }

    /**
     * A command failed: false, and kept the first time, so that the exit status a restarted
     * shell gives at shutdown still says so.
     */
    private boolean failed(boolean allOk) {
        if (allOk && keep >= 0) {
            try {
                Keep.put(sys, keep, STATUS_KEY, FAILED);
            } catch (IsolaException e) {
                out("shell: cannot keep the failure for a restart: " + e.getMessage());
            }
        }
        return false;
    }

    /** Before the system stops: what was written goes to disk, as a shutdown syncs and unmounts. */
    private boolean syncFileSystem() {
        if (fs == null) {
            return true;
        }
        try {
            fs.sync();
            return true;
        } catch (IsolaException e) {
            out("shutdown: sync: " + e.getMessage());
            return false;
        }
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
        String[] params = spec[1].isEmpty() ? new String[0] : spec[1].split(" ");
        int required = 0;
        boolean more = false;
        for (String p : params) {
            if (!p.startsWith("[")) {
                required++;
            }
            more |= p.startsWith("[") || p.endsWith("...");
        }
        if (args.length < required || (!more && args.length > params.length)) {
            out("usage: " + cmd + (spec[1].isEmpty() ? "" : " " + spec[1]) + "  (" + spec[2] + ")");
            return false;
        }
        // A call the server had taken when it crashed fails with E_RESTARTED (the SDK's clients
        // retry some themselves), and a file opened before a restart of the fs server that lost
        // it is ESTALE: the command runs once more, on the new incarnation. Once: a
        // command that keeps meeting restarts says so rather than keep the user waiting.
        for (int attempt = 1; ; attempt++) {
            try {
                dispatch(cmd, args);
                return true;
            } catch (IsolaException e) {
                if (attempt == 1 && (e.status() == isola.kernel.Status.E_RESTARTED || e.status() == isola.sdk.Errno.ESTALE)) {
                    continue; // ESTALE: the fs server restarted and lost a file the command had opened, unsynced
                }
                if (e instanceof Fs.Error f) {
                    out(cmd + ": " + f.getMessage() + (f.errno() != 0 ? " (" + isola.sdk.Errno.name(f.errno()) + ")" : ""));
                } else {
                    out("error: " + e.getMessage());
                }
                return false;
            }
        }
    }

    /** Runs command {@code cmd}, its arguments checked; a failure throws. */
    private void dispatch(String cmd, String[] args) {
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
            case "kill" -> out(Proc.kill(sys, proc, args[0]));
            case "restart" -> out(Proc.restart(sys, supervisor, args[0]));
            case "supervisor" -> lines(Proc.supervisorStatus(sys, supervisor));
            case "echo" -> echo(args);
            case "ls", "cat", "write", "mkdir", "rm", "mv", "stat", "df", "sync" -> files(cmd, args);
            default -> throw new IllegalStateException(cmd);
        }
    }

    private void echo(String[] args) {
        int redirect = -1;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals(">") || args[i].equals(">>")) {
                redirect = i;
            }
        }
        if (redirect < 0) {
            out(String.join(" ", args));
            return;
        }
        if (redirect != args.length - 2) {
            throw new Fs.Error(isola.sdk.Errno.EINVAL, "usage: echo TEXT > FILE (or >> FILE to append)");
        }
        String text = String.join(" ", Arrays.copyOfRange(args, 0, redirect)) + "\n";
        writeFile(args[redirect + 1], text, args[redirect].equals(">>"));
    }

    /** The file commands, through the fs server. Paths are taken from the root. */
    private void files(String cmd, String[] args) {
        if (fs == null) {
            throw new Fs.Error(isola.sdk.Errno.ENOSYS, "no file system: " + noFs);
        }
        switch (cmd) {
            case "ls" -> {
                String dir = path(args.length == 0 ? "/" : args[0]);
                long losses = fs.losses();
                java.util.List<Fs.Entry> entries = new java.util.ArrayList<>(fs.list(dir));
                entries.sort(java.util.Comparator.comparing(Fs.Entry::name));
                StringBuilder b = new StringBuilder();
                for (Fs.Entry e : entries) {
                    String full = dir.endsWith("/") ? dir + e.name() : dir + "/" + e.name();
                    long size;
                    try {
                        size = fs.stat(full).size();
                    } catch (Fs.Error x) {
                        if (x.errno() == isola.sdk.Errno.ENOENT && fs.losses() != losses) {
                            // Listed by one incarnation and gone in the next, with what it lost: list again.
                            throw new Fs.Error(isola.sdk.Errno.ESTALE, "ls " + dir + ": " + e.name()
                                    + " was lost to a restart of the file system server during the listing");
                        }
                        throw x;
                    }
                    b.append(String.format("%10d  %s%s%n", size, e.name(), e.directory() ? "/" : ""));
                }
                Console.write(sys, console, b.toString());
            }
            case "cat" -> {
                String path = path(args[0]);
                long h = fs.open(path, 0, 0);
                StringBuilder b = new StringBuilder();
                try {
                    long size = fs.stat(h).size();
                    byte[] chunk = new byte[64 * 1024];
                    for (long at = 0; at < size; ) {
                        int n = fs.read(h, at, chunk, 0, chunk.length);
                        if (n <= 0) {
                            break;
                        }
                        b.append(new String(chunk, 0, n, java.nio.charset.StandardCharsets.UTF_8));
                        at += n;
                    }
                } finally {
                    closeQuietly(h);
                }
                Console.write(sys, console, b.toString());
            }
            case "write" -> writeFile(args[0], String.join(" ", Arrays.copyOfRange(args, 1, args.length)) + "\n", false);
            case "mkdir" -> fs.mkdir(path(args[0]), 0755);
            case "rm" -> {
                String path = path(args[0]);
                if (fs.stat(path).directory()) {
                    fs.rmdir(path);
                } else {
                    fs.unlink(path);
                }
            }
            case "mv" -> fs.rename(path(args[0]), path(args[1]));
            case "stat" -> {
                String path = path(args[0]);
                Fs.Stat st = fs.stat(path);
                out(String.format("%s: inode %d, %s, mode %04o, %d links, %d bytes, %d blocks of 512%n  modified %s, changed %s",
                        path, st.inode(), st.directory() ? "directory" : "regular file", st.mode() & 07777, st.nlink(),
                        st.size(), st.blocks512(), instant(st.mtimeNs()), instant(st.ctimeNs())));
            }
            case "df" -> {
                Fs.Usage u = fs.usage();
                long total = u.blocks() * u.blockSize() / 1024;
                long free = u.freeBlocks() * u.blockSize() / 1024;
                out(String.format("%-6s %10s %10s %10s %5s %8s %8s%n%-6s %10d %10d %10d %4d%% %8d %8d", "fs", "1K-blocks",
                        "used", "free", "use", "inodes", "ifree", "/", total, total - free, free,
                        total == 0 ? 0 : (total - free) * 100 / total, u.inodes(), u.freeInodes()));
            }
            case "sync" -> fs.sync();
            default -> throw new IllegalStateException(cmd);
        }
    }

    private void writeFile(String file, String text, boolean append) {
        if (fs == null) {
            throw new Fs.Error(isola.sdk.Errno.ENOSYS, "no file system: " + noFs);
        }
        String path = path(file);
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long h = fs.open(path, Fs.CREATE | (append ? 0 : Fs.TRUNCATE_FLAG), 0644);
        try {
            long at = append ? fs.stat(h).size() : 0;
            fs.write(h, at, b, 0, b.length);
        } finally {
            closeQuietly(h);
        }
    }

    /**
     * Each command closes what it opened: the fs server holds a handle until it is closed, so a
     * shell that left them open would fill its table. A failed close (the server restarted and
     * forgot the handle) changes nothing the command did.
     */
    private void closeQuietly(long handle) {
        try {
            fs.close(handle);
        } catch (IsolaException e) {
            // the handle is gone already
        }
    }

    private static String path(String p) {
        return p.startsWith("/") ? p : "/" + p;
    }

    private static String instant(long ns) {
        return java.time.Instant.ofEpochSecond(ns / 1_000_000_000L, ns % 1_000_000_000L).toString();
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
