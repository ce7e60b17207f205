package isola.tier;

import isola.kernel.Domain;
import isola.kernel.Tcb;
import isola.sdk.Kept;
import java.nio.file.Path;
import java.util.Map;

/**
 * How a server domain is isolated and run: what init and the supervisor need of a tier. The
 * {@code vm} tier ({@code isola.tier.vm.VmTier}) gives each domain a class loader in the kernel's JVM;
 * the native tier gives each its own GraalVM isolate. A server's start goes in three steps, so
 * the slow ones can happen ahead of a crash: {@link #prepare} (check the server, load its code),
 * {@link #load} (its domain), {@link #start} (its first thread runs {@code Server.start}).
 */
public interface IsolationTier {
    /** A server made ready to run, with no domain yet. */
    interface Prepared {
        String name();

        /** Lets go of a prepared server that will not be started. */
        void discard();
    }

    /** A server incarnation's domain, loaded, not started yet. */
    interface Loaded {
        Domain domain();

        /** What isolates it, as ps shows it: "vm", or the isolate's name and address. */
        String isolation();
    }

    /** Checks the server in {@code jar} and makes it ready; errors name the jar and say what is wrong. */
    Prepared prepare(String name, Path jar);

    /** As {@link #prepare}, and as much of the start's work as can be done before it (a warmed thread, an instance). */
    Prepared prepareAhead(String name, Path jar);

    /** Creates the domain of a prepared server. */
    Loaded load(Prepared p, int slots, int quota);

    /** Starts the server on the domain's first thread, "main", at {@code priority}, telling it {@code info}. */
    Tcb start(Loaded loaded, int priority, StartInfo info);

    /**
     * Lets go of an incarnation whose domain is dead (its successor serves, or it was given up):
     * the native tier tears its isolate down once no thread is inside it. Never blocks long.
     */
    default void release(Loaded old) {
    }

    /**
     * What a server is told at start, like seL4's boot info: by service name, the slots of the
     * endpoints it provides and of the services it was granted; the devices it was granted; what
     * was kept for it across restarts; and the slot of its keep capability (-1: none).
     */
    record StartInfo(Map<String, Integer> endpoints, Map<String, Integer> services,
            Map<String, isola.device.HostDisk> devices, Kept kept, int keepSlot) {
        public StartInfo {
            endpoints = Map.copyOf(endpoints);
            services = Map.copyOf(services);
            devices = Map.copyOf(devices);
            java.util.Objects.requireNonNull(kept, "kept");
        }
    }
}
