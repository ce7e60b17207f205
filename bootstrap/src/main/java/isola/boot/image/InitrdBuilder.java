package isola.boot.image;

import isola.sdk.Server;
import isola.init.manifest.BootManifest;
import isola.init.manifest.ServerSpec;
import isola.tier.vm.ServerJars;
import isola.tier.vm.VmTier;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Builds a boot image from a manifest and the jars it names ({@code ./isola initrd}). Each jar
 * the manifest names comes from, in this order: a jar given on the command line with that file
 * name ({@code --jar}); the file at that path beside the manifest; the project's own server of
 * that name ({@link DefaultImage#servers}). Only the jars the manifest names go in.
 *
 * <p>Nothing is written unless the image would boot: the manifest is checked by the parser boot
 * uses, against the files the image will hold; every jar from outside the project is checked to
 * be a server ({@link VmTier#checkServerJar}); a jar given but not named by the manifest is an
 * error (a misspelt name in one or the other); and the finished archive is checked once more by
 * {@link BootImage#check}, as boot checks it. Every error names the input: the manifest's file
 * and line, the jar's path.
 */
public final class InitrdBuilder {
    private InitrdBuilder() {}

    /** The image's bytes, and one line per entry saying where it came from. */
    public record Result(byte[] image, List<String> contents) {}

    /** The inputs are not a bootable image; the message names the input and the problem. */
    public static final class InitrdException extends RuntimeException {
        InitrdException(String message) {
            super(message);
        }

        InitrdException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Builds the image.
     *
     * @param manifestName how errors name the manifest (its path as the user gave it)
     * @param manifest the manifest's text
     * @param beside the manifest's directory, where jars it names are looked for; null: none
     *     (the built-in manifest)
     * @param jars the jars given with {@code --jar}, each put in the image under its file name
     * @param imageName how the image is named when the finished archive is checked
     */
    public static Result build(String manifestName, String manifest, Path beside, List<Path> jars, String imageName)
            throws IOException {
        Objects.requireNonNull(manifestName, "manifestName");
        Map<String, Path> given = new LinkedHashMap<>();
        for (Path jar : jars) {
            if (!Files.isRegularFile(jar)) {
                throw new InitrdException("--jar " + jar + ": no such file");
            }
            String name = jar.getFileName().toString();
            Path other = given.putIfAbsent(name, jar);
            if (other != null) {
                throw new InitrdException("--jar " + other + " and --jar " + jar + " would both be " + name + " in the image");
            }
            check(jar, "--jar ");
        }
        Map<String, Class<? extends Server>> defaults = DefaultImage.servers();

        BootManifest parsed;
        ImageFiles files = new ImageFiles(given, beside, defaults);
        try {
            parsed = BootManifest.parse(manifestName, manifest, files, BootImage.BUILTIN_SERVICES);
        } catch (isola.init.manifest.ManifestException e) {
            // The parser stops at the first jar the image would not hold: say where jars come from.
            String hint = files.missed == null ? ""
                    : " (give it with --jar JAR, or put it beside the manifest"
                            + (beside == null ? "" : " as " + beside.resolve(files.missed))
                            + "; the project's own servers are " + String.join(", ", defaults.keySet()) + ")";
            throw new InitrdException(e.getMessage() + hint, e);
        }

        // The jars the manifest names, each once, in start order.
        Map<String, ServerSpec> named = new LinkedHashMap<>();
        for (ServerSpec s : parsed.startOrder()) {
            named.putIfAbsent(s.jar(), s);
        }
        for (var e : given.entrySet()) {
            if (!named.containsKey(e.getKey())) {
                throw new InitrdException("--jar " + e.getValue() + ": " + manifestName + " names no server with jar = "
                        + e.getKey() + " (its jars: " + String.join(", ", named.keySet()) + ")");
            }
        }

        List<ImageWriter.ImageEntry> entries = new ArrayList<>();
        List<String> contents = new ArrayList<>();
        entries.add(new ImageWriter.ImageEntry(BootImage.MANIFEST, manifest.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        contents.add(BootImage.MANIFEST + " (" + manifestName + ")");
        Path tmp = Files.createTempDirectory("isola-initrd");
        try {
            for (var e : named.entrySet()) {
                String path = e.getKey();
                ServerSpec s = e.getValue();
                String where = manifestName + ":" + s.line() + ": [server " + s.name() + "] jar = " + path + ": ";
                Path from;
                String origin;
                if (given.containsKey(path)) {
                    from = given.get(path);
                    origin = "--jar " + from;
                } else if (besideFile(beside, path) != null) {
                    from = besideFile(beside, path);
                    check(from, where);
                    origin = "beside the manifest: " + from;
                } else if (defaults.containsKey(path)) {
                    from = ServerJars.pack(defaults.get(path), tmp.resolve(path.replace('/', '_')));
                    origin = "the project's " + defaults.get(path).getSimpleName();
                } else {
                    // The parser found it a moment ago: a file beside the manifest that has gone since.
                    throw new InitrdException(where + "the jar is gone");
                }
                entries.add(new ImageWriter.ImageEntry(path, Files.readAllBytes(from)));
                contents.add(path + " (" + origin + ")");
            }
        } finally {
            try (var list = Files.list(tmp)) {
                for (Path p : list.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(tmp);
        }
        byte[] image;
        try {
            image = ImageWriter.toBytes(entries);
            BootImage.check(imageName, image); // boot's own check of the archive it will read
        } catch (RuntimeException e) {
            throw new InitrdException(e.getMessage(), e);
        }
        return new Result(image, List.copyOf(contents));
    }

    private static void check(Path jar, String context) {
        try {
            VmTier.checkServerJar(jar);
        } catch (VmTier.VmTierException e) {
            throw new InitrdException(context + e.getMessage(), e);
        }
    }

    /** The file {@code path} names beside the manifest, or null if there is none (or no such directory). */
    private static Path besideFile(Path beside, String path) {
        if (beside == null || isola.kernel.initrd.InitrdPath.problem(path) != null) {
            return null; // a path the image cannot hold ("..", absolute) is never looked up on the host
        }
        Path p = beside.resolve(path);
        return Files.isRegularFile(p) ? p : null;
    }

    /**
     * The files the image will hold, as the manifest's parser asks about them: the manifest, the
     * given jars, a file beside the manifest when the manifest names it, and the project's
     * servers. Iterating (the parser does, to list the image in an error) gives the names known
     * without looking at the host's files.
     */
    private static final class ImageFiles extends AbstractSet<String> {
        private final Map<String, Path> given;
        private final Path beside;
        private final Map<String, Class<? extends Server>> defaults;
        private final TreeSet<String> known = new TreeSet<>();
        /** The last path asked about that the image would not hold, or null. */
        String missed;

        ImageFiles(Map<String, Path> given, Path beside, Map<String, Class<? extends Server>> defaults) {
            this.given = given;
            this.beside = beside;
            this.defaults = defaults;
            known.add(BootImage.MANIFEST);
            known.addAll(given.keySet());
            known.addAll(defaults.keySet());
        }

        @Override
        public boolean contains(Object o) {
            if (!(o instanceof String path)) {
                return false;
            }
            if (known.contains(path)) {
                return true;
            }
            if (besideFile(beside, path) != null) {
                known.add(path);
                return true;
            }
            missed = path;
            return false;
        }

        @Override
        public Iterator<String> iterator() {
            return known.iterator();
        }

        @Override
        public int size() {
            return known.size();
        }
    }
}
