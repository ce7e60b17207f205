package isola.tier.vm;

import isola.sdk.Server;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

/**
 * Packs a server's classes into a server jar: every class of the server class's package (not
 * subpackages), taken from wherever the class was loaded from (a classes directory or a jar),
 * with the {@code Isola-Server} manifest attribute. For tests, benchmarks and examples built in
 * the same Maven module as their host code.
 */
public final class ServerJars {
    private ServerJars() {}

    public static Path pack(Class<? extends Server> server, Path out) throws IOException {
        String pkgPath = server.getPackageName().replace('.', '/') + "/";
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().put(new Attributes.Name(VmTier.MANIFEST_ATTRIBUTE), server.getName());
        Files.createDirectories(out.toAbsolutePath().getParent());
        try (OutputStream fo = Files.newOutputStream(out); JarOutputStream jo = new JarOutputStream(fo, mf)) {
            for (Entry e : classesOf(server, pkgPath)) {
                jo.putNextEntry(new JarEntry(e.name));
                jo.write(e.bytes);
                jo.closeEntry();
            }
        }
        return out;
    }

    private record Entry(String name, byte[] bytes) {}

    private static List<Entry> classesOf(Class<?> c, String pkgPath) throws IOException {
        CodeSource cs = c.getProtectionDomain().getCodeSource();
        if (cs == null) {
            throw new IOException("cannot locate the classes of " + c.getName());
        }
        Path where;
        try {
            where = Path.of(cs.getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IOException(e);
        }
        List<Entry> out = new ArrayList<>();
        if (Files.isDirectory(where)) {
            Path dir = where.resolve(pkgPath);
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : files.filter(f -> f.toString().endsWith(".class")).sorted().toList()) {
                    out.add(new Entry(pkgPath + p.getFileName(), Files.readAllBytes(p)));
                }
            }
        } else {
            try (JarFile jf = new JarFile(where.toFile())) {
                Enumeration<JarEntry> en = jf.entries();
                while (en.hasMoreElements()) {
                    JarEntry je = en.nextElement();
                    String n = je.getName();
                    if (n.startsWith(pkgPath) && n.endsWith(".class") && n.indexOf('/', pkgPath.length()) < 0) {
                        try (InputStream in = jf.getInputStream(je)) {
                            out.add(new Entry(n, in.readAllBytes()));
                        }
                    }
                }
            }
        }
        if (out.isEmpty()) {
            throw new IOException("no classes of package " + c.getPackageName() + " under " + where);
        }
        return out;
    }
}
