package isola.vm;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.kernel.hosted.HostedMachine;
import isola.sdk.ActiveLoop;
import isola.sdk.Handler;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/** A `vm`-tier server's {@link ServerContext}: its domain's threads are JVM threads. */
final class VmServerContext implements ServerContext {
    private final HostedMachine machine;
    private final Kernel kernel;
    private final Domain domain;
    private final ClassLoader loader;
    private final Sys sys;

    VmServerContext(HostedMachine machine, Domain domain, ClassLoader loader, Tcb main) {
        this.machine = machine;
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
