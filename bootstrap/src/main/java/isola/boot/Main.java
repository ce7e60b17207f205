package isola.boot;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Isola's hosted command line (the {@code ./isola} launcher runs it). */
@Command(name = "isola", mixinStandardHelpOptions = true, description = "Isola, a microkernel OS in Java",
        subcommands = {Main.BootCommand.class, Main.ImageCommand.class, Main.QemuCommand.class,
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
            return options.boot(isola.vm.VmTier::new);
        }
    }

    @Command(name = "image", mixinStandardHelpOptions = true,
            description = "Build a boot image from a manifest and the project's servers.")
    static final class ImageCommand implements Callable<Integer> {
        @Option(names = "--manifest", paramLabel = "FILE", description = "boot manifest (default: the built-in one)")
        Path manifest;

        @Option(names = "--out", paramLabel = "FILE", required = true, description = "image to write")
        Path out;

        @Override
        public Integer call() throws Exception {
            String text = manifest == null ? isola.boot.image.DefaultImage.defaultManifest()
                    : java.nio.file.Files.readString(manifest);
            isola.boot.image.DefaultImage.build(out, text);
            System.out.println("wrote " + out);
            return 0;
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
