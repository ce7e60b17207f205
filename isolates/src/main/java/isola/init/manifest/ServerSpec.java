package isola.init.manifest;

import java.util.List;
import java.util.Objects;

/**
 * One {@code [server NAME]} section of the boot manifest, with defaults applied.
 *
 * @param name the server's name, {@code [a-z][a-z0-9-]*}
 * @param jar the server's jar, a path present in the boot image
 * @param tier the isolation tier the server runs in (only {@code "vm"} exists for now)
 * @param priority scheduling priority 0..255, higher runs first
 * @param provides the services (endpoints) this server serves, in manifest order
 * @param grants the services this server may call, in manifest order
 * @param restart what the supervisor does when the server crashes
 * @param keptMemory bytes of memory whose contents survive the server's restarts (0: none)
 * @param pager the service its page faults go to, or null (none)
 * @param memory its frame quota in bytes (frames and page tables it may allocate), whole pages
 * @param deadline how long it may take over a call before the supervisor's watchdog kills and
 *     restarts it, or null (no watchdog)
 * @param line the 1-based line of the section's {@code [server NAME]} header
 * @param critical the system cannot go on without it: when the supervisor leaves it dead (it
 *     gave up, or {@code restart = never}), the system says why and stops with a failure status
 */
public record ServerSpec(
        String name,
        String jar,
        String tier,
        int priority,
        List<String> provides,
        List<String> grants,
        RestartPolicy restart,
        long keptMemory,
        String pager,
        long memory,
        java.time.Duration deadline,
        int line,
        boolean critical) {

    public ServerSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(jar, "jar");
        Objects.requireNonNull(tier, "tier");
        Objects.requireNonNull(restart, "restart");
        // Immutable copies: a spec is handed to init, the supervisor and names alike.
        provides = List.copyOf(provides);
        grants = List.copyOf(grants);
    }
}
