package isola.boot;

import isola.boot.image.BootImage;
import isola.drivers.blk.BlkServer;
import isola.kernel.KernelConfig;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import isola.kernel.initrd.Initrd;
import isola.sdk.Console;
import isola.device.HostDisk;
import isola.init.manifest.BootManifest;
import isola.init.Init;
import isola.tier.IsolationTier;
import isola.tier.vm.VmTier;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Boots Isola on the hosted machine from a boot image: reads the cpio image with the kernel's
 * own reader, checks the manifest ({@link BootImage#check}), unpacks the server jars (the RAM disk, as files the vm tier
 * loads), makes the console device over {@code in} and {@code out} ({@link ConsoleDevice}) and
 * starts init. {@link #run} returns the status the system exits with.
 */
public final class Boot implements AutoCloseable {
    public static final String MANIFEST = BootImage.MANIFEST;
    public static final Set<String> BUILTIN_SERVICES = BootImage.BUILTIN_SERVICES;

    private final ConcurrentMachine machine;
    private final Init init;
    private final Path ramdisk;
    private final CompletableFuture<Integer> exit;

    private final ConsoleDevice console;

    private Boot(ConcurrentMachine machine, Init init, ConsoleDevice console, Path ramdisk, HostDisk disk,
            Path scratchDisk, CompletableFuture<Integer> exit) {
        this.machine = machine;
        this.console = console;
        this.init = init;
        this.ramdisk = ramdisk;
        this.disk = disk;
        this.scratchDisk = scratchDisk;
        this.exit = exit;
    }

    /** The machine's disk, plugged in at start and closed at close. */
    private final HostDisk disk;

    /** The file of the disk made for this boot because it was given none, removed at close; or null. */
    private final Path scratchDisk;

    /**
     * Checks the image and starts the system with the console on {@code in}/{@code out}. Errors
     * in the image or the manifest throw {@link BootException} naming the file, and nothing
     * is started.
     */
    public static Boot start(Path image, InputStream in, PrintStream out, boolean terminal) {
        return start(image, in, out, terminal, KernelConfig.DEFAULT);
    }

    /** As {@link #start(Path, InputStream, PrintStream, boolean)}, on a kernel of {@code config}. */
    public static Boot start(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config) {
        return start(image, in, out, terminal, config, VmTier::new);
    }

    /** As {@link #start(Path, InputStream, PrintStream, boolean, KernelConfig)}, servers in the tier {@code tier} makes. */
    public static Boot start(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config,
            java.util.function.Function<HostedMachine, IsolationTier> tier) {
        return start(image, in, out, terminal, config, tier, null);
    }

    /** As {@link #start(Path, InputStream, PrintStream, boolean)}, with {@code disk} as the machine's disk. */
    public static Boot start(Path image, HostDisk disk, InputStream in, PrintStream out, boolean terminal) {
        return start(image, in, out, terminal, KernelConfig.DEFAULT, VmTier::new, disk);
    }

    /**
     * As {@link #start(Path, InputStream, PrintStream, boolean, KernelConfig, java.util.function.Function)},
     * with {@code disk} plugged in as the machine's disk ({@code disk0}), which init hands only to
     * the servers the manifest grants it. From this call on the boot owns the disk: it closes it
     * at {@link #close}, or at once if the start fails. With {@code disk} null, the machine gets a
     * blank scratch disk (tests, embedders), removed at close.
     */
    public static Boot start(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config,
            java.util.function.Function<HostedMachine, IsolationTier> tier, HostDisk disk) {
        Path scratchDisk = null;
        try {
            if (disk == null) {
                try {
                    scratchDisk = Files.createTempFile("isola-disk", ".img");
                    DiskImage.mkfs(scratchDisk, DiskImage.DEFAULT_SIZE);
                    disk = HostDisk.open(scratchDisk, false);
                } catch (IOException e) {
                    throw new BootException("cannot make a scratch disk image: " + e.getMessage());
                }
            }
            return startOwning(image, in, out, terminal, config, tier, disk, scratchDisk);
        } catch (RuntimeException e) {
            if (disk != null) {
                disk.close();
            }
            deleteQuietly(scratchDisk);
            throw e;
        }
    }

    private static Boot startOwning(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config,
            java.util.function.Function<HostedMachine, IsolationTier> tier, HostDisk disk, Path scratchDisk) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(image);
        } catch (NoSuchFileException e) {
            throw new BootException(image + ": no such boot image");
        } catch (IOException e) {
            throw new BootException(image + ": cannot read the boot image: " + e.getMessage());
        }
        Initrd initrd;
        BootManifest manifest;
        try {
            BootImage.Checked checked = BootImage.check(image.toString(), bytes);
            initrd = checked.initrd();
            manifest = checked.manifest();
        } catch (RuntimeException e) {
            throw new BootException(e.getMessage(), e);
        }
        Path ramdisk;
        Map<String, Path> jars = new HashMap<>();
        try {
            ramdisk = Files.createTempDirectory("isola-ramdisk");
            for (var s : manifest.startOrder()) {
                Path p = ramdisk.resolve(s.jar().replace('/', '_'));
                if (!Files.exists(p)) {
                    Files.write(p, initrd.read(s.jar()));
                }
                jars.put(s.jar(), p);
            }
        } catch (IOException e) {
            throw new BootException("cannot unpack the boot image " + image + ": " + e.getMessage());
        }
        ConcurrentMachine machine = HostedMachine.concurrent(config);
        ConsoleDevice console = new ConsoleDevice(in, out, terminal);
        Init init = new Init(machine, manifest, jars, tier.apply(machine)).provide(Console.DEVICE, console)
                .attach(BlkServer.DISK, disk);
        return new Boot(machine, init, console, ramdisk, disk, scratchDisk, init.start());
    }

    /** Boots and waits for the system to shut down; returns its exit status. */
    public static int run(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config) {
        return run(image, in, out, terminal, config, VmTier::new);
    }

    /** As {@link #run(Path, InputStream, PrintStream, boolean, KernelConfig)}, servers in the tier {@code tier} makes. */
    public static int run(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config,
            java.util.function.Function<HostedMachine, IsolationTier> tier) {
        return run(image, in, out, terminal, config, tier, null);
    }

    /** As {@link #run(Path, InputStream, PrintStream, boolean, KernelConfig, java.util.function.Function)}, on {@code disk}, which the boot owns (see {@link #start(Path, InputStream, PrintStream, boolean, KernelConfig, java.util.function.Function, HostDisk)}). */
    public static int run(Path image, InputStream in, PrintStream out, boolean terminal, KernelConfig config,
            java.util.function.Function<HostedMachine, IsolationTier> tier, HostDisk disk) {
        try (Boot b = start(image, in, out, terminal, config, tier, disk)) {
            return b.awaitExit();
        }
    }

    public Init init() {
        return init;
    }

    /** The console device over the streams boot was given. */
    public ConsoleDevice console() {
        return console;
    }

    public ConcurrentMachine machine() {
        return machine;
    }

    /**
     * Waits until init has started every server (their endpoints then take calls, which wait
     * until each server serves); a boot failure throws {@link BootException}.
     */
    public Boot awaitBooted() {
        try {
            init.booted().get();
            return this;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BootException("interrupted while booting");
        } catch (ExecutionException e) {
            throw bootFailed(e);
        }
    }

    /** Waits until the system shuts down; a boot failure throws {@link BootException}. */
    public int awaitExit() {
        try {
            return exit.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BootException("interrupted while running");
        } catch (ExecutionException e) {
            throw bootFailed(e);
        }
    }

    /** As {@link #awaitExit}, for at most {@code timeoutNs}. */
    public int awaitExitWithin(long timeoutNs) throws java.util.concurrent.TimeoutException {
        try {
            return exit.get(timeoutNs, java.util.concurrent.TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BootException("interrupted while running");
        } catch (ExecutionException e) {
            throw bootFailed(e);
        }
    }

    private static BootException bootFailed(ExecutionException e) {
        Throwable c = e.getCause();
        return new BootException("boot failed: " + (c.getMessage() == null ? c.toString() : c.getMessage()), c);
    }

    @Override
    public void close() {
        machine.close();
        disk.close();
        deleteQuietly(scratchDisk);
        try (var s = Files.list(ramdisk)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
            Files.deleteIfExists(ramdisk);
        } catch (IOException e) {
            // a temp directory left behind is harmless
        }
    }

    private static void deleteQuietly(Path scratchDisk) {
        if (scratchDisk != null) {
            try {
                Files.deleteIfExists(scratchDisk);
            } catch (IOException e) {
                // a temp file left behind is harmless
            }
        }
    }

    /** The image, its manifest or the boot itself is bad; the message names the file and problem. */
    public static final class BootException extends RuntimeException {
        BootException(String message) {
            super(message);
        }

        BootException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
