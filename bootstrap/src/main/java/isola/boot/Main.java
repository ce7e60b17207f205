package isola.boot;

import isola.system.init.ByteSize;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Isola's hosted command line (the {@code ./isola} launcher runs it). */
@Command(name = "isola", mixinStandardHelpOptions = true, description = "Isola, a microkernel OS in Java",
        subcommands = {Main.BootCommand.class, Main.ImageCommand.class})
public final class Main implements Callable<Integer> {
    @Override
    public Integer call() {
        new CommandLine(this).usage(System.out);
        return 0;
    }

    @Command(name = "boot", mixinStandardHelpOptions = true,
            description = "Boot the image into the shell. With stdin not a terminal, run the commands it reads.")
    static final class BootCommand implements Callable<Integer> {
        @Option(names = "--image", paramLabel = "FILE", description = "boot image (default: ${DEFAULT-VALUE})",
                defaultValue = "bootstrap/target/isola.img")
        Path image;

        @Option(names = "--mem", paramLabel = "SIZE", converter = MemorySize.class,
                description = "physical memory, with unit K, M or G, from " + MemorySize.MIN + " to " + MemorySize.MAX
                        + " (default: ${DEFAULT-VALUE})", defaultValue = "256M")
        long memory;

        @Override
        public Integer call() {
            boolean terminal = System.console() != null && System.console().isTerminal();
            try {
                return Boot.run(image, System.in, System.out, terminal, isola.kernel.KernelConfig.DEFAULT.withMemory(memory));
            } catch (Boot.BootException e) {
                System.err.println("isola boot: " + e.getMessage());
                return 2;
            }
        }
    }

    /** A memory size for {@code --mem}: a whole number with unit K, M or G, in whole 4 KiB pages. */
    static final class MemorySize implements CommandLine.ITypeConverter<Long> {
        static final String MIN = "4M", MAX = "4G"; // constants: the option's description names them
        static final long MIN_BYTES = ByteSize.parse(MIN, "KMG"), MAX_BYTES = ByteSize.parse(MAX, "KMG");

        @Override
        public Long convert(String value) {
            long bytes = ByteSize.parse(value, "KMG");
            if (bytes < 0) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a memory size; expected a whole number with unit K, M or G, e.g. 512M");
            }
            if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
                throw new CommandLine.TypeConversionException("memory size '" + value + "' is outside " + MIN + ".." + MAX);
            }
            if (bytes % 4096 != 0) {
                throw new CommandLine.TypeConversionException("memory size '" + value + "' is not a whole number of 4K pages");
            }
            return bytes;
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

    public static void main(String[] args) {
        int status = new CommandLine(new Main()).execute(args);
        System.exit(status);
    }
}
