package isola.boot;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Isola's hosted command line (the {@code ./isola} launcher runs it). */
@Command(name = "isola", mixinStandardHelpOptions = true, description = "Isola, a microkernel OS in Java",
        subcommands = {Main.BootCommand.class, Main.StormCommand.class, Main.InitrdCommand.class, Main.QemuCommand.class,
                DiskCommands.Mkfs.class, DiskCommands.FsckCommand.class, DiskCommands.Mount.class})
public final class Main implements Callable<Integer> {
    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 0;
    }

    @Command(name = "boot", mixinStandardHelpOptions = true,
            description = "Boot the image into the shell. With stdin not a terminal, run the commands it reads.")
    static final class BootCommand implements Callable<Integer> {
        @CommandLine.Mixin
        BootOptions options;

        @Override
        public Integer call() {
            return options.boot(isola.tier.vm.VmTier::new);
        }
    }

    @Command(name = "storm", mixinStandardHelpOptions = true,
            description = {"Boot the default system on a fresh disk and run a seeded fault storm: shell commands typed one at a "
                    + "time while servers are killed at random moments. Checks that every command ends, what cat prints, that "
                    + "every server serves at the end, and that the disk holds what was synced (fsck clean).",
                    "Exit status 0 if it passed, 1 if not (the failures and the seed are printed), 2 if it could not run."})
    static final class StormCommand implements Callable<Integer> {
        @CommandLine.Mixin
        StormOptions options;

        @Override
        public Integer call() {
            return options.run(isola.tier.vm.VmTier::new);
        }
    }

    /**
     * {@code initrd}: writes a boot image (the cpio RAM disk boot reads) from a manifest and the
     * jars it names. (The launcher's {@code ./isola image} is another thing: the bare-metal kernel.)
     */
    @Command(name = "initrd", mixinStandardHelpOptions = true,
            description = {"Write a boot image: the manifest and each jar it names, taken from --jar, from beside the "
                    + "manifest, or from the project's own servers (log.jar, names.jar, ...), in that order.",
                    "The manifest is checked as boot checks it, and every jar from outside the project must be a server "
                            + "(its manifest's Isola-Server attribute naming a class that implements isola.sdk.Server); "
                            + "nothing is written otherwise. Exit 0 on success, 2 with the problem on stderr."})
    static final class InitrdCommand implements Callable<Integer> {
        @Option(names = "--manifest", paramLabel = "FILE", description = "boot manifest (default: the built-in one)")
        Path manifest;

        @Option(names = "--jar", paramLabel = "JAR", description = "a server jar, put in the image under its file name "
                + "(repeatable); the manifest must name it")
        java.util.List<Path> jars = new java.util.ArrayList<>();

        @Option(names = "--out", paramLabel = "FILE", required = true, description = "image to write")
        Path out;

        @Override
        public Integer call() {
            Path outFile = DiskCommands.users(out);
            try {
                String name, text;
                Path beside = null;
                if (manifest == null) {
                    name = "the built-in manifest";
                    text = isola.boot.image.DefaultImage.defaultManifest();
                } else {
                    Path m = DiskCommands.users(manifest);
                    name = manifest.toString();
                    if (!java.nio.file.Files.isRegularFile(m)) {
                        System.err.println("isola initrd: --manifest " + manifest + ": no such file");
                        return 2;
                    }
                    text = java.nio.file.Files.readString(m);
                    beside = m.toAbsolutePath().getParent();
                }
                java.util.List<Path> given = jars.stream().map(DiskCommands::users).toList();
                var r = isola.boot.image.InitrdBuilder.build(name, text, beside, given, out.toString());
                Path dir = outFile.toAbsolutePath().getParent();
                java.nio.file.Files.createDirectories(dir);
                java.nio.file.Files.write(outFile, r.image());
                System.out.println("isola initrd: wrote " + out + " (" + r.image().length + " bytes):");
                r.contents().forEach(c -> System.out.println("  " + c));
                return 0;
            } catch (isola.boot.image.InitrdBuilder.InitrdException e) {
                System.err.println("isola initrd: " + e.getMessage());
                return 2;
            } catch (java.io.IOException | java.io.UncheckedIOException e) {
                System.err.println("isola initrd: " + e.getMessage());
                return 2;
            }
        }
    }

    @Command(name = "qemu", mixinStandardHelpOptions = true,
            description = "Boot the bare-metal kernel image in QEMU; exit 0 if it passed, 1 if it failed or panicked, "
                    + "2 if it gave no status (or the image or RAM disk is missing).")
    static final class QemuCommand implements Callable<Integer> {
        @CommandLine.Mixin
        Qemu qemu;

        @Override
        public Integer call() throws Exception {
            try {
                qemu.check();
                System.err.println("isola qemu: " + String.join(" ", qemu.command()));
                if (qemu.gdb) {
                    System.err.println("isola qemu: halted for gdb on :1234; in another terminal: gdb "
                            + qemu.image.resolveSibling("isola-kernel.elf64") + " -ex 'target remote :1234'");
                }
                Qemu.Result r = qemu.run(System.out::println);
                System.err.println("isola qemu: " + r.why() + " (" + r.totalNanos() / 1_000_000 + " ms"
                        + (r.summaryNanos() >= 0 ? ", summary line after " + r.summaryNanos() / 1_000_000 + " ms" : "") + ")");
                return r.status();
            } catch (Qemu.BootException e) {
                System.err.println("isola qemu: " + e.getMessage());
                return Qemu.NO_STATUS;
            }
        }
    }

    public static void main(String[] args) {
        int status = new CommandLine(new Main()).execute(args);
        System.exit(status);
    }
}
