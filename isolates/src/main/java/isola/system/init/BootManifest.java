package isola.system.init;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeSet;

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
 * tier     = vm               # isolation tier (default vm; only vm exists for now)
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
 * <p>Instances are immutable.
 */
public final class BootManifest {

    /** Isolation tiers a server may name. Only the class-loader tier exists so far. */
    static final List<String> KNOWN_TIERS = List.of("vm");

    /** The keys of a server section, in the order the documentation lists them. */
    static final List<String> KNOWN_KEYS =
            List.of("jar", "tier", "priority", "provides", "grants", "restart", "max-restarts", "backoff", "kept-memory",
                    "pager", "memory", "deadline", "critical");

    static final String DEFAULT_TIER = "vm";
    static final int DEFAULT_PRIORITY = 100;
    static final int MAX_PRIORITY = 255;
    static final int MAX_RESTARTS_LIMIT = 1000;
    static final Duration MAX_BACKOFF = Duration.ofSeconds(60);
    static final long MAX_KEPT_MEMORY = 16L << 20;
    /** A server's frame quota unless its section says otherwise, and the most it may say. */
    static final long DEFAULT_MEMORY = 16L << 20;
    static final long MAX_MEMORY = 1L << 30;
    /** The shortest and longest call deadline: the watchdog checks a few times per deadline. */
    static final Duration MIN_DEADLINE = Duration.ofMillis(10);
    static final Duration MAX_DEADLINE = Duration.ofHours(1);

    /** How many image files an error message lists before it abbreviates. */
    private static final int IMAGE_LISTING = 5;

    private static final String NAME_RULE = "[a-z][a-z0-9-]*";

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
        return new Parser(fileName, imageFiles, builtinServices).parse(text);
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

    /** True if {@code s} matches {@code [a-z][a-z0-9-]*}. */
    static boolean isName(String s) {
        if (s.isEmpty() || s.charAt(0) < 'a' || s.charAt(0) > 'z') {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
                return false;
            }
        }
        return true;
    }

    /** One server section while it is being read: values as given, plus the lines of its keys. */
    private static final class Draft {
        final String name;
        final int headerLine;
        final int index;
        final Map<String, Integer> keyLines = new HashMap<>();
        String jar;
        String tier = DEFAULT_TIER;
        int priority = DEFAULT_PRIORITY;
        List<String> provides = List.of();
        List<String> grants = List.of();
        boolean onCrash = RestartPolicy.DEFAULT.onCrash();
        int maxRestarts = RestartPolicy.DEFAULT.maxRestarts();
        Duration backoff = RestartPolicy.DEFAULT.backoff();
        long keptMemory;
        String pager;
        long memory = DEFAULT_MEMORY;
        boolean critical;
        Duration deadline;

        Draft(String name, int headerLine, int index) {
            this.name = name;
            this.headerLine = headerLine;
            this.index = index;
        }

        /** The line of a key; the header line if the key is absent (only used for present keys). */
        int lineOf(String key) {
            return keyLines.getOrDefault(key, headerLine);
        }

        ServerSpec toSpec() {
            return new ServerSpec(
                    name, jar, tier, priority, provides, grants,
                    new RestartPolicy(onCrash, maxRestarts, backoff), keptMemory, pager, memory, deadline,
                    headerLine, critical);
        }
    }

    private static final class Parser {
        private final String fileName;
        private final Set<String> image;
        private final Set<String> builtins;
        private final List<Draft> drafts = new ArrayList<>();
        private final Map<String, Draft> byName = new HashMap<>();
        private Draft current;

        Parser(String fileName, Set<String> image, Set<String> builtins) {
            this.fileName = fileName;
            this.image = image;
            this.builtins = builtins;
        }

        BootManifest parse(String text) {
            int lineNo = 0;
            // String.lines() accepts \n, \r\n and \r, so a manifest edited on any host parses alike.
            for (String raw : (Iterable<String>) text.lines()::iterator) {
                lineNo++;
                line(raw, lineNo);
            }
            closeSection();
            if (drafts.isEmpty()) {
                throw error(1, "the manifest defines no servers; add at least one [server NAME] section");
            }
            Map<String, Draft> providedBy = providers();
            checkGrants(providedBy);
            List<Draft> order = order(providedBy);

            Map<String, ServerSpec> specs = new HashMap<>();
            List<ServerSpec> ordered = new ArrayList<>();
            for (Draft d : order) {
                ServerSpec spec = d.toSpec();
                specs.put(d.name, spec);
                ordered.add(spec);
            }
            Map<String, String> providerNames = new HashMap<>();
            providedBy.forEach((service, d) -> providerNames.put(service, d.name));
            return new BootManifest(fileName, ordered, specs, providerNames, builtins);
        }

        // ---- lines ----

        private void line(String raw, int n) {
            int hash = raw.indexOf('#');
            String line = (hash >= 0 ? raw.substring(0, hash) : raw).strip();
            if (line.isEmpty()) {
                return;
            }
            if (line.startsWith("[")) {
                if (!line.endsWith("]")) {
                    throw error(n, "section header '" + line + "' has no closing ']'");
                }
                header(line, n);
                return;
            }
            int eq = line.indexOf('=');
            if (eq <= 0) {
                throw error(n, "expected a [server NAME] header, a comment or 'key = value', got '" + line + "'");
            }
            keyValue(line.substring(0, eq).strip(), line.substring(eq + 1).strip(), n);
        }

        private void header(String line, int n) {
            String inside = line.substring(1, line.length() - 1).strip();
            String[] words = inside.isEmpty() ? new String[0] : inside.split("\\s+");
            if (words.length == 0) {
                throw error(n, "empty section header '" + line + "'; expected [server NAME]");
            }
            if (!words[0].equals("server")) {
                throw error(n, "unknown section kind '" + words[0] + "' in '" + line
                        + "'; the only kind is 'server', as in [server NAME]");
            }
            if (words.length == 1) {
                throw error(n, "section header '" + line + "' names no server; expected [server NAME]");
            }
            if (words.length > 2) {
                throw error(n, "section header '" + line + "' has extra text after the server name '"
                        + words[1] + "'; expected [server NAME]");
            }
            String name = words[1];
            if (!isName(name)) {
                throw error(n, "bad server name '" + name + "': names must match " + NAME_RULE);
            }
            // Close the previous section first, so a missing jar there is reported before anything
            // about this one: errors come out in file order.
            closeSection();
            Draft first = byName.get(name);
            if (first != null) {
                throw error(n, "duplicate server '" + name + "' (first defined at line " + first.headerLine + ")");
            }
            current = new Draft(name, n, drafts.size());
            drafts.add(current);
            byName.put(name, current);
        }

        private void closeSection() {
            if (current != null && current.jar == null) {
                throw error(current.headerLine, "server '" + current.name + "' has no 'jar' key; every server needs one");
            }
            current = null;
        }

        private void keyValue(String key, String value, int n) {
            if (current == null) {
                throw error(n, "key '" + key + "' appears before any [server NAME] section");
            }
            if (!KNOWN_KEYS.contains(key)) {
                throw error(n, "unknown key '" + key + "' in [server " + current.name + "]; known keys: "
                        + String.join(", ", KNOWN_KEYS));
            }
            Integer first = current.keyLines.putIfAbsent(key, n);
            if (first != null) {
                throw error(n, "duplicate key '" + key + "' in [server " + current.name
                        + "] (first set at line " + first + ")");
            }
            boolean listKey = key.equals("provides") || key.equals("grants");
            if (value.isEmpty() && !listKey) {
                throw error(n, "empty value for '" + key + "' in [server " + current.name + "]");
            }
            switch (key) {
                case "jar" -> current.jar = jar(value, n);
                case "tier" -> current.tier = tier(value, n);
                case "priority" -> current.priority = number(key, value, 0, MAX_PRIORITY, n);
                case "provides" -> current.provides = services(key, value, n);
                case "grants" -> current.grants = services(key, value, n);
                case "restart" -> current.onCrash = restart(value, n);
                case "max-restarts" -> current.maxRestarts = number(key, value, 0, MAX_RESTARTS_LIMIT, n);
                case "backoff" -> current.backoff = duration("backoff", value, n, Duration.ZERO, MAX_BACKOFF);
                case "deadline" -> current.deadline = duration("deadline", value, n, MIN_DEADLINE, MAX_DEADLINE);
                case "kept-memory" -> current.keptMemory = size("kept-memory", value, n, 0, MAX_KEPT_MEMORY, false);
                case "memory" -> current.memory = size("memory", value, n, 4096, MAX_MEMORY, true);
                case "critical" -> current.critical = yesNo(key, value, n);
                case "pager" -> {
                    List<String> one = services(key, value, n);
                    if (one.size() != 1) {
                        throw error(n, "pager of server '" + current.name + "' must name one service, not '" + value + "'");
                    }
                    current.pager = one.get(0);
                }
                default -> throw new AssertionError(key); // KNOWN_KEYS and this switch disagree
            }
        }

        // ---- values ----

        private boolean yesNo(String key, String value, int n) {
            return switch (value) {
                case "yes" -> true;
                case "no" -> false;
                default -> throw error(n, key + " '" + value + "' of server '" + current.name + "' must be yes or no");
            };
        }

        private String jar(String value, int n) {
            if (image.contains(value)) {
                return value;
            }
            String listing;
            if (image.isEmpty()) {
                listing = "the image is empty";
            } else {
                // Sorted so the message is the same on every run; short because images can be large.
                List<String> sorted = new ArrayList<>(new TreeSet<>(image));
                listing = "the image has " + String.join(", ", sorted.subList(0, Math.min(IMAGE_LISTING, sorted.size())));
                if (sorted.size() > IMAGE_LISTING) {
                    listing += " and " + (sorted.size() - IMAGE_LISTING) + " more";
                }
            }
            throw error(n, "jar '" + value + "' of server '" + current.name + "' is not in the boot image; " + listing);
        }

        private String tier(String value, int n) {
            if (KNOWN_TIERS.contains(value)) {
                return value;
            }
            throw error(n, "unknown tier '" + value + "' for server '" + current.name + "'; known tiers: "
                    + String.join(", ", KNOWN_TIERS));
        }

        private boolean restart(String value, int n) {
            return switch (value) {
                case "on-crash" -> true;
                case "never" -> false;
                default -> throw error(n, "bad restart value '" + value + "' for server '" + current.name
                        + "'; expected on-crash or never");
            };
        }

        /** An integer in {@code min..max}; digits only, an optional '-' so "-1" reads as out of range. */
        private int number(String key, String value, int min, int max, int n) {
            if (!isInteger(value)) {
                throw error(n, key + " '" + value + "' of server '" + current.name + "' is not a number; expected "
                        + min + ".." + max);
            }
            // More than 9 digits may not fit an int, and is out of any range used here anyway.
            String digits = value.startsWith("-") ? value.substring(1) : value;
            long v = digits.length() > 9 ? Long.MAX_VALUE : Long.parseLong(digits);
            if (value.startsWith("-")) {
                v = -v;
            }
            if (v < min || v > max) {
                throw error(n, key + " " + value + " of server '" + current.name + "' is out of range "
                        + min + ".." + max);
            }
            return (int) v;
        }

        private static boolean isInteger(String s) {
            int start = s.startsWith("-") ? 1 : 0;
            if (s.length() == start) {
                return false;
            }
            for (int i = start; i < s.length(); i++) {
                if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                    return false;
                }
            }
            return true;
        }

        /**
         * A whole number of ms or s, optionally with spaces before the unit (10ms, 2s, 250 ms),
         * from {@code min} to {@code max}.
         */
        private Duration duration(String key, String value, int n, Duration min, Duration max) {
            int i = value.startsWith("-") ? 1 : 0;
            int digitsStart = i;
            while (i < value.length() && value.charAt(i) >= '0' && value.charAt(i) <= '9') {
                i++;
            }
            String digits = value.substring(digitsStart, i);
            String unit = value.substring(i).strip();
            String who = key + " '" + value + "' of server '" + current.name + "'";
            String example = key.equals("deadline") ? "10s" : "10ms";
            if (digits.isEmpty()) {
                throw error(n, who + " is not a duration; expected a whole number with unit ms or s, e.g. " + example);
            }
            if (unit.isEmpty()) {
                throw error(n, who + " has no unit; expected ms or s, e.g. " + example);
            }
            if (!unit.equals("ms") && !unit.equals("s")) {
                throw error(n, who + " has unknown unit '" + unit + "'; expected ms or s");
            }
            String range = who + " is out of range " + format(min) + ".." + format(max);
            if (value.startsWith("-") || digits.length() > 9) {
                throw error(n, range);
            }
            long amount = Long.parseLong(digits);
            Duration d = unit.equals("ms") ? Duration.ofMillis(amount) : Duration.ofSeconds(amount);
            if (d.compareTo(min) < 0 || d.compareTo(max) > 0) {
                throw error(n, range);
            }
            return d;
        }

        /** A bound as the manifest would write it: whole seconds in s, else ms. */
        private static String format(Duration d) {
            return d.toMillis() % 1000 == 0 && !d.isZero() ? d.toSeconds() + "s" : d.toMillis() + "ms";
        }

        /**
         * A whole number of K (KiB) or M (MiB), or G (GiB) if {@code gib}, optionally with spaces
         * before the unit (512K, 1M), from {@code min} to {@code max} bytes; a minimum of at least
         * a page also asks for whole pages.
         */
        private long size(String key, String value, int n, long min, long max, boolean gib) {
            String who = key + " '" + value + "' of server '" + current.name + "'";
            long bytes = ByteSize.parse(value, gib ? "KMG" : "KM");
            if (bytes < 0) {
                throw error(n, who + " is not a size; expected a whole number with unit " + (gib ? "K, M or G" : "K or M")
                        + ", e.g. 512K");
            }
            if (bytes < min || bytes > max) {
                throw error(n, who + " is out of range " + ByteSize.format(min) + ".." + ByteSize.format(max));
            }
            if (min >= 4096 && bytes % 4096 != 0) {
                throw error(n, who + " is not a whole number of 4K pages");
            }
            return bytes;
        }

        /** A comma-separated list of service names; empty means none. */
        private List<String> services(String key, String value, int n) {
            if (value.isEmpty()) {
                return List.of();
            }
            LinkedHashSet<String> names = new LinkedHashSet<>();
            for (String item : value.split(",", -1)) {
                String s = item.strip();
                if (s.isEmpty()) {
                    throw error(n, "empty item in " + key + " list '" + value + "' of server '" + current.name + "'");
                }
                if (!isName(s)) {
                    throw error(n, "bad service name '" + s + "' in " + key + " of server '" + current.name
                            + "': names must match " + NAME_RULE);
                }
                if (!names.add(s)) {
                    throw error(n, "service '" + s + "' is listed twice in " + key + " of server '" + current.name + "'");
                }
            }
            return List.copyOf(names);
        }

        // ---- whole-manifest checks ----

        /** Service to the server providing it; each service has one provider and is not a builtin. */
        private Map<String, Draft> providers() {
            Map<String, Draft> providedBy = new LinkedHashMap<>();
            for (Draft d : drafts) {
                for (String service : d.provides) {
                    int n = d.lineOf("provides");
                    if (builtins.contains(service)) {
                        throw error(n, "server '" + d.name + "' provides '" + service
                                + "', which is a builtin service of the system itself");
                    }
                    Draft first = providedBy.putIfAbsent(service, d);
                    if (first != null) {
                        // Two providers would make a client's endpoint depend on start order.
                        throw error(n, "service '" + service + "' is provided by both '" + first.name
                                + "' (line " + first.lineOf("provides") + ") and '" + d.name + "'");
                    }
                }
            }
            return providedBy;
        }

        private void checkGrants(Map<String, Draft> providedBy) {
            for (Draft d : drafts) {
                if (d.pager != null && (!providedBy.containsKey(d.pager) || d.provides.contains(d.pager))) {
                    throw error(d.lineOf("pager"), "server '" + d.name + "' has pager '" + d.pager + "', but "
                            + (d.provides.contains(d.pager) ? "it provides that service itself" : "no server provides it"));
                }
                for (String service : d.grants) {
                    int n = d.lineOf("grants");
                    if (d.provides.contains(service)) {
                        // A server already holds its own endpoint; granting it is a sign of a typo.
                        throw error(n, "server '" + d.name + "' is granted its own service '" + service
                                + "' (pointless self-grant)");
                    }
                    if (!providedBy.containsKey(service) && !builtins.contains(service)) {
                        throw error(n, "server '" + d.name + "' is granted service '" + service
                                + "', but no server provides it and it is not builtin ("
                                + (builtins.isEmpty() ? "there are no builtins"
                                        : "builtins: " + String.join(", ", new TreeSet<>(builtins)))
                                + ")");
                    }
                }
            }
        }

        /**
         * Kahn's topological sort, always taking the ready server that comes first in the manifest,
         * so independent servers keep the order the author wrote.
         */
        private List<Draft> order(Map<String, Draft> providedBy) {
            int count = drafts.size();
            List<List<Draft>> deps = new ArrayList<>(count);
            List<List<Draft>> dependents = new ArrayList<>(count);
            int[] waiting = new int[count];
            for (int i = 0; i < count; i++) {
                dependents.add(new ArrayList<>());
            }
            for (Draft d : drafts) {
                // A set: two services from one provider are still one dependency.
                LinkedHashSet<Draft> on = new LinkedHashSet<>();
                for (String service : d.grants) {
                    Draft p = providedBy.get(service);
                    if (p != null) {
                        on.add(p);
                    }
                }
                if (d.pager != null) {
                    on.add(providedBy.get(d.pager)); // its pager runs first
                }
                deps.add(List.copyOf(on));
                waiting[d.index] = on.size();
                for (Draft p : on) {
                    dependents.get(p.index).add(d);
                }
            }
            PriorityQueue<Integer> ready = new PriorityQueue<>();
            for (int i = 0; i < count; i++) {
                if (waiting[i] == 0) {
                    ready.add(i);
                }
            }
            List<Draft> order = new ArrayList<>(count);
            boolean[] placed = new boolean[count];
            while (!ready.isEmpty()) {
                Draft d = drafts.get(ready.poll());
                order.add(d);
                placed[d.index] = true;
                for (Draft t : dependents.get(d.index)) {
                    if (--waiting[t.index] == 0) {
                        ready.add(t.index);
                    }
                }
            }
            if (order.size() < count) {
                throw cycle(deps, placed);
            }
            return order;
        }

        /**
         * Every unplaced server waits on another unplaced server, so walking from one along unplaced
         * dependencies must come back to a server already on the walk: that loop is a cycle.
         */
        private ManifestException cycle(List<List<Draft>> deps, boolean[] placed) {
            int start = 0;
            while (placed[start]) {
                start++;
            }
            List<Draft> path = new ArrayList<>();
            Map<Draft, Integer> at = new HashMap<>();
            Draft d = drafts.get(start);
            while (!at.containsKey(d)) {
                at.put(d, path.size());
                path.add(d);
                d = deps.get(d.index).stream().filter(p -> !placed[p.index]).findFirst().orElseThrow();
            }
            List<Draft> loop = new ArrayList<>(path.subList(at.get(d), path.size()));
            // Start the report at the member defined first, so the message does not depend on the walk.
            int first = 0;
            for (int i = 1; i < loop.size(); i++) {
                if (loop.get(i).index < loop.get(first).index) {
                    first = i;
                }
            }
            Collections.rotate(loop, -first);
            StringBuilder chain = new StringBuilder();
            for (Draft m : loop) {
                chain.append(m.name).append(" -> ");
            }
            chain.append(loop.get(0).name);
            return error(loop.get(0).headerLine, "dependency cycle " + chain
                    + ": each server is granted a service the next one provides, so none can start first");
        }

        private ManifestException error(int line, String problem) {
            return new ManifestException(fileName, line, problem);
        }
    }
}
