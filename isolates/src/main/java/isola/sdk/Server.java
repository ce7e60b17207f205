package isola.sdk;

/**
 * A server program. Its jar names the implementing class in the manifest attribute
 * {@code Isola-Server}; the isolation tier instantiates it in the server's own domain (public
 * no-argument constructor) and calls {@link #start} on the domain's first thread. A passive
 * server binds its handler and returns; an active server starts its threads (or runs its loop
 * on this one).
 */
public interface Server {
    void start(ServerContext context) throws Exception;
}
