package isola.nativeimage.build;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Links the builder's relocatable object into an executable with gcc, as a GraalVM
 * distribution's own link step would, from parts this project has:
 * <ul>
 *   <li>{@code svmhelpers.c}: the C functions the image imports that a distribution ships in
 *       its static helper libraries (CPU features, locale, time zone, signals, ...);
 *   <li>the JDK's shared libraries libjava, libnio, libnet and libzip, whose JNI functions the
 *       image calls, copied next to the executable (it finds them through {@code $ORIGIN});
 *   <li>a {@code libjvm.so} made here. The JDK's libraries were linked against HotSpot's libjvm
 *       with {@code -z now}, so every {@code JVM_*} function they import must resolve when they
 *       load. {@code jvm.c} implements those the image's JNI calls can reach; each other one
 *       (found with {@code nm}, so a JDK update needs no edit) is generated as a function that
 *       says it is not supported and aborts.
 * </ul>
 */
final class Linker {
    private final Path javaHome, clib, work, out;

    Linker(Path javaHome, Path clib, Path work, Path out) {
        this.javaHome = javaHome;
        this.clib = clib;
        this.work = work;
        this.out = out;
    }

    void link(Path object, Path executable) throws IOException, InterruptedException {
        NativeBuild.deleteTree(work);
        Files.createDirectories(work);
        Files.createDirectories(out);
        for (String lib : NativeBuild.JDK_LIBRARIES) {
            Files.copy(jdkLibrary(lib), out.resolve(libraryFile(lib)), StandardCopyOption.REPLACE_EXISTING);
        }
        buildLibjvm();
        Path helpers = work.resolve("svmhelpers.o");
        gcc(List.of("-c", "-O2", "-Wall", "-Wextra", "-fPIC", "-I", javaHome.resolve("include").toString(),
                "-I", javaHome.resolve("include/linux").toString(), "-I", clib.resolve("include").toString(),
                "-o", helpers.toString(), clib.resolve("svmhelpers.c").toString()));
        // --no-as-needed: the image reaches some libraries only through JNI_OnLoad_<lib> lookups.
        List<String> cmd = new ArrayList<>(List.of("-no-pie", "-o", executable.toString(), object.toString(),
                helpers.toString(), "-L" + out, "-Wl,--no-as-needed"));
        for (String lib : NativeBuild.JDK_LIBRARIES) {
            cmd.add("-l" + lib);
        }
        // -rdynamic: export the image's JNI invocation functions, as GraalVM's own link does.
        // The libraries are found next to the executable ($ORIGIN), ahead of LD_LIBRARY_PATH
        // (old-style RPATH), so a HotSpot libjvm.so on that path is never picked up.
        cmd.addAll(List.of("-ljvm", "-ldl", "-lpthread", "-lrt", "-rdynamic", "-Wl,-rpath,$ORIGIN",
                "-Wl,--disable-new-dtags", "-Wl,-rpath-link," + out, "-Wl,-z,noexecstack"));
        gcc(cmd);
    }

    private Path jdkLibrary(String lib) {
        Path p = javaHome.resolve("lib").resolve(libraryFile(lib));
        if (!Files.isRegularFile(p)) {
            throw new NativeBuild.BuildException(p + " is missing: the JDK at " + javaHome + " lacks a library the image needs");
        }
        return p;
    }

    private static String libraryFile(String lib) {
        return "lib" + lib + ".so";
    }

    /** Builds out/libjvm.so: jvm.c plus a generated trap for each other JVM_* the JDK libraries import. */
    private void buildLibjvm() throws IOException, InterruptedException {
        Path jvmC = clib.resolve("jvm.c");
        Path jvmO = work.resolve("jvm.o");
        gcc(List.of("-c", "-O2", "-Wall", "-Wextra", "-fPIC", "-I", javaHome.resolve("include").toString(),
                "-I", javaHome.resolve("include/linux").toString(), "-o", jvmO.toString(), jvmC.toString()));
        TreeSet<String> implemented = symbols(List.of("nm", "--defined-only", "--extern-only", jvmO.toString()));
        // What libjvm must define: every import versioned SUNWprivate_* (HotSpot's version), and
        // any unversioned import none of the four libraries defines itself.
        TreeSet<String> imported = new TreeSet<>(), defined = new TreeSet<>();
        for (String lib : NativeBuild.JDK_LIBRARIES) {
            String path = jdkLibrary(lib).toString();
            for (String s : symbols(List.of("nm", "-D", "--defined-only", path))) {
                defined.add(unversioned(s));
            }
            for (String line : run(List.of("nm", "-D", "--undefined-only", path)).split("\n")) {
                String[] f = line.strip().split("\\s+");
                if (f.length == 2 && f[0].equals("U")) {
                    imported.add(f[1]);
                }
            }
        }
        TreeSet<String> required = new TreeSet<>();
        for (String s : imported) {
            if (s.contains("@SUNWprivate_")) {
                required.add(unversioned(s));
            } else if (!s.contains("@") && !defined.contains(s)) {
                required.add(s);
            }
        }
        StringBuilder c = new StringBuilder("""
                /* Generated by isola.nativeimage.build.Linker: the JVM_* functions the JDK's libraries import
                   that a native image never calls (jvm.c has the ones it can). Each reports and aborts. */
                #include <stdio.h>
                #include <stdlib.h>

                static void unsupported(const char *name) {
                    fprintf(stderr, "isola native: %s is not supported in a native image\\n", name);
                    abort();
                }
                """);
        for (String name : required) {
            if (!implemented.contains(name)) {
                c.append("void ").append(name).append("(void) { unsupported(\"").append(name).append("\"); }\n");
            }
        }
        Path unsupported = work.resolve("jvm_unsupported.c");
        Files.writeString(unsupported, c);
        TreeSet<String> exported = new TreeSet<>(required);
        exported.addAll(implemented);
        StringBuilder map = new StringBuilder("SUNWprivate_1.1 {\n  global:\n");
        for (String name : exported) {
            map.append("    ").append(name).append(";\n");
        }
        map.append("  local: *;\n};\n");
        Path versionScript = work.resolve("libjvm.map");
        Files.writeString(versionScript, map);
        gcc(List.of("-shared", "-fPIC", "-O2", "-Wl,-soname,libjvm.so", "-Wl,--version-script=" + versionScript, "-Wl,-z,noexecstack",
                "-o", out.resolve("libjvm.so").toString(), jvmO.toString(), unsupported.toString(), "-lpthread", "-ldl"));
    }

    private static String unversioned(String symbol) {
        int at = symbol.indexOf('@');
        return at < 0 ? symbol : symbol.substring(0, at);
    }

    /** The symbol names (last column) nm prints. */
    private static TreeSet<String> symbols(List<String> nm) throws IOException, InterruptedException {
        TreeSet<String> names = new TreeSet<>();
        for (String line : run(nm).split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 2) {
                names.add(f[f.length - 1]);
            }
        }
        return names;
    }

    static void gcc(List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add("gcc");
        cmd.addAll(args);
        run(cmd);
    }

    /** Runs a tool; returns its output, or fails naming the command and showing its output. */
    static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new NativeBuild.BuildException("cannot run " + cmd.get(0) + " (is it installed? apt-get install gcc binutils): " + e.getMessage());
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new NativeBuild.BuildException(String.join(" ", cmd) + " failed:\n" + output);
        }
        return output;
    }
}
