package isola.vm;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.kernel.hosted.HostedMachine;
import isola.sdk.ActiveLoop;
import isola.sdk.Handler;
import isola.sdk.IsolaException;
import isola.sdk.Kept;
import isola.kernel.Status;
import java.util.Map;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/** A `vm`-tier server's {@link ServerContext}: its domain's threads are JVM threads. */
final class VmServerContext implements ServerContext {
    private final HostedMachine machine;
    private final Kernel kernel;
    private final Domain domain;
    private final ClassLoader loader;
    private final Sys sys;
    private final Map<String, Integer> endpoints;
    private final Map<String, Integer> services;
    private final VmTier.StartInfo info;

    VmServerContext(HostedMachine machine, Domain domain, ClassLoader loader, Tcb main, VmTier.StartInfo info) {
        this.machine = machine;
        this.info = info;
        this.endpoints = info.endpoints();
        this.services = info.services();
        this.kernel = machine.kernel();
        this.domain = domain;
        this.loader = loader;
        this.sys = Sys.of(kernel, main);
    }

    @Override
    public String name() {
        return domain.name();
    }

    @Override
    public Sys sys() {
        return sys;
    }

    @Override
    public int endpoint(String service) {
        return slotOf(endpoints, service, "provides no service");
    }

    @Override
    public int service(String service) {
        return slotOf(services, service, "was not granted the service");
    }

    private int slotOf(Map<String, Integer> slots, String service, String problem) {
        Integer slot = slots.get(service);
        if (slot == null) {
            throw new IsolaException(Status.E_EMPTY_SLOT, domain.name() + " " + problem + " '"
                    + service + "' (it has: " + (slots.isEmpty() ? "none" : String.join(", ", new java.util.TreeSet<>(slots.keySet()))) + ")");
        }
        return slot;
    }

    @Override
    public Kept kept() {
        return info.kept();
    }

    @Override
    public int keep() {
        if (info.keepSlot() < 0) {
            throw new IsolaException(Status.E_EMPTY_SLOT, domain.name() + " has no keep capability: its launcher keeps nothing for it");
        }
        return info.keepSlot();
    }

    @Override
    public void servePassive(int slot, Handler handler) {
        sys.check(sys.servePassive(slot, handler), "servePassive slot " + slot);
    }

    @Override
    public void serveActive(int slot, Handler handler, int threads, int priority) {
        sys.check(sys.serve(slot), "serveActive slot " + slot);
        for (int i = 0; i < threads; i++) {
            spawn("worker" + i, priority, s -> ActiveLoop.run(s, slot, handler));
        }
    }

    @Override
    public void spawn(String name, int priority, ThreadBody body) {
        Tcb t = kernel.createThread(domain, name, priority);
        Sys s = Sys.of(kernel, t);
        machine.spawn(t, () -> {
            Thread.currentThread().setContextClassLoader(loader);
            try {
                body.run(s);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(domain.name() + "/" + name + ": " + e, e);
            }
        });
    }
}
