package isola.boot.image;

import isola.drivers.console.ConsoleServer;
import isola.sdk.Server;
import isola.system.log.LogServer;
import isola.system.names.NamesServer;
import isola.system.shell.ShellServer;
import isola.tier.vm.ServerJars;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds the default boot image from the project's own servers: the boot manifest first, then
 * one jar per server. Run by the build ({@code bootstrap/target/isola.img}); {@code main}
 * takes the output path.
 */
public final class DefaultImage {
    private DefaultImage() {}

    public static final String MANIFEST = BootImage.MANIFEST;

    /** The jars of the default image, by file name. */
    public static Map<String, Class<? extends Server>> servers() {
        Map<String, Class<? extends Server>> m = new LinkedHashMap<>();
        m.put("log.jar", LogServer.class);
        m.put("names.jar", NamesServer.class);
        m.put("console.jar", ConsoleServer.class);
        m.put("blk.jar", isola.drivers.blk.BlkServer.class);
        m.put("fs.jar", isola.system.fs.FsServer.class);
        m.put("shell.jar", ShellServer.class);
        m.put("pager.jar", isola.system.pager.PagerServer.class); // started by manifests that name it
        return m;
    }

    public static String defaultManifest() throws IOException {
        try (InputStream in = DefaultImage.class.getResourceAsStream("/default.manifest")) {
            if (in == null) {
                throw new IOException("default.manifest is missing from the bootstrap jar");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Writes an image with {@code manifest} and the default servers' jars to {@code out}. */
    public static Path build(Path out, String manifest) throws IOException {
        return build(out, manifest, Map.of());
    }

    /**
     * Writes an image with {@code manifest}, the default servers' jars and {@code extraServers}
     * (jar file name to server class, packed with {@link ServerJars#pack}) to {@code out}: an
     * image with servers of a test or an example. An extra jar may not reuse a default jar's name.
     */
    public static Path build(Path out, String manifest, Map<String, Class<? extends Server>> extraServers)
            throws IOException {
        Map<String, Class<? extends Server>> all = servers();
        for (var e : extraServers.entrySet()) {
            if (all.putIfAbsent(e.getKey(), e.getValue()) != null) {
                throw new IllegalArgumentException("extra server jar " + e.getKey()
                        + " has the name of a default server's jar (default jars: " + servers().keySet() + ")");
            }
        }
        Path tmp = Files.createTempDirectory("isola-image");
        try {
            List<ImageWriter.ImageEntry> entries = new ArrayList<>();
            entries.add(new ImageWriter.ImageEntry(MANIFEST, manifest.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            for (var e : all.entrySet()) {
                Path jar = ServerJars.pack(e.getValue(), tmp.resolve(e.getKey()));
                entries.add(new ImageWriter.ImageEntry(e.getKey(), Files.readAllBytes(jar)));
            }
            Files.createDirectories(out.toAbsolutePath().getParent());
            ImageWriter.write(out, entries);
            return out;
        } finally {
            try (var s = Files.list(tmp)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Writes to {@code out} the image {@code from} with its manifest replaced by what
     * {@code change} makes of it; every other entry is copied as it is.
     */
    public static Path rewriteManifest(Path from, Path out, java.util.function.UnaryOperator<String> change) throws IOException {
        isola.kernel.initrd.Initrd image;
        try {
            image = isola.kernel.initrd.Initrd.parse(from.toString(), Files.readAllBytes(from));
        } catch (isola.kernel.initrd.InitrdException e) {
            throw new IOException(from + ": not a boot image: " + e.getMessage(), e);
        }
        if (image.find(MANIFEST) == null) {
            throw new IOException(from + ": the image has no " + MANIFEST);
        }
        List<ImageWriter.ImageEntry> entries = new ArrayList<>();
        for (isola.kernel.initrd.Initrd.Entry e : image.entries()) {
            if (!e.isFile()) {
                continue;
            }
            byte[] data = e.path().equals(MANIFEST)
                    ? change.apply(new String(e.data(), java.nio.charset.StandardCharsets.UTF_8)).getBytes(java.nio.charset.StandardCharsets.UTF_8)
                    : e.data();
            entries.add(new ImageWriter.ImageEntry(e.path(), data));
        }
        ImageWriter.write(out, entries);
        return out;
    }

    /**
     * {@code manifest} with {@code restart = on-crash}, {@code max-restarts = 1000} (the most a
     * manifest may ask) and {@code backoff = 0ms} for every server in {@code servers}, replacing
     * the restart keys their sections had: for systems whose servers are crashed on purpose, over
     * and over (the crash benchmarks, the fault storm), where giving up would end the run.
     */
    public static String restartAlways(String manifest, java.util.Collection<String> servers) {
        StringBuilder b = new StringBuilder();
        String section = null;
        for (String line : (Iterable<String>) manifest.lines()::iterator) {
            String s = line.strip();
            int hash = s.indexOf('#');
            String code = (hash >= 0 ? s.substring(0, hash) : s).strip();
            if (code.startsWith("[") && code.endsWith("]")) {
                String[] w = code.substring(1, code.length() - 1).strip().split("\\s+");
                section = w.length == 2 && w[0].equals("server") ? w[1] : null;
                b.append(line).append('\n');
                if (section != null && servers.contains(section)) {
                    b.append("restart = on-crash\nmax-restarts = 1000\nbackoff = 0ms\n");
                }
                continue;
            }
            int eq = code.indexOf('=');
            String key = eq > 0 ? code.substring(0, eq).strip() : "";
            if (section != null && servers.contains(section) && List.of("restart", "max-restarts", "backoff").contains(key)) {
                continue;
            }
            b.append(line).append('\n');
        }
        return b.toString();
    }

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "bootstrap/target/isola.img");
        build(out, defaultManifest());
        System.out.println("boot image: " + out + " (" + Files.size(out) + " bytes)");
    }
}
