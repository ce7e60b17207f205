package isola.sdk;

import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * What init keeps for a server across its restarts, as each incarnation finds it at start (the
 * way MINIX 3's data store and Linux's pstore let a restarted driver pick up where it was): the
 * values and capabilities it kept with {@link Keep}, the capabilities now in this domain's
 * slots, and its kept memory (the manifest's {@code kept-memory}), whose contents the previous
 * incarnation left.
 *
 * @param values kept text, by key
 * @param caps kept capabilities, by key: the slot of each in this domain
 * @param memory the kept memory region; empty if the manifest gives the server none
 */
public record Kept(Map<String, String> values, Map<String, Integer> caps, MemorySegment memory) {
    public static final Kept NONE = new Kept(Map.of(), Map.of(), MemorySegment.NULL);

    public Kept {
        values = Map.copyOf(values);
        caps = Map.copyOf(caps);
    }
}
