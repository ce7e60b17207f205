package isola.boot;

import static isola.boot.BootTest.boot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.boot.image.DefaultImage;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Orders of faults that once hung the system, run through the shell as a user types them: each
 * must end (BootTest's hang guard), with every command run.
 */
class FaultOrderTest {
    @TempDir
    static Path dir;
    static Path image;

    @BeforeAll
    static void buildImage() throws Exception {
        image = DefaultImage.build(dir.resolve("isola.img"), DefaultImage.defaultManifest());
    }

    /** The supervisor once logged through the log server it had to restart, and waited on it forever. */
    @Test
    void killingLogRightAfterAnotherRestartDoesNotHangTheSupervisor() {
        BootTest.Run r = boot(image, "kill fs\nkill fs\nkill log\nps\nsupervisor\nnames\necho done\n");
        assertEquals(0, r.status(), r.out());
        String o = r.out();
        assertTrue(o.lines().anyMatch(l -> l.matches("log\\s+on-crash\\s+1\\s+.*running")), "log was restarted once:\n" + o);
        assertTrue(o.lines().anyMatch(l -> l.matches("fs\\s+on-crash\\s+2\\s+.*running")), "fs twice:\n" + o);
        assertTrue(o.contains("\ndone\n"), o);
    }

    @Test
    void killingNamesThenLogDoesNotHang() {
        BootTest.Run r = boot(image, "kill names\nkill log\nnames\ndmesg\necho done\n");
        assertEquals(0, r.status(), r.out());
        assertTrue(r.out().contains("\ndone\n"), r.out());
    }

    /** kill answers once the restart is done, so what runs next sees the new incarnation. */
    @Test
    void killWaitsForTheRestart() {
        BootTest.Run r = boot(image, "kill names\nsupervisor\n");
        assertEquals(0, r.status(), r.out());
        assertTrue(r.out().contains("killed names; restarted (restarts: 1)"), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("names\\s+on-crash\\s+1\\s+.*running")), r.out());
    }

    /**
     * klogd once wrote only init's and the supervisor's queued records at shutdown: the kernel's
     * records of a kill within klogd's batch window (10 ms) before it never reached the host log.
     * In this tier a restart takes longer than the window, so this holds either way; the native
     * tier's boot test (NativeExecutableIT), where a restart takes a millisecond, met the loss.
     */
    @Test
    void theKernelsRecordsOfAKillJustBeforeShutdownReachTheHostLog() throws Exception {
        Path hostLog = Path.of(System.getProperty("isola.log.file", "target/isola.log"));
        long before = killedNamesRecords(hostLog);
        BootTest.Run r = boot(image, "kill names\nshutdown\n");
        assertEquals(0, r.status(), r.out());
        assertEquals(before + 1, killedNamesRecords(hostLog), "the host log " + hostLog.toAbsolutePath()
                + " has the kernel's record of the kill");
    }

    private static long killedNamesRecords(Path hostLog) throws java.io.IOException {
        if (!java.nio.file.Files.exists(hostLog)) {
            return 0;
        }
        try (var lines = java.nio.file.Files.lines(hostLog)) {
            return lines.filter(l -> l.contains("(names) killed, to be restarted")).count();
        }
    }

    @Test
    void shutdownKeepsAFailedCommandsStatus() {
        BootTest.Run r = boot(image, "cat /nonexistent\nshutdown\n");
        assertEquals(1, r.status(), "a command failed before shutdown:\n" + r.out());
        assertEquals(0, boot(image, "echo fine\nshutdown\n").status());
    }

    /** The status survives a restart of the shell (init keeps it), with shutdown and at the end of input. */
    @Test
    void aRestartedShellKeepsAFailedCommandsStatus() {
        BootTest.Run r = boot(image, "cat /nonexistent\nkill shell\necho after\nshutdown\n");
        assertEquals(1, r.status(), "a command failed before the shell restarted:\n" + r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.equals("after")), r.out());
        assertEquals(1, boot(image, "cat /nonexistent\nkill shell\necho after\n").status());
        assertEquals(0, boot(image, "echo fine\nkill shell\necho after\nshutdown\n").status(), "a kill is not a failure");
    }

    @Test
    void catOfADirectorySaysEisdir() {
        BootTest.Run r = boot(image, "cat /\n");
        assertEquals(1, r.status(), r.out());
        assertTrue(r.out().contains("cat: /: is a directory (EISDIR)"), r.out());
    }

    /**
     * A restarted shell's file client once used the dead incarnation's buffer, which the fs server
     * still held for its badge: the new shell's paths were read from the old one's bytes.
     */
    @Test
    void aRestartedShellReadsFilesThroughItsOwnBuffer() {
        BootTest.Run r = boot(image, "write /f1 hello there\nkill shell\ncat /f1\nls /\n");
        assertTrue(r.out().contains("\nhello there\n"), r.out());
        assertTrue(!r.out().contains("not absolute"), r.out());
    }

    /**
     * The shell killed more often than its max-restarts: the system once hung with nothing on
     * the terminal. The shell is critical in the default manifest, so the system now stops, says
     * why on stderr, and exits 3.
     */
    @Test
    void aCriticalServerGivenUpOnStopsTheSystemSayingWhy() {
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream said = new java.io.ByteArrayOutputStream();
        BootTest.Run r;
        try {
            System.setErr(new java.io.PrintStream(said, true, java.nio.charset.StandardCharsets.UTF_8));
            r = boot(image, "kill shell\nkill shell\nkill shell\nkill shell\necho never\n");
        } finally {
            System.setErr(err);
        }
        assertEquals(3, r.status(), r.out());
        String e = said.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(e.contains("isola: the critical server shell is dead: shell crashed") && e.contains("gave up after 3 restarts"), e);
        assertTrue(!r.out().contains("\nnever\n"), r.out());
    }
}
