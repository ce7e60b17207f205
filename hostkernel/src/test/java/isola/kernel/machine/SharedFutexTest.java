package isola.kernel.machine;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link SharedFutex} between this JVM and a child JVM process mapping the same {@code /dev/shm}
 * file: what the process tier's threads will block on. Every wait is bounded, so a dead or
 * stuck peer ends the test with an error, not a hang.
 */
class SharedFutexTest {
    /**
     * Bound of the whole exchange, all rounds (a bounded event wait, not a timing claim: it takes
     * well under a second). One bound for all rounds, not one per wait, so a wake that never
     * arrives (a private futex, say) fails the test instead of each round ending at its bound.
     */
    static final long EXCHANGE_BOUND_NS = TimeUnit.SECONDS.toNanos(60);
    static final int ROUNDS = 2_000;

    Path file;
    Arena arena;
    MemorySegment shared;

    @BeforeEach
    void map() throws Exception {
        file = Files.createTempFile(Path.of("/dev/shm"), "isola-futex-test", ".shm");
        arena = Arena.ofShared();
        shared = mapped(file, arena);
    }

    @AfterEach
    void unmap() throws Exception {
        arena.close();
        Files.deleteIfExists(file);
    }

    static MemorySegment mapped(Path file, Arena arena) throws Exception {
        try (FileChannel fc = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            return fc.map(FileChannel.MapMode.READ_WRITE, 0, 4096, arena);
        }
    }

    @Test
    void twoProcessesTakeTurnsBlockingOnOneWord() throws Exception {
        Process child = startChild("pong", file.toString(), Integer.toString(ROUNDS));
        try {
            SharedFutex.Waiter waiter = new SharedFutex.Waiter();
            long deadline = System.nanoTime() + EXCHANGE_BOUND_NS;
            for (int i = 0; i < ROUNDS; i++) {
                shared.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 0, 2 * i + 1); // the child's turn
                SharedFutex.wake(shared, 0, 1);
                awaitValue(waiter, shared, 2 * i + 2, child, deadline);
            }
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child exits after its last round");
            assertEquals(0, child.exitValue(), new String(child.getErrorStream().readAllBytes()));
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void aWaitReturnsAtOnceIfTheWordAlreadyChangedAndEndsAtItsBound() {
        SharedFutex.Waiter waiter = new SharedFutex.Waiter();
        shared.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 1, 7);
        assertEquals(SharedFutex.EAGAIN, waiter.await(shared, 4, 6, -1), "the word holds 7, not 6: no sleep");
        assertEquals(SharedFutex.ETIMEDOUT, waiter.await(shared, 4, 7, TimeUnit.MILLISECONDS.toNanos(5)));
        assertEquals(0, SharedFutex.wake(shared, 4, 1), "nobody waits: a wake is not stored");
    }

    @Test
    void aWaitForAPeerThatDiedEndsAtItsBound() throws Exception {
        Process child = startChild("die", file.toString(), "0");
        assertTrue(child.waitFor(60, TimeUnit.SECONDS));
        SharedFutex.Waiter waiter = new SharedFutex.Waiter();
        assertEquals(SharedFutex.ETIMEDOUT, waiter.await(shared, 0, 0, TimeUnit.MILLISECONDS.toNanos(20)),
                "a peer that died never wakes us; the bound does");
    }

    @Test
    void wordsOutsideMappedMemoryAreRefusedNamingTheOffset() {
        SharedFutex.Waiter waiter = new SharedFutex.Waiter();
        IllegalArgumentException odd = assertThrows(IllegalArgumentException.class, () -> SharedFutex.wake(shared, 2, 1));
        assertTrue(odd.getMessage().contains("offset 2"), odd.getMessage());
        IllegalArgumentException past = assertThrows(IllegalArgumentException.class,
                () -> waiter.await(shared, 4096, 0, 0));
        assertTrue(past.getMessage().contains("offset 4096"), past.getMessage());
        IllegalArgumentException heap = assertThrows(IllegalArgumentException.class,
                () -> SharedFutex.wake(MemorySegment.ofArray(new int[4]), 0, 1));
        assertTrue(heap.getMessage().contains("native"), heap.getMessage());
    }

    /** Waits until the word at 0 holds {@code want}, failing past {@code deadline} or if the peer died. */
    static void awaitValue(SharedFutex.Waiter waiter, MemorySegment m, int want, Process peer, long deadline) {
        for (;;) {
            int now = m.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 0);
            if (now == want) {
                return;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || (peer != null && !peer.isAlive() && m.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 0) != want)) {
                throw new AssertionError("word stayed " + now + ", waiting for " + want
                        + (peer != null && !peer.isAlive() ? " (the peer exited " + peer.exitValue() + ")" : ""));
            }
            waiter.await(m, 0, now, left); // no shorter slices: a wake that does not arrive fails the test
        }
    }

    private static Process startChild(String mode, String... args) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = codeSource(SharedFutexTest.class) + File.pathSeparator + codeSource(SharedFutex.class);
        var cmd = new java.util.ArrayList<>(java.util.List.of(javaBin, "--enable-native-access=ALL-UNNAMED", "-cp", cp,
                Child.class.getName(), mode));
        cmd.addAll(java.util.List.of(args));
        return new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static String codeSource(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }

    /** The other process: answers each odd value with the next even one ("pong"), or exits at once ("die"). */
    static final class Child {
        public static void main(String[] args) throws Exception {
            if (args[0].equals("die")) {
                System.exit(0);
            }
            int rounds = Integer.parseInt(args[2]);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment m = mapped(Path.of(args[1]), arena);
                SharedFutex.Waiter waiter = new SharedFutex.Waiter();
                long deadline = System.nanoTime() + EXCHANGE_BOUND_NS;
                for (int i = 0; i < rounds; i++) {
                    awaitValue(waiter, m, 2 * i + 1, null, deadline);
                    m.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, 0, 2 * i + 2);
                    SharedFutex.wake(m, 0, 1);
                }
            }
        }
    }
}
