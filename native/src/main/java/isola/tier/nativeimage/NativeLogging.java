package isola.tier.nativeimage;

/**
 * The host log in the native executable: Log4j 2's core, as on the JVM (log4j-core ships the
 * reachability metadata for its plugins, and {@code log4j2.xml} is a resource of the image), so
 * the log server writes {@code target/isola.log} here too. Each isolate has its own system
 * properties, so each sets them before Log4j's first use: JMX is off, since a native isolate has
 * no platform MBean server to register Log4j's beans with.
 */
public final class NativeLogging {
    private NativeLogging() {}

    public static void configure() {
        System.setProperty("log4j2.disableJmx", "true");
    }

    /**
     * As {@link #configure}, for a server's isolate: Log4j also registers the stop of its
     * context with {@link IsolateShutdown}, which the isolate's teardown runs, so that its files
     * are closed when the server's incarnation ends (the process's exit would be too late).
     */
    static void configureServerIsolate() {
        configure();
        System.setProperty("log4j.shutdownCallbackRegistry", IsolateShutdown.class.getName());
    }
}
