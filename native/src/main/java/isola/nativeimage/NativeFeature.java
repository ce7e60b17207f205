package isola.nativeimage;

import isola.testservers.selftest.EchoServer;
import org.graalvm.nativeimage.hosted.Feature;
import org.graalvm.nativeimage.hosted.RuntimeClassInitialization;
import org.graalvm.nativeimage.hosted.RuntimeReflection;

/**
 * What the image needs beyond what analysis finds: the classes holding isolate entry-point
 * literals are initialized at build time (a literal can only be made there), as is the table of
 * an isolate's host files (HostFiles); the server classes the native tier instantiates by name,
 * and the shutdown callback registry Log4j does, are registered for reflection.
 */
public final class NativeFeature implements Feature {
    /** Server classes compiled into the executable: the only ones the native tier can start. */
    static final Class<?>[] SERVERS = {EchoServer.class, isola.testservers.selftest.CrashServer.class,
            isola.testservers.selftest.ActiveEchoServer.class, isola.testservers.selftest.MemoryServer.class,
            isola.testservers.selftest.HeapHogServer.class, isola.testservers.selftest.LoopServer.class};

    @Override
    public void afterRegistration(AfterRegistrationAccess access) {
        RuntimeClassInitialization.initializeAtBuildTime("isola.tier.nativeimage.KernelEntry", "isola.tier.nativeimage.ServerEntry",
                // closed in an isolate's teardown without class initialization (see the class)
                "isola.nativeimage.disk.HostFiles");
    }

    @Override
    public void beforeAnalysis(BeforeAnalysisAccess access) {
        java.util.List<Class<?>> servers = new java.util.ArrayList<>(java.util.List.of(SERVERS));
        servers.addAll(isola.boot.image.DefaultImage.servers().values()); // the default image's
        for (Class<?> c : servers) {
            RuntimeReflection.register(c);
            try {
                RuntimeReflection.register(c.getConstructor());
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException("server class " + c.getName() + " has no public no-argument constructor", e);
            }
        }
        // Log4j makes a server isolate's shutdown callback registry by name (NativeLogging).
        RuntimeReflection.register(isola.tier.nativeimage.IsolateShutdown.class);
        try {
            RuntimeReflection.register(isola.tier.nativeimage.IsolateShutdown.class.getConstructor());
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
    }
}
