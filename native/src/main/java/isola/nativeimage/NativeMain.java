package isola.nativeimage;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.hosted.ConcurrentMachine;
import isola.kernel.hosted.HostedMachine;
import isola.nativeimage.tier.EchoServer;
import isola.nativeimage.tier.NativeTier;
import java.util.Map;
import java.util.concurrent.Callable;
import org.graalvm.nativeimage.ImageInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The native executable's command line. */
@Command(name = "isola", mixinStandardHelpOptions = true, versionProvider = NativeMain.Version.class,
        description = "Isola, a microkernel OS in Java: the native executable",
        subcommands = {NativeMain.BootCommand.class, NativeMain.PingCommand.class, IsolateBench.class, SelfTest.class})
public final class NativeMain implements Callable<Integer> {
    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 0;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String how = ImageInfo.inImageRuntimeCode() ? "native executable" : "JVM";
            return new String[] {"Isola 0.1.0 (" + how + ", Java " + Runtime.version() + ")"};
        }
    }

    /** Boots an image with every server in its own isolate. */
    @Command(name = "boot", mixinStandardHelpOptions = true,
            description = "Boot the image into the shell, each server in its own isolate. With stdin not a terminal, run the commands it reads.")
    static final class BootCommand implements Callable<Integer> {
        @Option(names = "--image", paramLabel = "FILE", defaultValue = "bootstrap/target/isola.img",
                description = "boot image (default: ${DEFAULT-VALUE})")
        java.nio.file.Path image;

        @Override
        public Integer call() {
            boolean terminal = System.console() != null && System.console().isTerminal();
            try {
                return isola.boot.Boot.run(image, System.in, System.out, terminal, KernelConfig.DEFAULT, NativeTier::new);
            } catch (isola.boot.Boot.BootException e) {
                System.err.println("isola boot: " + e.getMessage());
                return 2;
            }
        }
    }

    /** Calls a passive server on the kernel core compiled into this executable: it works, and how fast. */
    @Command(name = "ping", mixinStandardHelpOptions = true,
            description = "Run passive IPC round trips on the kernel in this executable and print the time per call.")
    static final class PingCommand implements Callable<Integer> {
        @Option(names = "--calls", paramLabel = "N", defaultValue = "1000000", description = "calls per round (default: ${DEFAULT-VALUE})")
        int calls;

        @Option(names = "--isolate", description = "run the server in its own isolate (the native tier) rather than in the kernel's")
        boolean isolate;

        @Override
        public Integer call() {
            try (ConcurrentMachine m = HostedMachine.concurrent(KernelConfig.DEFAULT)) {
                Kernel k = m.kernel();
                Domain server = k.createDomain("echo", 8, 8);
                Domain client = k.createDomain("client", 8, 8);
                Endpoint ep = k.createEndpoint(server);
                k.installCap(server, 1, ep, Rights.ALL, 0);
                if (isolate) {
                    long t0 = System.nanoTime();
                    var s = new NativeTier(m).start(server, EchoServer.class.getName(), Map.of(EchoServer.SERVICE, 1), 10).get();
                    System.out.printf("started %s in %.2f ms%n", s.isolate(), (System.nanoTime() - t0) / 1e6);
                } else {
                    k.bindPassive(ep, server, caller -> {
                        Utcb.setMr(caller.utcb(), 0, Utcb.mr(caller.utcb(), 0) + 1);
                        return Tag.of(0, 1);
                    });
                }
                k.grantCap(server, 1, client, 1, Rights.SEND, 7);
                Tcb t = k.createThread(client, "ping", 10);
                long[] result = new long[3];
                Thread th = m.spawn(t, () -> {
                    for (int round = 0; round < 5; round++) {
                        long t0 = System.nanoTime();
                        for (int i = 0; i < calls; i++) {
                            Utcb.setMr(t.utcb(), 0, i);
                            int st = k.call(t, 1, Tag.of(1, 1), Kernel.FOREVER);
                            if (st != Status.OK || Utcb.mr(t.utcb(), 0) != i + 1) {
                                result[0] = -1;
                                result[1] = st;
                                return;
                            }
                        }
                        result[2] = System.nanoTime() - t0;
                    }
                });
                th.join();
                if (result[0] < 0) {
                    System.err.println("isola ping: call failed with " + Status.name((int) result[1]));
                    return 1;
                }
                System.out.printf("%d passive calls: %.1f ns per round trip%n", calls, (double) result[2] / calls);
                return 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 1;
            } catch (java.util.concurrent.ExecutionException e) {
                System.err.println("isola ping: " + e.getCause().getMessage());
                return 1;
            }
        }
    }

    public static void main(String[] args) {
        isola.nativeimage.tier.NativeLogging.useSimpleLogger();
        System.exit(new CommandLine(new NativeMain()).execute(args));
    }
}
