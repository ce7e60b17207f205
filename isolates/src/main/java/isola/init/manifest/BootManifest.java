package isola.init.manifest;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The boot manifest: which servers {@code init} starts, from which jar of the boot image, in which
 * isolation tier, which services each one serves and may call, and how the supervisor restarts it.
 *
 * <p>The format is a small human-edited text file, one section per server:
 *
 * <pre>
 * # comment
 * [server names]
 * jar      = names.jar        # a jar in the boot image (required)
 * tier     = vm               # isolation tier (default vm, the only per-server value; boot --native runs every server in the native tier)
 * priority = 200              # 0..255, higher runs first (default 100)
 * provides = names            # services this server serves, comma-separated; may be empty
 * grants   = log, console     # services this server may call, comma-separated; may be empty
 * restart  = on-crash         # on-crash (default) | never
 * max-restarts = 5            # 0..1000 (default 5)
 * backoff  = 10ms             # delay before a repeated restart (the first is immediate), doubling; ms or s, 0ms..60s (default 10ms)
 * kept-memory = 512K         # memory whose contents survive the server's restarts; K or M, 0K..16M (default 0K)
 * pager    = pager           # the service its page faults go to (a pager server provides it); default none
 * memory   = 16M             # frame quota: memory it may allocate for frames and page tables; K, M or G, 4K..1G (default 16M)
 * critical = yes              # yes | no (default): if it is left dead, the system says why and exits with status 3
 * deadline = 10s             # longest a call may take it; the supervisor's watchdog kills and restarts a server that
 *                            # overruns it (a loop that never makes a system call included); ms or s, 10ms..1h (default none)
 * </pre>
 *
 * <p>{@code #} starts a comment anywhere on a line; whitespace around keys and values is ignored;
 * keys are case-sensitive. Server and service names match {@code [a-z][a-z0-9-]*}.
 *
 * <p>Everything is checked at parse time — syntax, values, the jars against the image, that every
 * granted service has exactly one provider (or is built into the system) and that the
 * dependencies have no cycle — because a manifest error found halfway through boot would leave a
 * half-started system. The first problem found, in file order where that means anything, stops the
 * parse with a {@link ManifestException}.
 *
 * <p>The {@link ManifestParser} reads the text into sections, and the {@link DependencyGraph}
 * checks who provides what and orders the servers; this class is the checked result.
 *
 * <p>Instances are immutable.
 */
public final class BootManifest {
    private final String fileName;
    private final List<ServerSpec> startOrder;
    private final Map<String, ServerSpec> servers;
    private final Map<String, String> providers;
    private final Set<String> builtins;

    private BootManifest(
            String fileName,
            List<ServerSpec> startOrder,
            Map<String, ServerSpec> servers,
            Map<String, String> providers,
            Set<String> builtins) {
        this.fileName = fileName;
        this.startOrder = List.copyOf(startOrder);
        this.servers = Map.copyOf(servers);
        this.providers = Map.copyOf(providers);
        this.builtins = Set.copyOf(builtins);
    }

    /**
     * Parses and checks a manifest.
     *
     * @param fileName the manifest's name, used only in error messages
     * @param text the manifest's contents
     * @param imageFiles the paths present in the boot image; every {@code jar} must be one of them
     * @param builtinServices services the system itself provides (e.g. {@code proc},
     *     {@code supervisor}), which servers may be granted without any server providing them
     * @return the checked manifest
     * @throws ManifestException at the first problem, with its file, line and a description
     */
    public static BootManifest parse(
            String fileName, String text, Set<String> imageFiles, Set<String> builtinServices) {
        Objects.requireNonNull(fileName, "fileName");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(imageFiles, "imageFiles");
        Objects.requireNonNull(builtinServices, "builtinServices");
        List<ServerDraft> drafts = new ManifestParser(fileName, imageFiles).parse(text);
        DependencyGraph graph = new DependencyGraph(fileName, drafts, builtinServices);
        Map<String, ServerSpec> specs = new HashMap<>();
        List<ServerSpec> ordered = new ArrayList<>();
        for (ServerDraft d : graph.startOrder()) {
            ServerSpec spec = d.toSpec();
            specs.put(d.name, spec);
            ordered.add(spec);
        }
        return new BootManifest(fileName, ordered, specs, graph.providerNames(), builtinServices);
    }

    /**
     * The servers in the order {@code init} starts them: every server comes after every server that
     * provides a service it is granted, and servers that do not depend on each other keep their
     * manifest order (so the order only changes when it has to).
     */
    public List<ServerSpec> startOrder() {
        return startOrder;
    }

    /** The server with this name, or {@code null} if the manifest has none. */
    public ServerSpec server(String name) {
        return servers.get(name);
    }

    /** The manifest's file name, as given to {@link #parse}. */
    public String fileName() {
        return fileName;
    }

    /**
     * The name of the server that provides a service, or {@code null} if the service is a builtin.
     *
     * @throws IllegalArgumentException if neither a server nor the system provides the service;
     *     answering {@code null} there would make a misspelt service look like a builtin
     */
    public String provider(String service) {
        String server = providers.get(service);
        if (server != null || builtins.contains(service)) {
            return server;
        }
        throw new IllegalArgumentException(
                "no server in " + fileName + " provides service '" + service + "' and it is not builtin");
    }

    @Override
    public String toString() {
        return "BootManifest[" + fileName + ", " + startOrder.stream().map(ServerSpec::name).toList() + "]";
    }
}
