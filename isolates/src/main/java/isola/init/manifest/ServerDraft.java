package isola.init.manifest;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One server section of the manifest while it is read: its values as given, defaults where no
 * key set them, and the line of each key, so the checks of the whole manifest name the line.
 */
final class ServerDraft {
    static final String DEFAULT_TIER = "vm";
    static final int DEFAULT_PRIORITY = 100;
    /** A server's frame quota unless its section says otherwise. */
    static final long DEFAULT_MEMORY = 16L << 20;

    final String name;
    /** The line of its {@code [server NAME]} header. */
    final int headerLine;
    /** Its place among the manifest's sections, from 0. */
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

    ServerDraft(String name, int headerLine, int index) {
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
