package isola.testservers.peeker;

import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * Test server that reports which classes it can load: MR0 = 1 if the kernel class
 * isola.kernel.Kernel is visible, MR1 = 1 if the ABI class isola.kernel.Status is, MR2 = 1 if
 * the host's test classes (isola.tier.vm.VmTierTest) are.
 */
public final class PeekerServer implements Server {
    @Override
    public void start(ServerContext context) {
        context.servePassive(0, sys -> {
            sys.mr(0, visible("isola.kernel.Kernel"));
            sys.mr(1, visible("isola.kernel.Status"));
            sys.mr(2, visible("isola.tier.vm.VmTierTest"));
            return Sys.tag(0, 3);
        });
    }

    private static long visible(String name) {
        try {
            Class.forName(name, false, PeekerServer.class.getClassLoader());
            return 1;
        } catch (ClassNotFoundException e) {
            return 0;
        }
    }
}
