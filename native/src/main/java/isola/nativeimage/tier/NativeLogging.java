package isola.nativeimage.tier;

/**
 * The host log in the native executable: Log4j 2's core finds its plugins and configuration
 * reflectively, which a native image does not allow without metadata this build does not have,
 * so every isolate uses the Log4j API's simple logger instead (errors to stderr). The host log
 * file (target/isola.log) is therefore written only by the JVM launcher.
 */
public final class NativeLogging {
    private NativeLogging() {}

    public static void useSimpleLogger() {
        System.setProperty("log4j2.loggerContextFactory", "org.apache.logging.log4j.simple.SimpleLoggerContextFactory");
    }
}
