package isola.tier.vm;

import isola.device.HostDisk;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.kernel.machine.HostedMachine;
import isola.sdk.BaseServerContext;
import isola.sdk.BlockDevice;
import isola.sdk.ServerContext;
import isola.sdk.Sys;
import java.util.LinkedHashMap;
import java.util.Map;

/** A `vm`-tier server's {@link ServerContext}: its domain's threads are JVM threads. */
final class VmServerContext extends BaseServerContext {
    private final HostedMachine machine;
    private final Kernel kernel;
    private final Domain domain;
    private final ClassLoader loader;

    VmServerContext(HostedMachine machine, Domain domain, ClassLoader loader, Tcb main, isola.tier.IsolationTier.StartInfo info) {
        super(domain.name(), Sys.of(machine.kernel(), main), info.endpoints(), info.services(), forDriver(info.devices()), info.kept(), info.keepSlot());
        this.machine = machine;
        this.kernel = machine.kernel();
        this.domain = domain;
        this.loader = loader;
    }

    /** Each granted disk as its driver holds it: everything but close, which stays its owner's. */
    private static Map<String, BlockDevice> forDriver(Map<String, HostDisk> devices) {
        Map<String, BlockDevice> held = new LinkedHashMap<>();
        devices.forEach((name, disk) -> held.put(name, disk.forDriver()));
        return held;
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
