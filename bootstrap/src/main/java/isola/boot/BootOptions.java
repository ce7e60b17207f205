package isola.boot;

import isola.kernel.KernelConfig;
import isola.kernel.machine.HostedMachine;
import isola.init.manifest.ByteSize;
import isola.tier.IsolationTier;
import isola.device.HostDisk;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The options of {@code boot} and what they do, shared by the JVM launcher's command line
 * ({@link Main}) and the native executable's, which differ only in the tier servers run in.
 */
public final class BootOptions {
    /** The repository's boot image, when --image names none. */
    static final Path DEFAULT_IMAGE = Path.of("bootstrap", "target", "isola.img");

    Path image = DEFAULT_IMAGE;

    @Option(names = "--image", paramLabel = "FILE", description = "boot image (default: bootstrap/target/isola.img in the repository)")
    void image(Path file) {
        image = DiskCommands.users(file); // relative: from where ./isola was run
    }

    @Option(names = "--mem", paramLabel = "SIZE", converter = MemorySize.class,
            description = "physical memory, with unit K, M or G, from " + MemorySize.MIN + " to " + MemorySize.MAX
                    + " (default: ${DEFAULT-VALUE})", defaultValue = "256M")
    long memory;

    @Option(names = "--disk", paramLabel = "FILE", description = "the disk image served as / (made, "
            + "64 MiB and empty, if there is no such file; default: target/disk.img in the repository)")
    Path disk;

    /** The repository's disk image, when --disk names none. */
    static final Path DEFAULT_DISK = Path.of("target", "disk.img");

    /**
     * Boots the image into the shell, each server in a domain of the tier {@code tier} makes;
     * with stdin not a terminal, runs the commands it reads. Returns the exit status (2: the
     * image could not be booted, with the reason on stderr).
     */
    public int boot(Function<HostedMachine, IsolationTier> tier) {
        boolean terminal = System.console() != null && System.console().isTerminal();
        HostDisk machineDisk;
        try {
            Path file = disk == null ? DEFAULT_DISK : DiskCommands.users(disk);
            machineDisk = DiskImage.openOrCreate(file, m -> System.err.println("isola: " + m));
        } catch (IOException e) {
            System.err.println("isola boot: " + e.getMessage());
            return 2;
        }
        try {
            return Boot.run(image, System.in, System.out, terminal, KernelConfig.DEFAULT.withMemory(memory), tier,
                    machineDisk);
        } catch (Boot.BootException e) {
            System.err.println("isola boot: " + e.getMessage());
            return 2;
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
}
