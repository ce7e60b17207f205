package isola.testservers.device;

import isola.sdk.Blk;
import isola.sdk.BlockDevice;
import isola.sdk.IsolaException;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * Test server that tries to reach the machine's disk. Label 0: directly, through the host's
 * device class (compiled against it, so only its class loader can stop it): MR0 = 1 if that
 * failed to load, 0 if it ran. Label 1: through its grant: MR0 = the disk's blocks, or -1 and
 * the refusal's text from MR1 on.
 */
public final class DeviceGrabberServer implements Server {
    @Override
    public void start(ServerContext context) {
        context.servePassive(0, sys -> {
            if (sys.label() == 0) {
                try {
                    // Any host file as a raw disk: the bypass of blk and fs the class loader must stop.
                    isola.device.HostDisk.open(java.nio.file.Path.of("/etc/hostname"), true).close();
                    sys.mr(0, 0);
                } catch (NoClassDefFoundError refused) {
                    sys.mr(0, 1);
                } catch (java.io.IOException notOpened) {
                    sys.mr(0, 0); // it loaded and ran: the hole is open
                }
                return Sys.tag(0, 1);
            }
            try {
                BlockDevice disk = context.device(Blk.DISK);
                sys.mr(0, disk.blocks());
                return Sys.tag(0, 1);
            } catch (IsolaException refused) {
                sys.mr(0, -1);
                return Sys.tag(0, 1 + sys.putString(1, refused.getMessage()));
            }
        });
    }
}
