package isola.nativeimage.build;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs the Native Image builder (the Maven Central jars in {@code native/target/graal}, on this
 * JDK) for one image: a Maven module's jar and runtime class path, a main class, and an options
 * file. It stops at the relocatable object; the caller links it (NativeBuild for the hosted
 * executable, BareMetalBuild for the kernel). Shared by both so the builder runs one way.
 *
 * @param module the module whose {@code target/} holds its jar and {@code imagecp.txt}
 * @param work   the scratch directory: {@code builder-tmp/} (the builder's), the builder command
 */
public record ImageBuilder(Path project, Path module, String name, String mainClass, Path options, Path out, Path work,
        long timeoutMinutes) {
    static final String BUILDER_MAIN = "org.graalvm.nativeimage.builder/com.oracle.svm.hosted.NativeImageGeneratorRunner";
    static final String COMPILER_JAR = "compiler-";

    /** The JDK this build runs on: the builder runs on it too, and its libraries are linked in. */
    static Path javaHome() {
        return Path.of(System.getProperty("java.home"));
    }

    Path nativeTarget() {
        return project.resolve("native/target");
    }

    /** The C the builder reads headers from (-H:CLibraryPath) and the hosted helpers live in. */
    public Path clib() {
        return project.resolve("native/src/main/c");
    }

    Path graal() {
        return nativeTarget().resolve("graal");
    }

    private Path graalHome() {
        return nativeTarget().resolve("graal-home");
    }

    private Path tmp() {
        return work.resolve("builder-tmp");
    }

    Map<String, String> substitutions() {
        return Map.of("graal.version", graalVersion(), "java.home", graalHome().toString(), "out", out.toString(),
                "tmp", tmp().toString(), "clib", clib().toString());
    }

    /** The version of the builder jars: the compiler jar's, compiler-25.0.1.jar giving 25.0.1. */
    private String graalVersion() {
        try (Stream<Path> s = Files.list(graal())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(COMPILER_JAR) && n.endsWith(".jar"))
                    .map(n -> n.substring(COMPILER_JAR.length(), n.length() - 4)).findFirst()
                    .orElseThrow(() -> new NativeBuild.BuildException(graal() + " has no " + COMPILER_JAR + "*.jar (the Graal compiler)"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<Path> builderJars() throws IOException {
        Path graal = graal();
        if (!Files.isDirectory(graal)) {
            throw new NativeBuild.BuildException(graal + " is missing: the builder jars are copied there by ./mvnw install");
        }
        try (Stream<Path> s = Files.list(graal)) {
            List<Path> jars = s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
            if (jars.stream().noneMatch(p -> p.getFileName().toString().startsWith("svm-"))) {
                throw new NativeBuild.BuildException(graal + " has no svm-*.jar (the Native Image builder)");
            }
            return jars;
        }
    }

    /** The module's jar, then its runtime class path (written by ./mvnw install). */
    public List<Path> imageClassPath() throws IOException {
        Path target = module.resolve("target");
        Path cpFile = target.resolve("imagecp.txt");
        if (!Files.exists(cpFile)) {
            throw new NativeBuild.BuildException(cpFile + " is missing: it is written by ./mvnw install");
        }
        String prefix = module.getFileName() + "-";
        List<Path> cp = new ArrayList<>();
        try (Stream<Path> s = Files.list(target)) {
            s.filter(p -> p.getFileName().toString().startsWith(prefix) && p.toString().endsWith(".jar")).forEach(cp::add);
        }
        if (cp.isEmpty()) {
            throw new NativeBuild.BuildException(target + " has no " + prefix + "*.jar: run ./mvnw install first");
        }
        for (String e : Files.readString(cpFile).strip().split(java.io.File.pathSeparator)) {
            if (!e.isEmpty()) {
                cp.add(Path.of(e));
            }
        }
        return cp;
    }

    /**
     * A digest of everything the image is built from: the options files, {@code sources} (each
     * regular file under them), the image class path and the builder's version.
     */
    public String digest(List<Path> sources) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<Path> builderJars = builderJars(), imageClassPath = imageClassPath(); // missing ones named first
        List<Path> inputs = new ArrayList<>();
        try (Stream<Path> s = Files.list(project.resolve("native"))) {
            s.filter(p -> p.toString().endsWith(".options")).sorted().forEach(inputs::add); // builder.options
        }
        inputs.add(options);
        for (Path dir : sources) {
            try (Stream<Path> s = Files.walk(dir)) {
                s.filter(Files::isRegularFile).sorted().forEach(inputs::add);
            }
        }
        inputs.addAll(imageClassPath);
        for (Path p : inputs) {
            md.update(p.toString().getBytes(StandardCharsets.UTF_8));
            if (p.toString().endsWith(".jar")) {
                digestJar(md, p);
            } else {
                md.update(Files.readAllBytes(p));
            }
        }
        for (Path p : builderJars) {
            md.update(p.getFileName().toString().getBytes(StandardCharsets.UTF_8)); // versioned names
        }
        md.update(javaHome().toString().getBytes(StandardCharsets.UTF_8));
        md.update(Runtime.version().toString().getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(md.digest());
    }

    /** A jar by its entries' names and contents (CRC and size), not its bytes: a repackaged jar with the same classes is the same input. */
    private static void digestJar(MessageDigest md, Path jar) throws IOException {
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(jar.toFile())) {
            List<java.util.zip.ZipEntry> entries = new ArrayList<>(z.stream().toList());
            entries.sort(java.util.Comparator.comparing(java.util.zip.ZipEntry::getName));
            for (var e : entries) {
                md.update(e.getName().getBytes(StandardCharsets.UTF_8));
                md.update(java.nio.ByteBuffer.allocate(16).putLong(e.getCrc()).putLong(e.getSize()).array());
            }
        }
    }

    /** Runs the builder; returns the relocatable object it wrote. */
    public Path build(List<String> extraImageOptions) throws IOException, InterruptedException {
        BuildOptions opts = BuildOptions.read(options, substitutions());
        List<Path> builderJars = builderJars();
        List<Path> imageClassPath = imageClassPath();
        Files.createDirectories(out);
        NativeBuild.deleteTree(tmp());
        Files.createDirectories(tmp());
        makeJavaHome();
        Path exports = work.resolve("exports.args");
        Files.write(exports, exportsAndOpens(builderJars));

        Path compiler = builderJars.stream().filter(p -> p.getFileName().toString().startsWith(COMPILER_JAR))
                .findFirst().orElseThrow();
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome().resolve("bin/java").toString());
        cmd.addAll(opts.jvm());
        cmd.add("--upgrade-module-path");
        cmd.add(compiler.toString());
        cmd.add("--module-path");
        cmd.add(String.join(java.io.File.pathSeparator,
                builderJars.stream().filter(p -> !p.equals(compiler)).map(Path::toString).toList()));
        cmd.add("@" + exports);
        cmd.add("--module");
        cmd.add(BUILDER_MAIN);
        cmd.add("-H:ImageBuildID=" + UUID.randomUUID());
        cmd.add("-imagecp");
        cmd.add(String.join(java.io.File.pathSeparator, imageClassPath.stream().map(Path::toString).toList()));
        cmd.add("-H:Class=" + mainClass);
        cmd.add("-H:Name=" + name);
        cmd.addAll(opts.image());
        cmd.addAll(extraImageOptions);
        Path commandFile = work.resolve("builder-command.txt");
        Files.write(commandFile, cmd);
        System.out.println("isola: running the Native Image builder for " + name + " (a few minutes; command in "
                + project.relativize(commandFile) + ")");
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (!p.waitFor(timeoutMinutes, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new NativeBuild.BuildException("the Native Image builder did not finish in " + timeoutMinutes + " minutes");
        }
        if (p.exitValue() != 0) {
            throw new NativeBuild.BuildException("the Native Image builder failed (exit " + p.exitValue() + "); its output is above");
        }
        return lastObject();
    }

    /** The relocatable object the builder wrote last. */
    public Path lastObject() throws IOException {
        if (!Files.isDirectory(tmp())) {
            throw new NativeBuild.BuildException(tmp() + " is missing: no build to relink");
        }
        try (Stream<Path> s = Files.walk(tmp())) {
            return s.filter(f -> f.getFileName().toString().equals(name + ".o")).findFirst()
                    .orElseThrow(() -> new NativeBuild.BuildException("the builder wrote no " + name + ".o under " + tmp()));
        }
    }

    /**
     * A JDK overlay for the builder's {@code java.home}: symbolic links to this JDK's files, plus
     * the progress reporter's JNI helper the builder loads from {@code lib/svm/builder/lib}.
     */
    private void makeJavaHome() throws IOException, InterruptedException {
        Path home = graalHome();
        NativeBuild.deleteTree(home);
        Path lib = home.resolve("lib");
        Path helperDir = lib.resolve("svm/builder/lib");
        Files.createDirectories(helperDir);
        try (Stream<Path> s = Files.list(javaHome())) {
            for (Path p : s.toList()) {
                if (!p.getFileName().toString().equals("lib")) {
                    Files.createSymbolicLink(home.resolve(p.getFileName().toString()), p);
                }
            }
        }
        try (Stream<Path> s = Files.list(javaHome().resolve("lib"))) {
            for (Path p : s.toList()) {
                Files.createSymbolicLink(lib.resolve(p.getFileName().toString()), p);
            }
        }
        List<String> cc = new ArrayList<>(List.of("-shared", "-fPIC", "-O2", "-Wall"));
        cc.addAll(Linker.jniIncludes(javaHome()));
        cc.addAll(List.of("-o", helperDir.resolve("libreporterchelper.so").toString(), clib().resolve("reporterchelper.c").toString()));
        Linker.gcc(cc);
    }

    /**
     * {@code --add-exports} and {@code --add-opens} of every package of every JDK module the
     * builder's JVM resolves, to the builder: it reaches into many JDK internals, and which ones
     * changes between updates. Modules it does not resolve are left out (the JVM would warn).
     */
    static List<String> exportsAndOpens(List<Path> builderJars) {
        ModuleFinder system = ModuleFinder.ofSystem();
        ModuleFinder builder = ModuleFinder.of(builderJars.toArray(Path[]::new));
        // The roots: --add-modules=ALL-DEFAULT (every system module exporting a package to all)
        // and the builder's modules.
        TreeSet<String> roots = new TreeSet<>();
        for (var ref : system.findAll()) {
            // Incubator modules are never resolved by default (JEP 11).
            if (!ref.descriptor().name().startsWith("jdk.incubator.")
                    && ref.descriptor().exports().stream().anyMatch(e -> !e.isQualified())) {
                roots.add(ref.descriptor().name());
            }
        }
        builder.findAll().forEach(ref -> roots.add(ref.descriptor().name()));
        var resolved = java.lang.module.Configuration.empty().resolve(builder, system, roots);
        String to = String.join(",", builder.findAll().stream().map(r -> r.descriptor().name()).sorted().toList())
                + ",ALL-UNNAMED";
        TreeSet<String> packages = new TreeSet<>();
        for (var m : resolved.modules()) {
            var ref = system.find(m.name());
            if (ref.isPresent() && builder.find(m.name()).isEmpty()) { // a JDK module, not one of the builder's
                for (String pkg : ref.get().descriptor().packages()) {
                    packages.add(m.name() + "/" + pkg);
                }
            }
        }
        List<String> args = new ArrayList<>();
        for (String mp : packages) {
            args.add("--add-exports=" + mp + "=" + to);
            args.add("--add-opens=" + mp + "=" + to);
        }
        return args;
    }
}
