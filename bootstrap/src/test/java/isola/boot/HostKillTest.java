package isola.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.device.HostDisk;
import isola.system.fs.FileSystem;
import isola.system.fs.Fsck;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills the whole host process (SIGKILL) at a random moment of a random workload, then mounts
 * the image again (replaying its journal) and compares it with the workload's model at the last
 * sync the process acknowledged: every file synced and not touched since is there, byte for
 * byte, and fsck finds nothing wrong.
 */
class HostKillTest {
    @TempDir
    Path tmp;

    @Test
    void killingTheHostProcessLosesNothingSynced() throws Exception {
        Random seeds = new Random(Long.getLong("isola.crash.seed", 424242));
        int runs = Integer.getInteger("isola.hostkill.runs", 4);
        for (int run = 0; run < runs; run++) {
            killOnce(seeds.nextLong(), 800 + seeds.nextInt(1500), run); // the first sync comes within a few ms of READY
        }
    }

    private void killOnce(long seed, int killAfterMs, int run) throws Exception {
        Path image = tmp.resolve("kill-" + run + ".img");
        DiskImage.mkfs(image, 64L << 20);
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), FsWorkload.class.getName(), image.toString(), Long.toString(seed))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int lastAck = -1;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line = out.readLine();
            assertEquals("READY", line, "the workload did not start");
            long killAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(killAfterMs);
            while (System.nanoTime() < killAt && (line = out.readLine()) != null) {
                if (line.startsWith("ACK ")) {
                    lastAck = Integer.parseInt(line.substring(4));
                }
            }
            // SIGKILL from outside: nothing in the process runs after it, and (unlike Process.destroy)
            // its output stays open, so what it printed before it died can still be read.
            new ProcessBuilder("kill", "-KILL", Long.toString(child.pid())).start().waitFor();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
            // Acknowledgements printed before the kill still count; read what is left.
            while ((line = out.readLine()) != null) {
                if (line.startsWith("ACK ")) {
                    lastAck = Integer.parseInt(line.substring(4));
                }
            }
        }
        assertTrue(lastAck >= 0, "seed " + seed + ": no sync was acknowledged in " + killAfterMs + " ms");
        Set<String> touched = new HashSet<>();
        Map<String, byte[]> acked = FsWorkload.replay(seed, lastAck, touched);
        try (HostDisk d = HostDisk.open(image, false)) {
            try (FileSystem fs = FileSystem.mount(d)) {
                int checked = 0;
                for (var e : acked.entrySet()) {
                    if (touched.contains(e.getKey())) {
                        continue; // changed after the last acknowledged sync: either version may be there
                    }
                    FileSystem.Handle h = fs.open(e.getKey(), false, false, false, 0);
                    byte[] back = new byte[(int) fs.stat(e.getKey()).size()];
                    fs.read(h, 0, MemorySegment.ofArray(back), 0, back.length);
                    assertArrayEquals(e.getValue(), back, "seed " + seed + ": " + e.getKey() + " after sync " + lastAck);
                    checked++;
                }
                assertTrue(checked > 0 || acked.isEmpty());
            }
            assertEquals(List.of(), Fsck.check(d).problems(), "seed " + seed + ": fsck after the kill");
        }
    }
}
