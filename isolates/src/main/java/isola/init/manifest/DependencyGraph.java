package isola.init.manifest;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the manifest's servers need of each other: each service's one provider, the check that
 * every grant and pager names a service someone provides, and the order that starts every server
 * after those it needs, which fails naming a dependency cycle if there is one. Problems are
 * {@link ManifestException}s at the line of the key (or header) concerned.
 */
final class DependencyGraph {
    private final String fileName;
    private final List<ServerDraft> drafts;
    private final Set<String> builtins;
    /** Service to the server providing it, in manifest order. */
    private final Map<String, ServerDraft> providedBy;

    /** Checks the providers, then the grants and pagers, in that order (so errors come out alike). */
    DependencyGraph(String fileName, List<ServerDraft> drafts, Set<String> builtins) {
        this.fileName = fileName;
        this.drafts = drafts;
        this.builtins = builtins;
        this.providedBy = providers();
        checkGrants();
    }

    /** Service to the name of the server providing it (builtins are not in it). */
    Map<String, String> providerNames() {
        Map<String, String> names = new HashMap<>();
        providedBy.forEach((service, d) -> names.put(service, d.name));
        return names;
    }

    /** Service to the server providing it; each service has one provider and is not a builtin. */
    private Map<String, ServerDraft> providers() {
        Map<String, ServerDraft> found = new LinkedHashMap<>();
        for (ServerDraft d : drafts) {
            for (String service : d.provides) {
                int n = d.lineOf("provides");
                if (builtins.contains(service)) {
                    throw error(n, "server '" + d.name + "' provides '" + service
                            + "', which is a builtin service of the system itself");
                }
                ServerDraft first = found.putIfAbsent(service, d);
                if (first != null) {
                    // Two providers would make a client's endpoint depend on start order.
                    throw error(n, "service '" + service + "' is provided by both '" + first.name
                            + "' (line " + first.lineOf("provides") + ") and '" + d.name + "'");
                }
            }
        }
        return found;
    }

    private void checkGrants() {
        for (ServerDraft d : drafts) {
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
     * The servers in the order init starts them, each after those that provide what it is granted
     * and its pager: Kahn's topological sort, always taking the ready server that comes first in the manifest,
     * so independent servers keep the order the author wrote.
     */
    List<ServerDraft> startOrder() {
        int count = drafts.size();
        List<List<ServerDraft>> deps = new ArrayList<>(count);
        List<List<ServerDraft>> dependents = new ArrayList<>(count);
        int[] waiting = new int[count];
        for (int i = 0; i < count; i++) {
            dependents.add(new ArrayList<>());
        }
        for (ServerDraft d : drafts) {
            // A set: two services from one provider are still one dependency.
            LinkedHashSet<ServerDraft> on = new LinkedHashSet<>();
            for (String service : d.grants) {
                ServerDraft p = providedBy.get(service);
                if (p != null) {
                    on.add(p);
                }
            }
            if (d.pager != null) {
                on.add(providedBy.get(d.pager)); // its pager runs first
            }
            deps.add(List.copyOf(on));
            waiting[d.index] = on.size();
            for (ServerDraft p : on) {
                dependents.get(p.index).add(d);
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>();
        for (int i = 0; i < count; i++) {
            if (waiting[i] == 0) {
                ready.add(i);
            }
        }
        List<ServerDraft> order = new ArrayList<>(count);
        boolean[] placed = new boolean[count];
        while (!ready.isEmpty()) {
            ServerDraft d = drafts.get(ready.poll());
            order.add(d);
            placed[d.index] = true;
            for (ServerDraft t : dependents.get(d.index)) {
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
    private ManifestException cycle(List<List<ServerDraft>> deps, boolean[] placed) {
        int start = 0;
        while (placed[start]) {
            start++;
        }
        List<ServerDraft> path = new ArrayList<>();
        Map<ServerDraft, Integer> at = new HashMap<>();
        ServerDraft d = drafts.get(start);
        while (!at.containsKey(d)) {
            at.put(d, path.size());
            path.add(d);
            d = deps.get(d.index).stream().filter(p -> !placed[p.index]).findFirst().orElseThrow();
        }
        List<ServerDraft> loop = new ArrayList<>(path.subList(at.get(d), path.size()));
        // Start the report at the member defined first, so the message does not depend on the walk.
        int first = 0;
        for (int i = 1; i < loop.size(); i++) {
            if (loop.get(i).index < loop.get(first).index) {
                first = i;
            }
        }
        Collections.rotate(loop, -first);
        StringBuilder chain = new StringBuilder();
        for (ServerDraft m : loop) {
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
