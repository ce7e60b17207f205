package isola.baremetal.build;

import isola.nativeimage.build.BuildFlags;
import isola.nativeimage.build.ImageBuilder;
import isola.nativeimage.build.Linker;
import isola.nativeimage.build.NativeBuild;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Builds the bare-metal kernel image (./isola image): the Native Image builder compiles
 * {@code isola.baremetal.BareMetalMain} with hostkernel (and nothing else) for x86-64 with SSE2
 * only, with the options in {@code baremetal/baremetal-image.options}; then {@code ld} links
 * the object with the boot stub, the freestanding runtime (every {@code .c} and {@code .S} file in
 * {@code baremetal/src/main/c}) and its link script, and {@code objcopy} makes the 32-bit ELF that QEMU's
 * {@code -kernel} (Multiboot 1) loads.
 *
 * <p>Every function the image imports that the runtime does not define is generated as one that
 * panics naming itself, so a path the kernel was not expected to take says so on the serial
 * port instead of jumping to address 0. The list is printed at link time. The numbers the Java
 * kernel and the runtime share come from the Java constants, as the generated
 * {@code isola_limits.h} ({@link SharedConstants}).
 *
 * <p>Output: {@code baremetal/target/image/isola-kernel.elf} (and the 64-bit
 * {@code isola-kernel.elf64} with symbols, for gdb). Skipped if no input changed since the last
 * build (the stamp {@code image-inputs.sha256} is touched then, as NativeBuild's is); {@code --force}
 * builds anyway, {@code --check} only says whether a build is due.
 */
@Command(name = "image", mixinStandardHelpOptions = true,
        description = "Build Isola's bare-metal kernel image (baremetal/target/image/isola-kernel.elf).")
public final class BareMetalBuild implements Callable<Integer> {
    static final String MAIN_CLASS = "isola.baremetal.BareMetalMain";
    static final String NAME = "isola-kernel";
    /** Freestanding C for a kernel: no libc, no red zone (interrupts push onto the stack), no SSE (the interrupt stubs do not save it). */
    static final List<String> CFLAGS = List.of("-c", "-O2", "-Wall", "-Wextra", "-ffreestanding", "-fno-pie", "-fno-pic",
            "-mno-red-zone", "-mgeneral-regs-only", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
            "-fno-builtin", "-mcmodel=small", "-g");

    @CommandLine.Mixin
    BuildFlags flags;

    public static void main(String[] args) {
        System.exit(new CommandLine(new BareMetalBuild()).execute(args));
    }

    /** The image a build writes, under {@code project}. */
    public static Path image(Path project) {
        return project.resolve("baremetal/target/image").resolve(NAME + ".elf");
    }

    @Override
    public Integer call() throws Exception {
        Path project = flags.project.toAbsolutePath().normalize();
        Path module = project.resolve("baremetal");
        Path target = module.resolve("target");
        Path out = target.resolve("image");
        Path csrc = module.resolve("src/main/c");
        ImageBuilder builder = new ImageBuilder(project, module, NAME, MAIN_CLASS, module.resolve("baremetal-image.options"),
                out, target, flags.timeoutMinutes);
        try {
            Path image = image(project);
            Path stamp = target.resolve("image-inputs.sha256");
            String digest = builder.digest(List.of(csrc, builder.clib().resolve("cpufeatures.c"), builder.clib().resolve("include")));
            boolean upToDate = Files.exists(image) && NativeBuild.upToDate(stamp, digest);
            if (flags.check) {
                return NativeBuild.check(project, image, upToDate, "isola image");
            }
            if (!flags.force && upToDate) {
                System.out.println("isola image: " + project.relativize(image) + " is up to date");
                return 0;
            }
            Files.deleteIfExists(stamp);
            Files.deleteIfExists(image);
            long t0 = System.nanoTime();
            Path object = flags.relink ? builder.lastObject() : builder.build(List.of());
            long t1 = System.nanoTime();
            link(object, csrc, builder, target.resolve("link"), image);
            if (!flags.relink) {
                Files.writeString(stamp, digest + "\n");
            }
            System.out.printf("isola image: built %s (%d KiB; builder %d s)%n", project.relativize(image),
                    Files.size(image) >> 10, TimeUnit.NANOSECONDS.toSeconds(t1 - t0));
            return 0;
        } catch (NativeBuild.BuildException e) {
            System.err.println("isola image: " + e.getMessage());
            return 1;
        }
    }

    private static void link(Path object, Path csrc, ImageBuilder builder, Path work, Path image) throws IOException, InterruptedException {
        NativeBuild.deleteTree(work);
        Files.createDirectories(work);
        SharedConstants.writeHeader(builder.imageClassPath(), work);
        Path clib = builder.clib();
        List<Path> sources = new ArrayList<>(runtimeSources(csrc));
        sources.add(clib.resolve("cpufeatures.c"));
        List<Path> objects = new ArrayList<>();
        for (Path source : sources) {
            objects.add(compile(source, clib, work));
        }

        // What the image imports that the runtime does not define: a function that panics naming it.
        List<String> nm = new ArrayList<>(List.of("nm", "-u", object.toString()));
        TreeSet<String> imported = Linker.symbols(nm);
        List<String> nmDefined = new ArrayList<>(List.of("nm", "--defined-only"));
        objects.forEach(o -> nmDefined.add(o.toString()));
        imported.removeAll(Linker.symbols(nmDefined));
        StringBuilder c = new StringBuilder("/* Generated by BareMetalBuild: what the image imports and the runtime does not provide. */\n"
                + "void isola_unimplemented(const char *name) __attribute__((noreturn));\n");
        for (String name : imported) {
            c.append("void ").append(name).append("(void) { isola_unimplemented(\"").append(name).append("\"); }\n");
        }
        Path missing = work.resolve("unimplemented.c");
        Files.writeString(missing, c);
        objects.add(compile(missing, clib, work));
        System.out.println("isola image: " + imported.size() + " imported functions panic if called: " + String.join(" ", imported));

        Path elf64 = image.resolveSibling(NAME + ".elf64");
        List<String> ld = new ArrayList<>(List.of("ld", "-n", "-nostdlib", "-z", "max-page-size=4096", "-z", "noexecstack",
                "-T", csrc.resolve("kernel.ld").toString(), "-o", elf64.toString(), object.toString()));
        objects.forEach(o -> ld.add(o.toString()));
        Linker.run(ld);
        // QEMU's -kernel loads Multiboot 1 kernels only as 32-bit ELF; the 64-bit code inside is unchanged.
        Linker.run(List.of("objcopy", "-O", "elf32-i386", elf64.toString(), image.toString()));
    }

    /** The runtime's units: every C and assembly file in {@code csrc}, in name order (a deterministic link). */
    private static List<Path> runtimeSources(Path csrc) throws IOException {
        try (Stream<Path> s = Files.list(csrc)) {
            return s.filter(p -> p.toString().endsWith(".c") || p.toString().endsWith(".S")).sorted().toList();
        }
    }

    /** Compiles source to {@code <name>.o} in work (boot.S and boot.c each keep their own), with the generated headers in work on the path. */
    private static Path compile(Path source, Path clib, Path work) throws IOException, InterruptedException {
        Path object = work.resolve(source.getFileName() + ".o");
        List<String> cc = new ArrayList<>(CFLAGS);
        cc.addAll(List.of("-I", work.toString(), "-I", clib.resolve("include").toString(), "-o", object.toString(), source.toString()));
        Linker.gcc(cc);
        return object;
    }
}
