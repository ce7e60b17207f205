package isola.nativeimage;

import isola.testservers.selftest.EchoServer;
import isola.tier.nativeimage.NativeTier;
import java.util.concurrent.Callable;
import org.graalvm.nativeimage.ImageInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The native executable's command line. */
@Command(name = "isola", mixinStandardHelpOptions = true, versionProvider = NativeMain.Version.class,
        description = "Isola, a microkernel OS in Java: the native executable",
        subcommands = {NativeMain.BootCommand.class, NativeMain.StormCommand.class, NativeMain.PingCommand.class, IsolateBench.class, SelfTest.class})
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
        @CommandLine.Mixin
        isola.boot.BootOptions options;

        @Override
        public Integer call() {
            return options.boot(NativeTier::new);
        }
    }

    /** The fault storm (see isola.boot.storm.FaultStorm), every server in its own isolate. */
    @Command(name = "storm", mixinStandardHelpOptions = true,
            description = "Boot the default system on a fresh disk, each server in its own isolate, and run a seeded fault storm: exit 0 if it passed.")
    static final class StormCommand implements Callable<Integer> {
        @CommandLine.Mixin
        isola.boot.StormOptions options;

        @Override
        public Integer call() {
            return options.run(NativeTier::new);
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
        public Integer call() throws Exception {
            try (NativeRig rig = new NativeRig()) {
                int slot;
                if (isolate) {
                    long t0 = System.nanoTime();
                    NativeRig.Served s = rig.serve("echo", EchoServer.class.getName(), EchoServer.SERVICE);
                    System.out.printf("started %s in %.2f ms%n", s.server.isolate(), (System.nanoTime() - t0) / 1e6);
                    slot = s.clientSlot;
                } else {
                    slot = rig.serveInKernel("echo");
                }
                long[] ns = new long[1];
                try {
                    rig.onClientThread("ping", t -> {
                        for (int round = 0; round < 5; round++) {
                            long t0 = System.nanoTime();
                            rig.calls(t, slot, calls);
                            ns[0] = System.nanoTime() - t0;
                        }
                    });
                } catch (IllegalStateException e) {
                    System.err.println("isola ping: " + e.getMessage());
                    return 1;
                }
                System.out.printf("%d passive calls: %.1f ns per round trip%n", calls, (double) ns[0] / calls);
                return 0;
            }
        }
    }

    public static void main(String[] args) {
        isola.tier.nativeimage.NativeLogging.configure();
        System.exit(new CommandLine(new NativeMain()).execute(args));
    }
}
