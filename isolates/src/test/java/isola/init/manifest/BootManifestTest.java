package isola.init.manifest;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The boot manifest parser: a valid manifest, start order, and every error it must report. */
class BootManifestTest {
    static final String FILE = "boot/manifest.ini";
    static final Set<String> IMAGE =
            Set.of("names.jar", "log.jar", "console.jar", "fs.jar", "shell.jar", "a.jar", "b.jar", "c.jar", "d.jar");
    static final Set<String> BUILTINS = Set.of("proc", "supervisor");

    static BootManifest parse(String text) {
        return BootManifest.parse(FILE, text, IMAGE, BUILTINS);
    }

    /** Parses text that must fail; checks file, line, message format and that the problem names the input. */
    static ManifestException fails(String text, int line, String... mentions) {
        ManifestException e = assertThrows(ManifestException.class, () -> parse(text));
        assertEquals(FILE, e.fileName());
        assertEquals(line, e.line(), () -> "line of: " + e.getMessage());
        assertEquals(FILE + ":" + line + ": " + e.problem(), e.getMessage());
        for (String m : mentions) {
            assertTrue(e.problem().contains(m), () -> "'" + e.problem() + "' should mention '" + m + "'");
        }
        return e;
    }

    static List<String> order(BootManifest m) {
        return m.startOrder().stream().map(ServerSpec::name).toList();
    }

    /** A minimal section for tests that only care about one thing. */
    static String server(String name, String extra) {
        return "[server " + name + "]\njar = a.jar\n" + extra;
    }

    // ---- valid manifests ----

    static final String FULL = """
            # Isola boot manifest: one [server NAME] section per server, started in dependency order.

            [server shell]
            jar      = shell.jar
            grants   = fs, console, names, proc   # proc is builtin

            [server names]
            jar      = names.jar        # a jar in the boot image
            tier     = vm               # isolation tier; "vm" is the only per-server value
            priority = 200              # 0..255, higher runs first
            provides = names
            grants   = log, console
            restart  = on-crash
            max-restarts = 7
            backoff  = 250ms

            [server log]
            jar = log.jar
            provides = log
            grants =

            [server console]
            jar=console.jar
            provides = console
            grants = log, supervisor
            restart = never
            backoff = 2s

            \t[ server   fs ]\t
            \tjar\t=\tfs.jar\t
            provides = fs, fs-admin
            grants = names, log
            priority = 0
            max-restarts = 0
            backoff = 0ms
            """;

    @Test
    void fullManifestAppliesDefaultsAndOrdersByDependency() {
        BootManifest m = parse(FULL);
        assertEquals(FILE, m.fileName());
        assertEquals(List.of("log", "console", "names", "fs", "shell"), order(m));

        ServerSpec shell = m.server("shell");
        assertEquals(new ServerSpec("shell", "shell.jar", "vm", 100, List.of(),
                List.of("fs", "console", "names", "proc"), RestartPolicy.DEFAULT, 0, null, 16 << 20, null, 3, false), shell);

        ServerSpec names = m.server("names");
        assertEquals(new ServerSpec("names", "names.jar", "vm", 200, List.of("names"), List.of("log", "console"),
                new RestartPolicy(true, 7, Duration.ofMillis(250)), 0, null, 16 << 20, null, 7, false), names);

        ServerSpec log = m.server("log");
        assertEquals(List.of(), log.grants());
        assertEquals(RestartPolicy.DEFAULT, log.restart());
        assertEquals(new RestartPolicy(true, 5, Duration.ofMillis(10)), log.restart());

        ServerSpec console = m.server("console");
        assertEquals(new RestartPolicy(false, 5, Duration.ofSeconds(2)), console.restart());

        ServerSpec fs = m.server("fs");
        assertEquals(List.of("fs", "fs-admin"), fs.provides());
        assertEquals(0, fs.priority());
        assertEquals(new RestartPolicy(true, 0, Duration.ZERO), fs.restart());
        assertEquals(29, fs.line());

        assertNull(m.server("nope"));
        assertEquals("fs", m.provider("fs-admin"));
        assertEquals("names", m.provider("names"));
        assertNull(m.provider("proc"));
        assertNull(m.provider("supervisor"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.provider("blk"));
        assertTrue(e.getMessage().contains("'blk'"), e.getMessage());
    }

    @Test
    void specsAreImmutable() {
        BootManifest m = parse(FULL);
        assertThrows(UnsupportedOperationException.class, () -> m.startOrder().clear());
        assertThrows(UnsupportedOperationException.class, () -> m.server("fs").provides().clear());
    }

    @Test
    void carriageReturnLineEndingsAndExtremeValuesParse() {
        BootManifest m = parse("[server a]\r\njar = a.jar\r\npriority = 255\r\nmax-restarts = 1000\r\n"
                + "backoff = 60 s\r\n[server b]\r\njar = b.jar\r\npriority=0\r\nbackoff=60000ms\r\n");
        assertEquals(255, m.server("a").priority());
        assertEquals(1000, m.server("a").restart().maxRestarts());
        assertEquals(Duration.ofSeconds(60), m.server("a").restart().backoff());
        assertEquals(Duration.ofSeconds(60), m.server("b").restart().backoff());
        assertEquals(6, m.server("b").line());
    }

    @Test
    void independentServersKeepManifestOrder() {
        BootManifest m = parse("""
                [server d]
                jar = d.jar
                [server b]
                jar = b.jar
                [server c]
                jar = c.jar
                [server a]
                jar = a.jar
                """);
        assertEquals(List.of("d", "b", "c", "a"), order(m));
    }

    @Test
    void onlyDependentServersMove() {
        // c needs a; it moves after a, while b and d, which need nothing, keep their places.
        String text = """
                [server c]
                jar = c.jar
                grants = x
                [server b]
                jar = b.jar
                [server a]
                jar = a.jar
                provides = x
                [server d]
                jar = d.jar
                """;
        BootManifest m = parse(text);
        assertEquals(List.of("b", "a", "c", "d"), order(m));
        // The same manifest parsed again gives the same order: nothing depends on hashing.
        for (int i = 0; i < 5; i++) {
            assertEquals(order(m), order(parse(text)));
        }
    }

    @Test
    void aPagerStartsBeforeItsClientsAndMustBeProvided() {
        BootManifest m = parse("""
                [server app]
                jar = a.jar
                pager = mem
                [server pager]
                jar = b.jar
                provides = mem
                """);
        assertEquals(List.of("pager", "app"), order(m));
        assertEquals("mem", m.server("app").pager());
        assertNull(m.server("pager").pager());
        fails("""
                [server app]
                jar = a.jar
                pager = nowhere
                """, 3, "pager 'nowhere'", "no server provides it");
        fails("""
                [server app]
                jar = a.jar
                pager = a, b
                """, 3, "must name one service");
        fails("""
                [server app]
                jar = a.jar
                provides = mem
                pager = mem
                """, 4, "provides that service itself");
    }

    @Test
    void diamondDependency() {
        // top needs left and right, which both need base. Written upside down on purpose.
        BootManifest m = parse("""
                [server top]
                jar = d.jar
                grants = l, r
                [server right]
                jar = c.jar
                provides = r
                grants = base
                [server left]
                jar = b.jar
                provides = l
                grants = base
                [server base]
                jar = a.jar
                provides = base
                """);
        // right before left: both wait only on base, and right comes first in the manifest.
        assertEquals(List.of("base", "right", "left", "top"), order(m));
        assertEquals("base", m.provider("base"));
    }

    @Test
    void twoServicesFromOneProviderAreOneDependency() {
        BootManifest m = parse("""
                [server b]
                jar = b.jar
                grants = x, y, proc
                [server a]
                jar = a.jar
                provides = x, y
                """);
        assertEquals(List.of("a", "b"), order(m));
    }

    // ---- restart policy ----

    @Test
    void backoffDoublesPerConsecutiveRestartUpToTenSeconds() {
        RestartPolicy p = new RestartPolicy(true, 5, Duration.ofMillis(10));
        assertEquals(Duration.ofMillis(10), p.backoffFor(1));
        assertEquals(Duration.ofMillis(20), p.backoffFor(2));
        assertEquals(Duration.ofMillis(40), p.backoffFor(3));
        assertEquals(Duration.ofMillis(5120), p.backoffFor(10));
        assertEquals(Duration.ofSeconds(10), p.backoffFor(11));
        assertEquals(Duration.ofSeconds(10), p.backoffFor(Integer.MAX_VALUE));
        assertEquals(Duration.ZERO, new RestartPolicy(true, 5, Duration.ZERO).backoffFor(Integer.MAX_VALUE));
        // A base above the cap is honoured but not doubled.
        RestartPolicy slow = new RestartPolicy(true, 5, Duration.ofSeconds(30));
        assertEquals(Duration.ofSeconds(30), slow.backoffFor(1));
        assertEquals(Duration.ofSeconds(30), slow.backoffFor(4));
        assertThrows(IllegalArgumentException.class, () -> p.backoffFor(0));
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(true, -1, Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> new RestartPolicy(true, 1, Duration.ofMillis(-1)));
    }

    // ---- syntax errors ----

    @Test
    void lineThatIsNotHeaderCommentOrKeyValue() {
        fails("[server a]\njar = a.jar\njar a.jar   # oops\n", 3, "jar a.jar");
        fails("[server a]\njar = a.jar\n= a.jar\n", 3, "= a.jar");
        fails("[server a\njar = a.jar\n", 1, "[server a");
    }

    @Test
    void keyBeforeAnySection() {
        fails("# header comment\n\njar = a.jar\n[server a]\n", 3, "'jar'", "before any");
    }

    @Test
    void unknownSectionKind() {
        fails(server("a", "") + "[driver x]\njar = b.jar\n", 3, "'driver'", "[driver x]");
        fails("[]\n", 1, "[]");
    }

    @Test
    void headerWithoutNameOrWithExtraText() {
        fails("[server]\njar = a.jar\n", 1, "[server]");
        fails("[server a b]\njar = a.jar\n", 1, "[server a b]");
    }

    @Test
    void badServerName() {
        fails("[server Names]\njar = names.jar\n", 1, "'Names'");
        fails("[server 1st]\njar = a.jar\n", 1, "'1st'");
        fails("[server a_b]\njar = a.jar\n", 1, "'a_b'");
    }

    @Test
    void duplicateServer() {
        fails(server("a", "") + "[server b]\njar = b.jar\n\n[server a]\njar = a.jar\n", 6, "'a'", "line 1");
    }

    @Test
    void unknownKey() {
        ManifestException e = fails(server("a", "prio = 3\n"), 3, "'prio'", "[server a]");
        assertTrue(e.problem().contains("jar, tier, priority, provides, grants, restart, max-restarts, backoff, kept-memory, pager, memory, deadline"),
                e.problem());
        fails(server("a", "Jar = a.jar\n"), 3, "'Jar'"); // keys are case-sensitive
    }

    @Test
    void duplicateKeyInSection() {
        fails(server("a", "tier = vm\ntier = vm\n"), 4, "'tier'", "[server a]", "line 3");
    }

    @Test
    void duplicateKeyInAnotherSectionIsFine() {
        assertEquals(2, parse(server("a", "tier = vm\n") + server("b", "tier = vm\n")).startOrder().size());
    }

    @Test
    void emptyValueWhereOneIsRequired() {
        for (String key : List.of("jar", "tier", "priority", "restart", "max-restarts", "backoff", "deadline")) {
            fails("[server a]\n" + key + " =   # nothing\n", 2, "'" + key + "'", "empty");
        }
    }

    @Test
    void missingJarIsReportedAtTheHeader() {
        fails("# comment\n[server a]\ntier = vm\n\n[server b]\njar = b.jar\n", 2, "'a'", "'jar'");
        fails(server("a", "") + "[server last]\npriority = 1\n", 3, "'last'", "'jar'");
        fails("[server empty]\n", 1, "'empty'");
    }

    @Test
    void jarNotInTheImage() {
        ManifestException e = fails(server("a", "") + "[server b]\njar = nope.jar\n", 4, "'nope.jar'", "'b'");
        // The listing is sorted and abbreviated: 9 files, 5 shown.
        assertTrue(e.problem().contains("a.jar, b.jar, c.jar, console.jar, d.jar and 4 more"), e.problem());
        ManifestException empty = assertThrows(ManifestException.class,
                () -> BootManifest.parse(FILE, "[server a]\njar = a.jar\n", Set.of(), BUILTINS));
        assertTrue(empty.problem().contains("image is empty"), empty.problem());
    }

    @Test
    void unknownTier() {
        fails(server("a", "tier = process\n"), 3, "'process'", "vm");
        fails(server("a", "tier = VM\n"), 3, "'VM'");
    }

    @Test
    void priorityNotANumberOrOutOfRange() {
        fails(server("a", "priority = high\n"), 3, "'high'", "not a number", "0..255");
        fails(server("a", "priority = 1.5\n"), 3, "'1.5'", "not a number");
        fails(server("a", "priority = +5\n"), 3, "'+5'", "not a number");
        fails(server("a", "priority = 256\n"), 3, "256", "out of range", "0..255");
        fails(server("a", "priority = -1\n"), 3, "-1", "out of range");
        fails(server("a", "priority = 99999999999999999999\n"), 3, "99999999999999999999", "out of range");
    }

    @Test
    void badRestartValue() {
        fails(server("a", "restart = always\n"), 3, "'always'", "on-crash", "never");
    }

    @Test
    void badMaxRestarts() {
        fails(server("a", "max-restarts = lots\n"), 3, "max-restarts", "'lots'", "not a number");
        fails(server("a", "max-restarts = 1001\n"), 3, "max-restarts", "1001", "0..1000");
        fails(server("a", "max-restarts = -2\n"), 3, "-2", "out of range");
    }

    @Test
    void badBackoff() {
        fails(server("a", "backoff = 10\n"), 3, "'10'", "no unit");
        fails(server("a", "backoff = 5m\n"), 3, "'5m'", "unknown unit 'm'");
        fails(server("a", "backoff = 1.5s\n"), 3, "'1.5s'", "unknown unit '.5s'");
        fails(server("a", "backoff = fast\n"), 3, "'fast'", "not a duration");
        fails(server("a", "backoff = 61s\n"), 3, "'61s'", "out of range", "0ms..60s");
        fails(server("a", "backoff = 60001ms\n"), 3, "'60001ms'", "out of range");
        fails(server("a", "backoff = -1ms\n"), 3, "'-1ms'", "out of range");
        fails(server("a", "backoff = 9999999999999s\n"), 3, "'9999999999999s'", "out of range");
    }

    @Test
    void deadlines() {
        BootManifest m = parse("[server a]\njar = a.jar\ndeadline = 2s\n[server b]\njar = b.jar\ndeadline = 250 ms\n"
                + "[server c]\njar = c.jar\n");
        assertEquals(Duration.ofSeconds(2), m.server("a").deadline());
        assertEquals(Duration.ofMillis(250), m.server("b").deadline());
        assertNull(m.server("c").deadline(), "no deadline: no watchdog");
    }

    @Test
    void badDeadline() {
        fails(server("a", "deadline = 10\n"), 3, "deadline '10' of server 'a'", "no unit");
        fails(server("a", "deadline = 2m\n"), 3, "deadline '2m'", "unknown unit 'm'");
        fails(server("a", "deadline = soon\n"), 3, "deadline 'soon'", "not a duration");
        fails(server("a", "deadline = 0ms\n"), 3, "deadline '0ms'", "out of range", "10ms..3600s");
        fails(server("a", "deadline = 9ms\n"), 3, "'9ms'", "out of range");
        fails(server("a", "deadline = 3601s\n"), 3, "'3601s'", "out of range");
        fails(server("a", "deadline = -1s\n"), 3, "'-1s'", "out of range");
    }

    @Test
    void keptMemorySizes() {
        BootManifest m = parse("[server a]\njar = a.jar\nkept-memory = 512K\n[server b]\njar = b.jar\nkept-memory = 16 M\n"
                + "[server c]\njar = c.jar\n");
        assertEquals(512 * 1024, m.server("a").keptMemory());
        assertEquals(16 << 20, m.server("b").keptMemory());
        assertEquals(0, m.server("c").keptMemory());
    }

    @Test
    void badKeptMemory() {
        fails(server("a", "kept-memory = 512\n"), 3, "kept-memory '512'", "not a size", "K or M");
        fails(server("a", "kept-memory = 1G\n"), 3, "'1G'", "not a size");
        fails(server("a", "kept-memory = -1K\n"), 3, "'-1K'", "not a size");
        fails(server("a", "kept-memory = 17M\n"), 3, "'17M'", "out of range", "0K..16M");
        fails(server("a", "kept-memory = 99999999999K\n"), 3, "out of range");
    }

    @Test
    void memoryQuotas() {
        BootManifest m = parse("[server a]\njar = a.jar\nmemory = 64M\n[server b]\njar = b.jar\nmemory = 1 G\n"
                + "[server c]\njar = c.jar\nmemory = 4K\n[server d]\njar = d.jar\n");
        assertEquals(64 << 20, m.server("a").memory());
        assertEquals(1 << 30, m.server("b").memory());
        assertEquals(4096, m.server("c").memory());
        assertEquals(16 << 20, m.server("d").memory(), "the default");
    }

    @Test
    void badMemoryQuotas() {
        fails(server("a", "memory = 64\n"), 3, "memory '64'", "not a size", "K, M or G");
        fails(server("a", "memory = 0K\n"), 3, "'0K'", "out of range", "4K..1G");
        fails(server("a", "memory = 2G\n"), 3, "'2G'", "out of range", "4K..1G");
        fails(server("a", "memory = 6K\n"), 3, "'6K'", "whole number of 4K pages");
        fails(server("a", "memory = 99999999999M\n"), 3, "out of range");
    }

    @Test
    void badServiceLists() {
        fails(server("a", "provides = Names\n"), 3, "'Names'", "provides");
        fails(server("a", "grants = log,,console\n"), 3, "empty item", "'log,,console'");
        fails(server("a", "grants = log,\n"), 3, "empty item", "grants");
        fails(server("a", "grants = proc, proc\n"), 3, "'proc'", "twice");
    }

    // ---- whole-manifest errors ----

    @Test
    void twoServersProvidingTheSameService() {
        fails(server("a", "provides = x, log\n") + "[server b]\njar = b.jar\n\nprovides = log\n", 7,
                "'log'", "'a'", "'b'", "line 3");
    }

    @Test
    void serverProvidingABuiltin() {
        fails(server("a", "provides = proc\n"), 3, "'a'", "'proc'", "builtin");
    }

    @Test
    void grantedServiceThatNobodyProvides() {
        fails(server("a", "provides = x\n") + server("shell", "priority = 1\ngrants = x, proc, fs\n"), 7,
                "'shell'", "'fs'", "no server provides it", "proc, supervisor");
        ManifestException e = assertThrows(ManifestException.class,
                () -> BootManifest.parse(FILE, server("a", "grants = proc\n"), IMAGE, Set.of()));
        assertEquals(3, e.line());
        assertTrue(e.problem().contains("'proc'"), e.problem());
    }

    @Test
    void selfGrant() {
        fails(server("a", "provides = x\ngrants = x\n"), 4, "'a'", "'x'", "self-grant");
    }

    @Test
    void dependencyCycleOfTwo() {
        fails("""
                [server z]
                jar = c.jar
                [server a]
                jar = a.jar
                provides = x
                grants = y
                [server b]
                jar = b.jar
                provides = y
                grants = x
                """, 3, "a -> b -> a");
    }

    @Test
    void dependencyCycleIsReportedFromItsFirstMember() {
        // The walk starts at 'entry', which only leads into the cycle c -> a -> b -> c; the report
        // starts at 'a', the member defined first among the cycle.
        fails("""
                [server entry]
                jar = d.jar
                grants = into
                [server a]
                jar = a.jar
                provides = pa
                grants = pb
                [server c]
                jar = c.jar
                provides = pc, into
                grants = pa
                [server b]
                jar = b.jar
                provides = pb
                grants = pc
                """, 4, "a -> b -> c -> a");
    }

    @Test
    void emptyManifest() {
        fails("", 1, "no servers");
        fails("# only comments\n\n   # and blanks\n", 1, "no servers");
    }

    @Test
    void firstErrorInFileOrderWins() {
        // Line 2 has an unknown key and line 5 a bad tier; the unknown key is reported.
        fails("[server a]\nbogus = 1\njar = a.jar\n[server b]\ntier = x\n", 2, "'bogus'");
        // A missing jar in a closed section comes before an error in the next one.
        fails("[server a]\n[server b]\ntier = x\n", 1, "'a'", "'jar'");
    }

    @Test
    void exceptionCarriesPlaceAndProblem() {
        ManifestException e = new ManifestException("m", 7, "bad");
        assertEquals("m:7: bad", e.getMessage());
        assertEquals("m", e.fileName());
        assertEquals(7, e.line());
        assertEquals("bad", e.problem());
    }

    @Test
    void criticalIsYesOrNo() {
        BootManifest m = parse("[server a]\njar = a.jar\ncritical = yes\n[server b]\njar = b.jar\n");
        assertTrue(m.server("a").critical());
        assertFalse(m.server("b").critical(), "not critical unless it says so");
        fails("[server a]\njar = a.jar\ncritical = maybe\n", 3, "critical 'maybe'", "server 'a'", "yes or no");
    }
}
