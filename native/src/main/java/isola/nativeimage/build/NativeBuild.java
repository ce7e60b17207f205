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
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Builds Isola's native executable from Maven Central artifacts alone (./isola native): runs the
 * Native Image builder jars on this JDK with the options in {@code native/native-image.options},
 * then links the relocatable object it writes with gcc against the C helpers in
 * {@code native/src/main/c} and the JDK's shared libraries, and checks that the result runs.
 *
 * <p>Output, in {@code native/target/bin/}: {@code isola} and the shared libraries it loads
 * from its own directory (the JDK's libjava, libnio, libnet, libzip and a libjvm made here).
 * A build whose inputs (options, C sources, image class path, builder jars) did not change since
 * the last one is skipped; {@code --force} builds anyway.
 */
@Command(name = "native", mixinStandardHelpOptions = true,
        description = "Build Isola's native executable (native/target/bin/isola) with GraalVM Native Image.")
public final class NativeBuild implements Callable<Integer> {
    /** The image's entry point. */
    static final String MAIN_CLASS = "isola.nativeimage.NativeMain";
    static final String NAME = "isola";
    /** Builder arguments fixed by how NativeBuild works, not tuning: kept out of the options file. */
    static final String BUILDER_MAIN = "org.graalvm.nativeimage.builder/com.oracle.svm.hosted.NativeImageGeneratorRunner";
    static final String COMPILER_JAR = "compiler-";
    /**
     * The JDK libraries the image always loads (SVM calls them like built-in libraries, through
     * the JNI_OnLoad_&lt;lib&gt; the linker generates); the linker adds any other JDK library that defines a
     * JNI function the image calls.
     */
    static final List<String> JDK_LIBRARIES = List.of("java", "nio", "net", "zip");

    @Option(names = "--project", paramLabel = "DIR", description = "the Isola checkout (default: ${DEFAULT-VALUE})",
            defaultValue = ".")
    Path project;

    @Option(names = "--force", description = "build even if no input changed")
    boolean force;

    @Option(names = "--relink", description = "skip the builder: link the object the last build wrote again (for work on the C helpers)")
    boolean relink;

    @Option(names = "--timeout", paramLabel = "MINUTES", description = "give up on the builder after this long (default: ${DEFAULT-VALUE})",
            defaultValue = "30")
    long timeoutMinutes;

    private Path nativeDir, target, out, tmp, clib, graal, javaHome;

    public static void main(String[] args) {
        System.exit(new CommandLine(new NativeBuild()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        project = project.toAbsolutePath().normalize();
        nativeDir = project.resolve("native");
        target = nativeDir.resolve("target");
        out = target.resolve("bin");
        tmp = target.resolve("builder-tmp");
        clib = nativeDir.resolve("src/main/c");
        graal = target.resolve("graal");
        javaHome = target.resolve("graal-home");
        try {
            List<Path> builderJars = builderJars();
            List<Path> imageClassPath = imageClassPath();
            Path options = nativeDir.resolve("native-image.options");
            Path executable = out.resolve(NAME);
            Path stamp = target.resolve("native-inputs.sha256");
            String digest = digest(options, imageClassPath, builderJars);
            if (!force && Files.isExecutable(executable) && Files.exists(stamp)
                    && Files.readString(stamp).strip().equals(digest)) {
                System.out.println("isola native: " + project.relativize(executable) + " is up to date");
                checkRuns(executable);
                return 0;
            }
            Files.deleteIfExists(stamp);
            Files.deleteIfExists(executable); // a failed build leaves no stale executable behind
            long t0 = System.nanoTime();
            Path object = relink ? lastObject()
                    : runBuilder(BuildOptions.read(options, substitutions()), builderJars, imageClassPath);
            long t1 = System.nanoTime();
            new Linker(javaHome(), clib, target.resolve("link"), out).link(object, executable);
            long t2 = System.nanoTime();
            checkRuns(executable);
            if (!relink) { // a relinked object may be from other inputs: the next build builds
                Files.writeString(stamp, digest + "\n");
            }
            System.out.printf("isola native: built %s (builder %d s, link %d s)%n", project.relativize(executable),
                    TimeUnit.NANOSECONDS.toSeconds(t1 - t0), TimeUnit.NANOSECONDS.toSeconds(t2 - t1));
            return 0;
        } catch (BuildException e) {
            System.err.println("isola native: " + e.getMessage());
            return 1;
        }
    }

    /** The JDK this build runs on: the builder runs on it too, and its libraries are linked in. */
    static Path javaHome() {
        return Path.of(System.getProperty("java.home"));
    }

    private Map<String, String> substitutions() {
        return Map.of("graal.version", graalVersion(), "java.home", javaHome.toString(), "out", out.toString(),
                "tmp", tmp.toString(), "clib", clib.toString());
    }

    /** The version of the builder jars: the compiler jar's, compiler-25.0.1.jar giving 25.0.1. */
    private String graalVersion() {
        try (Stream<Path> s = Files.list(graal)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(COMPILER_JAR) && n.endsWith(".jar"))
                    .map(n -> n.substring(COMPILER_JAR.length(), n.length() - 4)).findFirst()
                    .orElseThrow(() -> new BuildException(graal + " has no " + COMPILER_JAR + "*.jar (the Graal compiler)"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private List<Path> builderJars() throws IOException {
        if (!Files.isDirectory(graal)) {
            throw new BuildException(graal + " is missing: the builder jars are copied there by ./mvnw install (./isola native does that first)");
        }
        try (Stream<Path> s = Files.list(graal)) {
            List<Path> jars = s.filter(p -> p.toString().endsWith(".jar")).sorted().toList();
            if (jars.stream().noneMatch(p -> p.getFileName().toString().startsWith("svm-"))) {
                throw new BuildException(graal + " has no svm-*.jar (the Native Image builder)");
            }
            return jars;
        }
    }

    private List<Path> imageClassPath() throws IOException {
        Path cpFile = target.resolve("imagecp.txt");
        if (!Files.exists(cpFile)) {
            throw new BuildException(cpFile + " is missing: it is written by ./mvnw install");
        }
        List<Path> cp = new ArrayList<>();
        try (Stream<Path> s = Files.list(target)) {
            s.filter(p -> p.getFileName().toString().matches("native-.*\\.jar")).forEach(cp::add);
        }
        if (cp.isEmpty()) {
            throw new BuildException(target + " has no native-*.jar: run ./mvnw install first");
        }
        for (String e : Files.readString(cpFile).strip().split(java.io.File.pathSeparator)) {
            if (!e.isEmpty()) {
                cp.add(Path.of(e));
            }
        }
        return cp;
    }

    /** A digest of everything the executable is built from. */
    private String digest(Path options, List<Path> imageClassPath, List<Path> builderJars) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        List<Path> inputs = new ArrayList<>();
        inputs.add(options);
        try (Stream<Path> s = Files.walk(clib)) {
            s.filter(Files::isRegularFile).sorted().forEach(inputs::add);
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
    private Path runBuilder(BuildOptions options, List<Path> builderJars, List<Path> imageClassPath)
            throws IOException, InterruptedException {
        Files.createDirectories(out);
        deleteTree(tmp);
        Files.createDirectories(tmp);
        makeJavaHome();
        Path exports = target.resolve("exports.args");
        Files.write(exports, exportsAndOpens(builderJars));

        Path compiler = builderJars.stream().filter(p -> p.getFileName().toString().startsWith(COMPILER_JAR))
                .findFirst().orElseThrow();
        List<String> cmd = new ArrayList<>();
        cmd.add(javaHome().resolve("bin/java").toString());
        cmd.addAll(options.jvm());
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
        cmd.add("-H:Class=" + MAIN_CLASS);
        cmd.add("-H:Name=" + NAME);
        cmd.addAll(options.image());
        cmd.addAll(LibraryMetadata.options(imageClassPath));
        Files.write(target.resolve("builder-command.txt"), cmd);
        System.out.println("isola native: running the Native Image builder (a few minutes; command in "
                + project.relativize(target.resolve("builder-command.txt")) + ")");
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        if (!p.waitFor(timeoutMinutes, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new BuildException("the Native Image builder did not finish in " + timeoutMinutes + " minutes");
        }
        if (p.exitValue() != 0) {
            throw new BuildException("the Native Image builder failed (exit " + p.exitValue() + "); its output is above");
        }
        return lastObject();
    }

    /** The relocatable object the builder wrote last. */
    private Path lastObject() throws IOException {
        if (!Files.isDirectory(tmp)) {
            throw new BuildException(tmp + " is missing: no build to relink");
        }
        try (Stream<Path> s = Files.walk(tmp)) {
            return s.filter(f -> f.getFileName().toString().equals(NAME + ".o")).findFirst()
                    .orElseThrow(() -> new BuildException("the builder wrote no " + NAME + ".o under " + tmp));
        }
    }

    /**
     * A JDK overlay for the builder's {@code java.home}: symbolic links to this JDK's files, plus
     * the progress reporter's JNI helper the builder loads from {@code lib/svm/builder/lib}.
     */
    private void makeJavaHome() throws IOException, InterruptedException {
        deleteTree(javaHome);
        Path lib = javaHome.resolve("lib");
        Path helperDir = lib.resolve("svm/builder/lib");
        Files.createDirectories(helperDir);
        try (Stream<Path> s = Files.list(javaHome())) {
            for (Path p : s.toList()) {
                if (!p.getFileName().toString().equals("lib")) {
                    Files.createSymbolicLink(javaHome.resolve(p.getFileName().toString()), p);
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
        cc.addAll(List.of("-o", helperDir.resolve("libreporterchelper.so").toString(), clib.resolve("reporterchelper.c").toString()));
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

    /** Runs {@code executable --version}: the image starts, its C helpers link and it exits 0. */
    static void checkRuns(Path executable) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(executable.toString(), "--version").redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new BuildException(executable + " --version did not exit within 30 s");
        }
        if (p.exitValue() != 0 || !output.contains("Isola")) {
            throw new BuildException(executable + " --version failed (exit " + p.exitValue() + "):\n" + output);
        }
        System.out.println("isola native: " + executable.getFileName() + " runs: " + output.strip());
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p); // a symbolic link is deleted, never followed
            }
        }
    }

    /** The build cannot go on; the message says why and names the file or tool. */
    static final class BuildException extends RuntimeException {
        BuildException(String message) {
            super(message);
        }
    }
}
