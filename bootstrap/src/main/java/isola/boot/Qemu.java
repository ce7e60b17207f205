package isola.boot;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * Boots the bare-metal kernel image in QEMU (TCG; no KVM is assumed) and reports its status:
 * the kernel writes to QEMU's isa-debug-exit port, so QEMU exits with 33 when the kernel passed
 * and 35 when it failed or panicked. Anything else (QEMU killed, a triple fault with
 * {@code -no-reboot}, no status at all within the timeout) is reported as such, never taken for
 * a pass. The serial port is QEMU's stdout, read line by line.
 *
 * <p>Used by {@code ./isola qemu}, the bare-metal integration tests and {@code ./isola bench
 * baremetal}: one place builds the QEMU command line.
 */
public final class Qemu {
    public static final String QEMU = "qemu-system-x86_64";
    /** QEMU's exit statuses for the kernel's pass and fail codes (0x10, 0x11: (code << 1) | 1). */
    public static final int QEMU_PASS = 33, QEMU_FAIL = 35;
    /** What {@link #run} returns: 0 pass, 1 the kernel failed or panicked, 2 no status (QEMU died or hung). */
    public static final int PASS = 0, FAIL = 1, NO_STATUS = 2;

    // Defaults are the fields' initial values (picocli shows them as ${DEFAULT-VALUE}), so a Qemu
    // made in code (the tests, the benchmark harness) has them too.
    // Given on the command line, a relative file is the user's: from where ./isola was run.
    public Path image = Path.of("baremetal/target/image/isola-kernel.elf");

    @Option(names = "--image", paramLabel = "FILE",
            description = "kernel image, a Multiboot ELF (default: baremetal/target/image/isola-kernel.elf, built by ./isola image)")
    void image(Path file) {
        image = DiskCommands.users(file);
    }

    public Path initrd = Path.of("bootstrap/target/isola.img");

    @Option(names = "--initrd", paramLabel = "FILE",
            description = "RAM disk passed as the boot module (default: bootstrap/target/isola.img)")
    void initrd(Path file) {
        initrd = DiskCommands.users(file);
    }

    @Option(names = "--no-initrd", description = "boot with no RAM disk (the kernel panics: for testing that path)")
    public boolean noInitrd;

    @Option(names = "--mem", paramLabel = "SIZE", converter = QemuMemory.class,
            description = "guest RAM, with unit M or G (default: 128M)")
    public long memory = 128L << 20;

    @Option(names = "--append", paramLabel = "ARGS",
            description = "kernel command line (panic=java, panic=fault, bench ...)")
    public String append = "";

    @Option(names = "--timeout", paramLabel = "SECONDS",
            description = "kill QEMU after this long without a status (default: ${DEFAULT-VALUE})")
    public long timeoutSeconds = 60;

    @Option(names = "--gdb", description = "start halted with a gdb server on :1234 (-s -S); no timeout")
    public boolean gdb;

    /** What a boot produced. */
    public record Result(int status, int qemuExit, List<String> lines, long summaryNanos, long totalNanos, String why) {
        /** The first line containing {@code text}, or null. */
        public String line(String text) {
            for (String l : lines) {
                if (l.contains(text)) {
                    return l;
                }
            }
            return null;
        }

        public String output() {
            return String.join("\n", lines);
        }
    }

    /** The QEMU command line for these options. */
    public List<String> command() {
        // -nodefaults: no VGA card or network card, whose option ROMs the firmware would run (about 0.1 s).
        List<String> cmd = new ArrayList<>(List.of(QEMU, "-nodefaults", "-kernel", image.toString(), "-m", (memory >> 20) + "M",
                "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"));
        if (!noInitrd) {
            cmd.addAll(List.of("-initrd", initrd.toString()));
        }
        if (!append.isEmpty()) {
            cmd.addAll(List.of("-append", append));
        }
        if (gdb) {
            cmd.addAll(List.of("-s", "-S"));
        }
        return cmd;
    }

    /** Checks the inputs exist; the message names the missing one and how to make it. */
    public void check() throws BootException {
        if (!Files.isRegularFile(image)) {
            throw new BootException("no kernel image " + image + " (build it with ./isola image)");
        }
        if (!noInitrd && !Files.isRegularFile(initrd)) {
            throw new BootException("no RAM disk " + initrd + " (./isola build makes bootstrap/target/isola.img; --no-initrd boots without one)");
        }
    }

    /**
     * Boots and waits for the status, passing each serial line to {@code sink} as it arrives.
     * {@code summaryNanos} is the time from QEMU's start to the kernel's summary line (-1 if none).
     */
    public Result run(Consumer<String> sink) throws BootException, IOException, InterruptedException {
        check();
        List<String> lines = new ArrayList<>();
        long t0 = System.nanoTime();
        Process p;
        try {
            p = new ProcessBuilder(command()).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new BootException("cannot run " + QEMU + " (install it: apt-get install qemu-system-x86): " + e.getMessage());
        }
        long[] summary = {-1};
        Thread reader = Thread.ofPlatform().daemon(true).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    line = line.replace("\r", "");
                    if (summary[0] < 0 && line.startsWith("isola: summary:")) {
                        summary[0] = System.nanoTime() - t0;
                    }
                    synchronized (lines) {
                        lines.add(line);
                    }
                    sink.accept(line);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
        boolean done = gdb ? p.waitFor() >= Integer.MIN_VALUE : p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        long total = System.nanoTime() - t0;
        if (!done) {
            p.destroyForcibly().waitFor();
        }
        reader.join(5000);
        List<String> out;
        synchronized (lines) {
            out = List.copyOf(lines);
        }
        if (!done) {
            return new Result(NO_STATUS, -1, out, summary[0], total, "no status within " + timeoutSeconds + " s: QEMU was killed (the kernel hung?)");
        }
        int exit = p.exitValue();
        return switch (exit) {
            case QEMU_PASS -> new Result(PASS, exit, out, summary[0], total, "the kernel passed");
            case QEMU_FAIL -> new Result(FAIL, exit, out, summary[0], total, "the kernel failed or panicked");
            default -> new Result(NO_STATUS, exit, out, summary[0], total, "QEMU exited with " + exit
                    + " without a status from the kernel (a triple fault resets, and -no-reboot then exits)");
        };
    }

    /** Guest RAM for {@code --mem}: whole MiB, 16M to 64G (too little for the kernel is its own error, on serial). */
    static final class QemuMemory implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            long bytes = isola.init.manifest.ByteSize.parse(value, "MG");
            if (bytes < 0 || bytes % (1L << 20) != 0) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a memory size; expected whole megabytes with unit M or G, e.g. 128M");
            }
            if (bytes < (16L << 20) || bytes > (64L << 30)) {
                throw new CommandLine.TypeConversionException("memory size '" + value + "' is outside 16M..64G");
            }
            return bytes;
        }
    }

    /** The image or RAM disk is missing, or QEMU cannot run: the message says which. */
    public static final class BootException extends Exception {
        public BootException(String message) {
            super(message);
        }
    }
}
