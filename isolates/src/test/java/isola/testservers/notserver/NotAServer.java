package isola.testservers.notserver;

/** Named as a server in a test jar's manifest, but it does not implement isola.sdk.Server. */
public final class NotAServer {
}
