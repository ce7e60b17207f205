package isola.boot;

import static org.junit.jupiter.api.Assertions.*;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.sdk.Console;
import isola.sdk.Replies;
import isola.sdk.Sys;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The console path in the {@code vm} tier: the console device (host side) holds the lines typed
 * until the reader acknowledges them, so a crash of the console driver loses no line; lines of
 * any length reach the shell; the plain console prompts before it waits for input.
 */
class ConsoleTest {
    @TempDir
    static Path dir;
    static Path image;
    /** log and the console driver, no shell: the test is the console's only reader. */
    static Path consoleOnly;

    @BeforeAll
    static void buildImages() throws Exception {
        image = DefaultImage.build(dir.resolve("isola.img"), DefaultImage.defaultManifest());
        consoleOnly = DefaultImage.build(dir.resolve("console.img"), """
                [server log]
                jar      = log.jar
                priority = 200
                provides = log
                kept-memory = 512K

                [server console]
                jar      = console.jar
                priority = 150
                provides = console
                grants   = log, tty
                """);
    }

    /** A host-side client of the console service in a domain of its own, on the calling JVM thread. */
    static Sys client(Boot b, String name) {
        var k = b.machine().kernel();
        Domain d = k.createDomain(name, 16, 16);
        b.init().grantService("console", d, 0, 77);
        Tcb t = k.createThread(d, "test", 100);
        b.machine().attach(t);
        return Sys.of(k, t);
    }

    /** READ_LINE of line {@code n} from {@code offset}, once (no retry); the call's status. */
    static int read(Sys sys, long n, long offset, String prompt) {
        sys.mr(0, n);
        sys.mr(1, offset);
        int len = sys.putString(2, prompt);
        return sys.call(0, Tag.of(Console.READ_LINE, len), Sys.FOREVER);
    }

    /** The whole of line {@code n} as the reply to {@link #read} of offset 0 gives it (short lines). */
    static String line(Sys sys, long n, String prompt) {
        assertEquals(Status.OK, read(sys, n, 0, prompt));
        assertEquals(Replies.OK, sys.label(), () -> "line " + n + ": " + sys.string(1));
        assertEquals(n, sys.mr(0));
        return sys.string(2);
    }

    static long nextLine(Sys sys) {
        assertEquals(Status.OK, sys.call(0, Tag.of(Console.NEXT_LINE, 0), Sys.FOREVER));
        assertEquals(Replies.OK, sys.label());
        return sys.mr(0);
    }

    /** Waits (at most 30 s) until {@code what} holds; fails saying {@code waitingFor} and showing {@code shown}. */
    static void await(Supplier<Boolean> what, String waitingFor, Supplier<String> shown) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!what.get()) {
            if (System.nanoTime() > deadline) {
                fail("waited 30 s for " + waitingFor + "; the console shows:\n" + shown.get());
            }
            Thread.sleep(5);
        }
    }

    static String text(ByteArrayOutputStream bytes) {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static int count(String haystack, String needle) {
        int n = 0;
        for (int i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length())) {
            n++;
        }
        return n;
    }

    @Test
    void aLineIsDeliveredAgainUntilTheReaderTakesItAndAsksForTheNextOne() throws Exception {
        PipedOutputStream typing = new PipedOutputStream();
        ByteArrayOutputStream shown = new ByteArrayOutputStream();
        try (Boot b = Boot.start(consoleOnly, new PipedInputStream(typing, 1 << 16), new PrintStream(shown, true, StandardCharsets.UTF_8), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                b.awaitBooted();
                Sys sys = client(b, "reader");
                typing.write("first\nsecond\n".getBytes(StandardCharsets.UTF_8));
                typing.flush();
                assertEquals(0, nextLine(sys), "a new reader starts at line 0");
                assertEquals("first", line(sys, 0, "> "));
                assertEquals("first", line(sys, 0, "> "), "not acknowledged yet: the same line again");
                assertEquals(0, nextLine(sys), "line 0 was handed out but not taken: a new reader (its reader died) starts there");
                sys.mr(0, 1);
                assertEquals(Status.OK, sys.call(0, Tag.of(Console.TAKE_LINE, 1), Sys.FOREVER));
                assertEquals(Replies.ERROR, sys.label(), "line 1 was not handed out yet, so it cannot be taken");
                assertTrue(sys.string(1).contains("line 1 was not handed out"), sys.string(1));
                sys.mr(0, 0);
                assertEquals(Status.OK, sys.call(0, Tag.of(Console.TAKE_LINE, 1), Sys.FOREVER));
                assertEquals(Replies.OK, sys.label());
                assertEquals(1, nextLine(sys), "line 0 was taken");
                assertEquals("second", line(sys, 1, "> "));
                assertEquals(Status.OK, read(sys, 0, 0, "> "));
                assertEquals(Replies.ERROR, sys.label(), "asking for line 1 acknowledged line 0");
                assertEquals(Status.E_INVALID_ARG, (int) sys.mr(0));
                assertTrue(sys.string(1).contains("line 0 was acknowledged"), sys.string(1));
                assertEquals(Status.OK, read(sys, 5, 0, "> "));
                assertEquals(Replies.ERROR, sys.label(), "a line beyond the next to be read is refused");
                assertTrue(sys.string(1).contains("line 5 comes after the next line to be read, 2"), sys.string(1));
                assertEquals("> first\n> second\n", text(shown), "each line echoed after its prompt, each prompt once");
            });
        }
    }

    /**
     * The console driver dies while its read of a line waits in the device; the line is typed
     * after, and the device reads it for the dead driver's request. The retry, through the
     * driver's next incarnation, still gets it: nothing read from the device is lost before the
     * reader has it. The prompt is shown once, before the device waits for input.
     */
    @Test
    void aReadInterruptedByAConsoleCrashGetsTheSameLineFromTheNextIncarnation() throws Exception {
        PipedOutputStream typing = new PipedOutputStream();
        ByteArrayOutputStream shown = new ByteArrayOutputStream();
        try (Boot b = Boot.start(consoleOnly, new PipedInputStream(typing, 1 << 16), new PrintStream(shown, true, StandardCharsets.UTF_8), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                b.awaitBooted();
                CompletableFuture<Integer> first = new CompletableFuture<>();
                Thread.ofPlatform().daemon().name("console-test-reader")
                        .start(() -> first.complete(read(client(b, "reader"), 0, 0, "prompt> ")));
                await(() -> text(shown).equals("prompt> "), "the prompt, before anything was typed", () -> text(shown));
                assertFalse(first.isDone(), "the read waits for the line");
                Domain before = b.init().serverDomain("console");
                b.machine().kernel().injectFault(before, "test crash");
                assertEquals(Status.E_RESTARTED, (int) first.get(30, TimeUnit.SECONDS), "the driver died under the read");

                typing.write("typed after the crash\n".getBytes(StandardCharsets.UTF_8));
                typing.flush();
                await(() -> text(shown).endsWith("typed after the crash\n"), "the device to read (and echo) the line",
                        () -> text(shown));
                Sys sys = client(b, "retry");
                assertEquals("typed after the crash", line(sys, 0, "prompt> "), "the retry gets the line the dead driver's read took");
                assertNotSame(before, b.init().serverDomain("console"), "through the next incarnation");
                assertEquals("prompt> typed after the crash\n", text(shown), "one prompt, one echo");
            });
        }
    }

    /**
     * More crashes of the driver during one read than the device keeps waiting reads
     * ({@link ConsoleDevice#WAITERS}): each crash leaves a dead driver's read waiting in the
     * device, the oldest are let go to make room, and the live read still gets the line.
     */
    @Test
    void manyCrashesDuringOneReadLeaveTheReadWorking() throws Exception {
        Path img = DefaultImage.build(dir.resolve("crashy.img"), """
                [server log]
                jar      = log.jar
                provides = log
                kept-memory = 512K

                [server console]
                jar      = console.jar
                provides = console
                grants   = log, tty
                max-restarts = 1000
                backoff  = 0ms
                """);
        PipedOutputStream typing = new PipedOutputStream();
        ByteArrayOutputStream shown = new ByteArrayOutputStream();
        try (Boot b = Boot.start(img, new PipedInputStream(typing), new PrintStream(shown, true, StandardCharsets.UTF_8), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                b.awaitBooted();
                var k = b.machine().kernel();
                int crashes = ConsoleDevice.WAITERS + 4;
                for (int i = 0; i <= crashes; i++) {
                    String name = "reader" + i;
                    CompletableFuture<Integer> read = new CompletableFuture<>();
                    CompletableFuture<String> got = new CompletableFuture<>();
                    Thread.ofPlatform().daemon().name("console-test-" + name).start(() -> {
                        Sys sys = client(b, name);
                        int st = read(sys, 0, 0, "> ");
                        got.complete(st == Status.OK && sys.label() == Replies.OK ? sys.string(2) : null);
                        read.complete(st);
                    });
                    // The driver's thread waits on the device's reply: the read is parked there.
                    await(() -> k.threadsOf(b.init().serverDomain("console")).stream()
                            .anyMatch(t -> Tcb.stateName(t.state()).equals("reply")), "read " + i + " to reach the device",
                            () -> text(shown));
                    if (i == crashes) {
                        typing.write("at last\n".getBytes(StandardCharsets.UTF_8));
                        typing.flush();
                        assertEquals("at last", got.get(30, TimeUnit.SECONDS), "the live read gets the line");
                    } else {
                        k.injectFault(b.init().serverDomain("console"), "test crash " + i);
                        assertEquals(Status.E_RESTARTED, (int) read.get(30, TimeUnit.SECONDS));
                    }
                }
                assertEquals(crashes, b.init().restarts("console"));
                assertEquals("> at last\n", text(shown), "one prompt and one echo for the one line");
            });
        }
    }

    /** Piped commands around kills of the console: each runs exactly once, in order. */
    @Test
    void killingTheConsoleMidInputLosesAndRepeatsNoCommand() {
        BootTest.Run r = BootTest.boot(image, "echo one\nkill console\nnames\nkill console\nkill console\nps\necho two\n");
        assertEquals(0, r.status(), r.out());
        String o = r.out();
        assertEquals(3, count(o, "isola> kill console\n"), o);
        for (int n = 1; n <= 3; n++) {
            assertEquals(1, count(o, "killed console; restarted (restarts: " + n + ")\n"), o);
        }
        for (String c : new String[] {"echo one", "names", "ps", "echo two"}) {
            assertEquals(1, count(o, "isola> " + c + "\n"), "'" + c + "' ran once:\n" + o);
        }
        assertTrue(o.indexOf("\none\n") < o.indexOf("\nsupervisor\n") && o.indexOf("\nsupervisor\n") < o.indexOf("\ntwo\n"),
                "in order:\n" + o);
        assertTrue(o.lines().anyMatch(l -> l.matches("\\s*\\d+\\s+console\\s+running.*")), "ps shows the console serving:\n" + o);
    }

    /** Lines far longer than a message (about 500 bytes) reach the shell whole: ASCII, and UTF-8 of 2 to 4 bytes a character. */
    @Test
    void linesOfAnyLengthReachTheShell() {
        String ascii = "a".repeat(10_000);
        String wide = "é".repeat(3_000) + "€".repeat(2_000) + "😀".repeat(1_000) + "z";
        BootTest.Run r = BootTest.boot(image, "echo " + ascii + "\necho " + wide + "\necho x" + wide + " " + ascii + "\n");
        assertEquals(0, r.status(), r.out().length() > 2000 ? r.out().substring(0, 2000) : r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.equals(ascii)), "the 10 000-character line");
        assertTrue(r.out().lines().anyMatch(l -> l.equals(wide)), "the line of multi-byte characters");
        assertTrue(r.out().lines().anyMatch(l -> l.equals("x" + wide + " " + ascii)), "both, as two words");
    }

    /**
     * A line past the device's limit is refused with a message; it does not reach the shell, the
     * next one does, and the exit status says a command failed (as a script's should).
     */
    @Test
    void aLineTooLongForTheDeviceIsRefusedNamingTheLimit() {
        String huge = "echo " + "b".repeat(ConsoleDevice.MAX_LINE);
        BootTest.Run r = BootTest.boot(image, huge + "\necho next\n");
        assertEquals(1, r.status(), r.out().substring(0, Math.min(2000, r.out().length())));
        assertTrue(r.out().contains("console: a line of " + huge.length() + " characters was refused: at most "
                + ConsoleDevice.MAX_LINE + "\n"), "names the length and the limit");
        assertFalse(r.out().contains("bbbbbbbbbb"), "no part of it was run or echoed");
        assertTrue(r.out().lines().anyMatch(l -> l.equals("next")), r.out().substring(0, Math.min(2000, r.out().length())));
    }

    /** The plain console shows the prompt before it waits: a user (or a program) at a pipe sees it. */
    @Test
    void thePromptComesBeforeAnyInput() throws Exception {
        PipedOutputStream typing = new PipedOutputStream();
        ByteArrayOutputStream shown = new ByteArrayOutputStream();
        try (Boot b = Boot.start(image, new PipedInputStream(typing), new PrintStream(shown, true, StandardCharsets.UTF_8), false)) {
            assertTimeoutPreemptively(BootTest.HANG_GUARD, () -> {
                await(() -> text(shown).equals("isola> "), "the shell's prompt with nothing typed", () -> text(shown));
                try (OutputStream in = typing) {
                    in.write("echo typed\n".getBytes(StandardCharsets.UTF_8));
                }
                assertEquals(0, b.awaitExit());
                assertEquals("isola> echo typed\ntyped\nisola> \n", text(shown),
                        "the line echoed after its prompt; at the end of input the last prompt's line is ended");
            });
        }
    }

    @Test
    void theConsoleDeviceIsGrantedOnlyToTheConsoleDriver() {
        BootTest.Run r = BootTest.boot(image, "caps console\ncaps shell\nnames\n");
        assertEquals(0, r.status(), r.out());
        String caps = r.out().substring(0, r.out().indexOf("isola> caps shell"));
        String shell = r.out().substring(r.out().indexOf("isola> caps shell"), r.out().indexOf("isola> names"));
        assertTrue(caps.contains("(tty)"), "the console driver holds the device:\n" + caps);
        assertFalse(shell.contains("(tty)"), "the shell does not:\n" + shell);
        assertFalse(r.out().lines().anyMatch(l -> l.equals("tty")), "names does not list it:\n" + r.out());
    }
}
