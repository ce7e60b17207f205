package isola.nativeimage.build;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * The reachability metadata libraries ship under {@code META-INF/native-image/} (picocli's
 * generated reflection configuration, JLine's), turned into builder options as the
 * {@code native-image} launcher would: a directory with a {@code native-image.properties}
 * contributes its {@code Args} ({@code ${.}} being the directory), any other directory holding
 * configuration files becomes a configuration resource root.
 */
final class LibraryMetadata {
    private LibraryMetadata() {}

    static final String ROOT = "META-INF/native-image/";

    static List<String> options(List<Path> classPath) throws IOException {
        TreeMap<String, String> dirs = new TreeMap<>(); // directory -> its native-image.properties text, or ""
        for (Path entry : classPath) {
            if (Files.isDirectory(entry)) {
                Path root = entry.resolve(ROOT);
                if (Files.isDirectory(root)) {
                    try (Stream<Path> s = Files.walk(root)) {
                        for (Path f : s.filter(Files::isRegularFile).toList()) {
                            String name = entry.relativize(f).toString().replace('\\', '/');
                            add(dirs, name, () -> Files.readString(f));
                        }
                    }
                }
            } else if (Files.isRegularFile(entry)) {
                try (ZipFile zip = new ZipFile(entry.toFile())) {
                    for (ZipEntry e : zip.stream().filter(e -> !e.isDirectory() && e.getName().startsWith(ROOT)).toList()) {
                        add(dirs, e.getName(), () -> new String(zip.getInputStream(e).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8));
                    }
                }
            }
        }
        List<String> options = new ArrayList<>();
        for (var d : dirs.entrySet()) {
            if (d.getValue().isEmpty()) {
                options.add("-H:ConfigurationResourceRoots=" + d.getKey());
                continue;
            }
            Properties p = new Properties();
            p.load(new StringReader(d.getValue()));
            String args = p.getProperty("Args", "").strip();
            for (String a : args.isEmpty() ? new String[0] : args.split("\\s+")) {
                options.add(a.replace("${.}", d.getKey()));
            }
        }
        return options;
    }

    private interface Text {
        String read() throws IOException;
    }

    private static void add(TreeMap<String, String> dirs, String file, Text text) throws IOException {
        int slash = file.lastIndexOf('/');
        String dir = file.substring(0, slash);
        String name = file.substring(slash + 1);
        if (name.equals("native-image.properties")) {
            dirs.put(dir, text.read());
        } else if (name.endsWith(".json")) {
            dirs.putIfAbsent(dir, "");
        }
    }
}
