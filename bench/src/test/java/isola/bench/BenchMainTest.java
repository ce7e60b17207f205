package isola.bench;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BenchMainTest {
    private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
    private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void unknownSuiteListsKnownSuitesAndExits2() {
        assertEquals(2, BenchMain.run(new String[] {"nosuch"}, out, err));
        assertTrue(err().contains("unknown suite 'nosuch'"), err());
        assertTrue(err().contains("known suites: ipc"), err());
    }

    @Test
    void noSuiteIsAUsageError() {
        assertEquals(2, BenchMain.run(new String[0], out, err));
        assertTrue(err().contains("usage:"), err());
    }

    @Test
    void badOptionsAreUsageErrors() {
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--bogus"}, out, err));
        assertTrue(err().contains("unknown option '--bogus'"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--forks", "x"}, out, err));
        assertTrue(err().contains("--forks 'x' is not an integer"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--time"}, out, err));
        assertTrue(err().contains("--time needs a value"), err());
        assertEquals(2, BenchMain.run(new String[] {"ipc", "--include", "nothing"}, out, err));
        assertTrue(err().contains("matches none"), err());
    }

    @Test
    void parsesQuickRunOptions() {
        BenchMain.IpcOptions o = BenchMain.IpcOptions.parse(List.of("--forks", "1", "--warmup=2",
                "--iterations", "3", "--time", "0.5", "--include", "passive.*", "--result", "x/y.json",
                "--prof", "gc", "--sequential", "--fail-on-miss"));
        assertEquals(1, o.forks);
        assertEquals(2, o.warmup);
        assertEquals(3, o.iterations);
        assertEquals(0.5, o.time);
        assertEquals("passive.*", o.include);
        assertEquals(Path.of("x/y.json"), o.result);
        assertEquals(List.of("gc"), o.profilers);
        assertTrue(o.sequential);
        assertTrue(o.failOnMiss);
    }

    @Test
    void defaultsAreTheFullSuite() {
        BenchMain.IpcOptions o = BenchMain.IpcOptions.parse(List.of());
        assertEquals(2, o.forks);
        assertEquals(5, o.warmup);
        assertEquals(10, o.iterations);
        assertEquals(1.0, o.time);
        assertEquals(Path.of("target", "bench", "ipc.json"), o.result);
    }

    @Test
    void statsAreOverAllIterations() {
        BenchMain.Stats odd = BenchMain.Stats.of(List.of(5.0, 1.0, 3.0), 1, "ns/op");
        assertEquals(3.0, odd.median());
        assertEquals(1.0, odd.min());
        assertEquals(5.0, odd.max());
        assertEquals(3, odd.iterations());
        BenchMain.Stats even = BenchMain.Stats.of(List.of(4.0, 1.0, 2.0, 10.0), 2, "ns/op");
        assertEquals(3.0, even.median());
        assertTrue(Double.isNaN(BenchMain.Stats.of(List.of(), 0, "ns/op").median()));
    }
}
