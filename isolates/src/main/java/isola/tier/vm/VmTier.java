package isola.tier.vm;

import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.kernel.machine.HostedMachine;
import isola.sdk.Kept;
import isola.tier.IsolationTier;
import isola.sdk.Server;
import isola.sdk.Sys;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The `vm` isolation tier: a server is a jar, and each domain loads it with a class loader of
 * its own ({@link DomainClassLoader}) in the kernel's JVM. Co-located for speed: a passive call
 * is a direct method call, an active hand-off a cache-line exchange between two JVM threads.
 *
 * <p>Loading is two steps so the launcher can grant capabilities in between: {@link #load}
 * checks the jar and creates the domain; {@link #start} runs the server's
 * {@link Server#start} on the domain's first thread.
 */
public final class VmTier implements IsolationTier {
    public static final String MANIFEST_ATTRIBUTE = "Isola-Server";

    private final HostedMachine machine;
    private final Kernel kernel;

    public VmTier(HostedMachine machine) {
        this.machine = machine;
        this.kernel = machine.kernel();
    }

    /** A server loaded into its domain, not started yet. */
    public record VmDomain(Domain domain, Path jar, String serverClass, DomainClassLoader loader,
            HostedMachine.Spare mainThread, Instance instance) implements Loaded {
        public ClassLoader classLoader() {
            return loader;
        }

        @Override
        public String isolation() {
            return "vm";
        }
    }

    /**
     * A server jar made ready to run: checked, its class loader created and its classes
     * defined, but no domain yet. Preparing is the slow part of a start (reading the jar,
     * defining classes); a supervisor prepares a server's next incarnation ahead of a crash.
     */
    public record Prepared(String name, Path jar, String serverClass, DomainClassLoader loader,
            HostedMachine.Spare mainThread, Instance instance) implements IsolationTier.Prepared {
        @Override
        public void discard() {
            if (mainThread != null) {
                mainThread.discard();
            }
        }
    }

    /**
     * Checks the jar (readable, a manifest naming an {@code Isola-Server} class), creates its
     * class loader and defines the jar's classes. Errors name the jar and say what is wrong.
     */
    @Override
    public Prepared prepare(String name, Path jar) {
        String serverClass = serverClassOf(jar);
        DomainClassLoader loader;
        try {
            loader = new DomainClassLoader(name, jar, Sys.class.getClassLoader());
        } catch (IOException e) {
            throw new VmTierException(jar + ": cannot open: " + e.getMessage(), e);
        }
        loader.defineAll();
        return new Prepared(name, jar, serverClass, loader, null, null);
    }

    /**
     * {@link #prepare}, and the JVM thread of the server's first thread started ahead too. That
     * thread also initializes the server class and constructs the server object (no kernel
     * thread yet: a constructor has no capabilities to use), then parks until the start.
     */
    @Override
    public Prepared prepareAhead(String name, Path jar) {
        Prepared p = prepare(name, jar);
        Instance instance = new Instance();
        HostedMachine.Spare main = machine.prestart("isola-" + name + "-main", () -> {
            Thread.currentThread().setContextClassLoader(p.loader());
            instance.create(jar, p.serverClass(), p.loader());
        });
        return new Prepared(name, jar, p.serverClass(), p.loader(), main, instance);
    }

    /**
     * A server object constructed ahead on its incarnation's main JVM thread, or why it could not
     * be. Written and read on that one thread only (the warm-up, then the start).
     */
    public static final class Instance {
        private Server server;
        /** A RuntimeException or an Error (a static initializer's), rethrown at the start. */
        private Throwable error;

        void create(Path jar, String serverClass, ClassLoader loader) {
            try {
                server = instantiate(jar, serverClass, loader);
            } catch (RuntimeException | Error e) {
                error = e;
            }
        }

        /** The object, once; null after that (a resumed main thread starts a fresh one). */
        Server take() {
            Throwable e = error;
            Server s = server;
            error = null;
            server = null;
            if (e instanceof RuntimeException re) {
                throw re;
            }
            if (e instanceof Error er) {
                throw er;
            }
            return s;
        }
    }

    @Override
    public VmDomain load(IsolationTier.Prepared prepared, int slots, int quota) {
        if (!(prepared instanceof Prepared p)) {
            throw new IllegalArgumentException(prepared.name() + " was prepared by another tier, not the vm tier");
        }
        Domain d = kernel.createDomain(p.name(), slots, quota);
        VmDomain vd = new VmDomain(d, p.jar(), p.serverClass(), p.loader(), p.mainThread(), p.instance());
        d.backend = vd;
        return vd;
    }

    /**
     * Checks the jar and creates the domain and its class loader ({@link #prepare}, then
     * {@link #load(Prepared, int, int)}). Nothing is created when the jar is bad.
     */
    public VmDomain load(String name, Path jar, int slots, int quota) {
        return load(prepare(name, jar), slots, quota);
    }

    /** Starts the server on the domain's first thread, "main", at {@code priority}. */
    public Tcb start(VmDomain vd, int priority) {
        return start(vd, priority, Map.of(), Map.of());
    }

    /**
     * Starts the server; {@code endpoints} and {@code services} tell it, by service name, the
     * slots of the endpoints it provides and of the services it was granted.
     */
    public Tcb start(VmDomain vd, int priority, Map<String, Integer> endpoints, Map<String, Integer> services) {
        return start(vd, priority, new StartInfo(endpoints, services, java.util.Map.of(), Kept.NONE, -1));
    }

    @Override
    public Tcb start(Loaded loaded, int priority, StartInfo info) {
        if (!(loaded instanceof VmDomain vd)) {
            throw new IllegalArgumentException(loaded.domain().name() + " was loaded by another tier, not the vm tier");
        }
        Domain d = vd.domain();
        Tcb main = kernel.createThread(d, "main", priority);
        VmServerContext ctx = new VmServerContext(machine, d, vd.loader(), main, info);
        machine.spawn(main, () -> {
            Thread.currentThread().setContextClassLoader(vd.loader());
            Server server = vd.instance() != null ? vd.instance().take() : null;
            if (server == null) {
                server = instantiate(vd.jar(), vd.serverClass(), vd.loader());
            }
            try {
                server.start(ctx);
            } catch (Exception e) {
                throw new ServerStartException(vd.domain().name() + ": " + vd.serverClass()
                        + ".start failed: " + e, e);
            }
        }, vd.mainThread());
        return main;
    }

    private static Server instantiate(Path jar, String serverClass, ClassLoader loader) {
        Constructor<?> ctor = serverConstructor(jar, serverClass, loader, true);
        try {
            return (Server) ctor.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new VmTierException(jar + ": cannot instantiate " + serverClass
                    + ": " + e.getCause(), e);
        }
    }

    /**
     * The public no-argument constructor of {@code serverClass}, loaded by {@code loader} (and
     * initialized if {@code initialize}), which must implement {@link Server}.
     */
    private static Constructor<?> serverConstructor(Path jar, String serverClass, ClassLoader loader, boolean initialize) {
        Class<?> c;
        try {
            c = Class.forName(serverClass, initialize, loader);
        } catch (ClassNotFoundException e) {
            throw new VmTierException(jar + ": " + MANIFEST_ATTRIBUTE + " class "
                    + serverClass + " not found: " + e.getMessage(), e);
        } catch (LinkageError e) {
            if (initialize) {
                throw e; // a static initializer's failure: the server's own fault, reported as one
            }
            throw new VmTierException(jar + ": " + MANIFEST_ATTRIBUTE + " class " + serverClass
                    + " cannot be loaded: " + e, e);
        }
        if (!Server.class.isAssignableFrom(c)) {
            throw new VmTierException(jar + ": " + serverClass + " does not implement "
                    + Server.class.getName());
        }
        try {
            return c.getConstructor();
        } catch (NoSuchMethodException e) {
            throw new VmTierException(jar + ": " + serverClass
                    + " has no public no-argument constructor", e);
        }
    }

    /**
     * Checks that {@code jar} is a server the vm tier can start, without starting it or running
     * any of its code: its manifest names an {@code Isola-Server} class, which the jar holds (loaded
     * as a server domain loads it, seeing only the JDK and the SDK), which implements
     * {@link Server} and has a public no-argument constructor. For tools that build boot images.
     *
     * @return the server class's name
     * @throws VmTierException naming the jar and what is wrong, as {@link #prepare}'s errors do
     */
    public static String checkServerJar(Path jar) {
        String serverClass = serverClassOf(jar);
        try (DomainClassLoader loader = new DomainClassLoader("check", jar, Sys.class.getClassLoader())) {
            serverConstructor(jar, serverClass, loader, false);
        } catch (IOException e) {
            throw new VmTierException(jar + ": cannot open: " + e.getMessage(), e);
        }
        return serverClass;
    }

    /** The {@code Isola-Server} class named by the jar's manifest. */
    public static String serverClassOf(Path jar) {
        if (!Files.isRegularFile(jar)) {
            throw new VmTierException(jar + ": no such server jar");
        }
        try (JarFile jf = new JarFile(jar.toFile())) {
            Manifest m = jf.getManifest();
            String cls = m == null ? null : m.getMainAttributes().getValue(new Attributes.Name(MANIFEST_ATTRIBUTE));
            if (cls == null || cls.isBlank()) {
                throw new VmTierException(jar + ": manifest has no " + MANIFEST_ATTRIBUTE
                        + " attribute naming the server class");
            }
            return cls.trim();
        } catch (IOException e) {
            throw new VmTierException(jar + ": not a readable jar: " + e.getMessage(), e);
        }
    }

    /** The jar is missing, malformed or names no usable server class. */
    public static final class VmTierException extends RuntimeException {
        VmTierException(String message) {
            super(message);
        }

        VmTierException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The server's start method threw: a fault of the domain's first thread. */
    public static final class ServerStartException extends RuntimeException {
        ServerStartException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
