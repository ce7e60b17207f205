package isola.boot;

import isola.boot.storm.FaultStorm;
import isola.kernel.machine.HostedMachine;
import isola.tier.IsolationTier;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import picocli.CommandLine.Option;

/**
 * The options of {@code storm} and what it does, shared by the JVM launcher's command line and
 * the native executable's, which differ only in the tier servers run in.
 */
public final class StormOptions {
    Path image = BootOptions.DEFAULT_IMAGE;

    @Option(names = "--image", paramLabel = "FILE", description = "boot image with the default servers (default: bootstrap/target/isola.img in the repository)")
    void image(Path file) {
        image = DiskCommands.users(file);
    }

    @Option(names = "--seed", paramLabel = "N", defaultValue = "1", description = "the storm's seed: its commands and its kills (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--ops", paramLabel = "N", defaultValue = "300", description = "shell commands to run (default: ${DEFAULT-VALUE})")
    int ops;

    @Option(names = "--kill-gap", paramLabel = "MS", defaultValue = "150", description = "mean time between the killer's moves, in ms (default: ${DEFAULT-VALUE})")
    int killGapMs;

    @Option(names = "--op-bound", paramLabel = "S", defaultValue = "30", description = "longest a command may take before it counts as a hang, in seconds (default: ${DEFAULT-VALUE})")
    int opBoundS;

    /** Runs the storm, prints its report; 0 if it passed, 1 if not, 2 if it could not run. */
    public int run(Function<HostedMachine, IsolationTier> tier) {
        if (ops < 1 || killGapMs < 1 || opBoundS < 1) {
            System.err.println("isola storm: --ops, --kill-gap and --op-bound must be at least 1 (got " + ops + ", " + killGapMs
                    + ", " + opBoundS + ")");
            return 2;
        }
        System.out.printf("fault storm: seed %d, %d operations, a kill every %d ms or so%n", seed, ops, killGapMs);
        FaultStorm.Report r;
        try {
            r = FaultStorm.run(new FaultStorm.Options(image, seed, ops, TimeUnit.SECONDS.toNanos(opBoundS), killGapMs, tier,
                    System.out));
        } catch (java.io.IOException | RuntimeException e) {
            System.err.println("isola storm: " + e.getMessage());
            return 2;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 2;
        }
        for (String f : r.failures()) {
            System.out.println("FAILED: " + f);
        }
        System.out.println(r.summary());
        if (!r.passed()) {
            System.out.println("reproduce: ./isola storm --seed " + seed + " --ops " + ops
                    + " (the same commands and kills; when each kill lands depends on timing)");
        }
        return r.passed() ? 0 : 1;
    }
}
