package isola.init.manifest;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads a manifest's text into its server sections ({@link BootManifest} documents the format),
 * checking each line and value as it goes: the first problem stops it with a
 * {@link ManifestException} naming the file, the line and the offending value. What needs the
 * whole manifest (providers, grants, the start order) is the {@link DependencyGraph}'s.
 */
final class ManifestParser {
    /** Isolation tiers a server may name per server; the native tier is chosen for a whole boot (boot --native), not here. */
    private static final List<String> KNOWN_TIERS = List.of("vm");

    /** The keys of a server section, in the order the documentation lists them. */
    private static final List<String> KNOWN_KEYS =
            List.of("jar", "tier", "priority", "provides", "grants", "restart", "max-restarts", "backoff", "kept-memory",
                    "pager", "memory", "deadline", "critical");

    private static final int MAX_PRIORITY = 255;
    private static final int MAX_RESTARTS_LIMIT = 1000;
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(60);
    private static final long MAX_KEPT_MEMORY = 16L << 20;
    /** The most frame quota a section may give its server. */
    private static final long MAX_MEMORY = 1L << 30;
    /** The shortest and longest call deadline: the watchdog checks a few times per deadline. */
    private static final Duration MIN_DEADLINE = Duration.ofMillis(10);
    private static final Duration MAX_DEADLINE = Duration.ofHours(1);

    /** How many image files an error message lists before it abbreviates. */
    private static final int IMAGE_LISTING = 5;

    private static final String NAME_RULE = "[a-z][a-z0-9-]*";

    private final String fileName;
    private final Set<String> image;
    private final List<ServerDraft> drafts = new ArrayList<>();
    private final Map<String, ServerDraft> byName = new HashMap<>();
    private ServerDraft current;

    ManifestParser(String fileName, Set<String> image) {
        this.fileName = fileName;
        this.image = image;
    }

    /** The manifest's sections in file order; at least one. */
    List<ServerDraft> parse(String text) {
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
        return drafts;
    }

    /** True if {@code s} matches {@code [a-z][a-z0-9-]*}. */
    private static boolean isName(String s) {
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

    // ---------------------------------------------------------------- lines

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
        ServerDraft first = byName.get(name);
        if (first != null) {
            throw error(n, "duplicate server '" + name + "' (first defined at line " + first.headerLine + ")");
        }
        current = new ServerDraft(name, n, drafts.size());
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

    // ---------------------------------------------------------------- values

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

    private ManifestException error(int line, String problem) {
        return new ManifestException(fileName, line, problem);
    }
}
