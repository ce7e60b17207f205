package isola.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import isola.boot.image.DefaultImage;
import isola.boot.storm.FaultStorm;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fault storm (isola.boot.storm.FaultStorm) in the vm tier: a seeded script of shell commands
 * while servers are killed at random, every command ending, nothing synced lost, fsck clean.
 * {@code -Disola.storm.ops=N} runs a longer one, {@code -Disola.storm.seed=S} another seed,
 * {@code -Disola.storm.kill-gap=MS} kills more often; ./isola storm runs the same from the
 * command line (and --native in the native executable).
 */
class FaultStormTest {
    @TempDir
    Path dir;

    @Test
    void everyCommandEndsAndNothingSyncedIsLost() throws Exception {
        Path image = DefaultImage.build(dir.resolve("isola.img"), DefaultImage.defaultManifest());
        long seed = Long.getLong("isola.storm.seed", 20261207);
        int ops = Integer.getInteger("isola.storm.ops", 300);
        FaultStorm.Report r = FaultStorm.run(new FaultStorm.Options(image, seed, ops, TimeUnit.SECONDS.toNanos(30),
                Integer.getInteger("isola.storm.kill-gap", 150), isola.tier.vm.VmTier::new, null));
        assertTrue(r.passed(), r.summary() + "\n" + String.join("\n", r.failures()));
        assertEquals(0, r.hangs());
        assertTrue(r.totalKills() >= ops / 10, "the storm killed too little to mean anything: " + r.summary());
        assertTrue(r.syncedBytesChecked() > 0, "nothing synced was read back: " + r.summary());
        System.out.println(r.summary());
    }
}
