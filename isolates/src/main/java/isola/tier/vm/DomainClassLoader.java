package isola.tier.vm;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.Set;

/**
 * The class loader of one `vm`-tier domain. It loads the server jar's classes itself (child
 * first), so every domain has its own copy of every class and its own static state. Only the
 * JDK, the server SDK ({@code isola.sdk}), the kernel's ABI constants and a few platform libraries
 * ({@link #PLATFORM_LIBRARIES}) come from outside; the
 * kernel, the other tiers and the host's devices ({@code isola.device}) are not visible, so a
 * server reaches the kernel only through the SDK, that is, through its capabilities, and a
 * device only as its manifest grants it ({@link isola.sdk.ServerContext#device}).
 */
final class DomainClassLoader extends URLClassLoader {
    /**
     * Kernel classes servers may use: constants, the unwind signal, and word access to memory
     * segments the server already holds (shared rings); no kernel state.
     */
    static final Set<String> KERNEL_ABI = Set.of("isola.kernel.Status", "isola.kernel.Rights",
            "isola.kernel.Tag", "isola.kernel.KilledError", "isola.kernel.mem.Words");

    static {
        registerAsParallelCapable();
    }

    private final ClassLoader sdk;
    private final String domainName;
    private final Path jar;

    DomainClassLoader(String domainName, Path jar, ClassLoader sdk) throws IOException {
        super("domain-" + domainName, new URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
        this.sdk = sdk;
        this.domainName = domainName;
        this.jar = jar;
    }

    /**
     * Libraries of the platform, shared like the JDK: the Log4j 2 API (servers log through the
     * host's configuration). It holds no kernel state.
     */
    static final java.util.List<String> PLATFORM_LIBRARIES = java.util.List.of("org.apache.logging.log4j.");

    static boolean isShared(String name) {
        if (name.startsWith("isola.sdk.") || KERNEL_ABI.contains(name)) {
            return true;
        }
        for (String p : PLATFORM_LIBRARIES) {
            if (name.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    private static boolean isHidden(String name) {
        return name.startsWith("isola.kernel.") || name.startsWith("isola.tier.vm.")
                || name.startsWith("isola.sdk.") || name.startsWith("isola.device.");
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        synchronized (getClassLoadingLock(name)) {
            Class<?> c = findLoadedClass(name);
            if (c == null) {
                if (isShared(name)) {
                    c = sdk.loadClass(name);
                } else if (isHidden(name)) {
                    throw new ClassNotFoundException(name + " is not visible in server domain "
                            + domainName + " (only isola.sdk and the kernel ABI are)");
                } else {
                    try {
                        // JDK classes from the platform loader; everything else from the jar.
                        c = getParent().loadClass(name);
                    } catch (ClassNotFoundException notJdk) {
                        try {
                            c = findClass(name);
                        } catch (ClassNotFoundException e) {
                            throw new ClassNotFoundException(name + " is neither in the JDK nor in "
                                    + jar + " (server domain " + domainName + ")", e);
                        }
                    }
                }
            }
            if (resolve) {
                resolveClass(c);
            }
            return c;
        }
    }

    /**
     * Defines and links (verifies) every class of the jar now, without initializing any, so that
     * starting the server does not wait for reading, defining and verifying them. A class that
     * cannot be defined or linked is left for its first use to report.
     */
    void defineAll() {
        try (java.util.jar.JarFile jf = new java.util.jar.JarFile(jar.toFile())) {
            for (var e = jf.entries(); e.hasMoreElements(); ) {
                String n = e.nextElement().getName();
                if (n.endsWith(".class") && !n.startsWith("META-INF/") && !n.equals("module-info.class")) {
                    try {
                        Class<?> c = loadClass(n.substring(0, n.length() - 6).replace('/', '.'), false);
                        c.getDeclaredConstructors(); // links (verifies) it, without initializing it
                    } catch (ClassNotFoundException | LinkageError notNow) {
                        // reported where the server uses it
                    }
                }
            }
        } catch (IOException e) {
            // the jar was readable a moment ago (serverClassOf); its first use reports the problem
        }
    }

    @Override
    public URL getResource(String name) {
        URL u = findResource(name);
        return u != null ? u : getParent().getResource(name);
    }

    @Override
    public Enumeration<URL> getResources(String name) throws IOException {
        return findResources(name);
    }
}
