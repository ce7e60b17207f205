package isola.init;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.sdk.Sys;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The servers whose page faults go to a pager (a manifest's {@code pager = SERVICE}): each client
 * has a slot in its pager's domain holding a CONTROL capability to the client's current domain,
 * which the pager maps the client's pages with, and the badge of the client's faults names that
 * slot. init gives these capabilities as servers start and restart, and takes them back when a
 * client is left dead.
 */
final class PagerClients {
    /**
     * A pager's clients' DOMAIN capabilities (CONTROL) sit in its slots from here: the pager maps
     * a client's pages with the one the fault's badge names.
     */
    static final int FIRST_PAGER_CLIENT = 32;
    /** How long a dead client's pager may take to free what it held for it. */
    static final long PAGER_FORGET_NS = TimeUnit.SECONDS.toNanos(2);

    private final Init init;
    private final Kernel kernel;

    PagerClients(Init init) {
        this.init = init;
        this.kernel = init.kernel;
    }

    /** At boot: each client's slot in its pager's domain, in manifest order. */
    void assignSlots() {
        Map<String, Integer> clientsOf = new HashMap<>();
        for (Running r : init.servers.values()) {
            if (r.spec.pager() != null) {
                int k = clientsOf.merge(r.spec.pager(), 1, Integer::sum) - 1;
                if (k >= 64 - FIRST_PAGER_CLIENT) {
                    throw new IllegalStateException("pager service " + r.spec.pager() + " has more than "
                            + (64 - FIRST_PAGER_CLIENT) + " clients");
                }
                r.pagerSlot = FIRST_PAGER_CLIENT + k;
            }
        }
    }

    /** A pager that started (again) gets the capabilities of its clients' live domains back. */
    void giveClients(Running pager) {
        for (Running c : init.servers.values()) {
            if (c.spec.pager() != null && pager.spec.provides().contains(c.spec.pager()) && c.vd != null
                    && c.vd.domain().state() != Domain.DEAD) {
                givePager(pager, c, c.vd.domain());
            }
        }
    }

    /**
     * A client's new incarnation {@code d}, before it starts: its pager (if running) gets a
     * capability to it, and its faults go to the pager with a badge of a new generation.
     */
    void attach(Running client, Domain d) {
        client.pagerGeneration++;
        Running p = providerOf(client.spec.pager());
        if (p.vd != null && p.vd.domain().state() != Domain.DEAD) {
            givePager(p, client, d);
        }
        kernel.setPager(d, init.endpoints.get(client.spec.pager()), pagerBadge(client));
    }

    /** The badge of a client's faults: its slot in the pager, and which incarnation (fresh tables). */
    private static long pagerBadge(Running client) {
        return client.pagerSlot + 64L * client.pagerGeneration;
    }

    /** Puts a CONTROL capability to the client's domain in its slot of the pager's domain. */
    private void givePager(Running pager, Running client, Domain clientDomain) {
        Domain pd = pager.vd.domain();
        kernel.deleteCap(pd, client.pagerSlot);
        kernel.installCap(pd, client.pagerSlot, clientDomain, Rights.CONTROL, 0);
    }

    /**
     * A client left dead for good: its pager frees what it held for it (it would otherwise
     * learn only from a next incarnation's first fault, which will not come) and loses its
     * capability to the dead domain. The call comes from {@code sys}, a thread of {@code caller},
     * which lends its slot {@code scratch} for the capability to the pager. A failure is logged
     * by the caller: the client stays dead either way.
     */
    int release(Domain caller, Sys sys, int scratch, Running client) {
        if (client.spec.pager() == null || client.pagerSlot < 0) {
            return Status.OK;
        }
        Running p = providerOf(client.spec.pager());
        if (p.vd == null || p.vd.domain().state() == Domain.DEAD) {
            return Status.OK; // its next incarnation starts empty, and without this client
        }
        kernel.installCap(caller, scratch, init.endpoints.get(client.spec.pager()), Rights.SEND, isola.sdk.Pager.SUPERVISOR);
        int st;
        try {
            sys.mr(0, client.pagerSlot);
            // bounded: the pager may itself be down, and the supervisor must not wait on it
            st = sys.call(scratch, isola.kernel.Tag.of(isola.sdk.Pager.FORGET, 1), PAGER_FORGET_NS);
            if (st == Status.OK && sys.label() != 0) {
                st = Status.E_INVALID_ARG;
            }
        } finally {
            kernel.deleteCap(caller, scratch);
        }
        synchronized (init) { // as launch, which gives the pager its clients' capabilities
            kernel.deleteCap(p.vd.domain(), client.pagerSlot);
        }
        return st;
    }

    private Running providerOf(String service) {
        for (Running x : init.servers.values()) {
            if (x.spec.provides().contains(service)) {
                return x;
            }
        }
        throw new IllegalStateException("no server provides " + service); // the manifest checked it
    }
}
