package isola.sdk;

/**
 * A server program. Its jar names the implementing class in the manifest attribute
 * {@code Isola-Server}; the isolation tier instantiates it in the server's own domain (public
 * no-argument constructor) and calls {@link #start} on the domain's first thread. A passive
 * server binds its handler and returns; an active server starts its threads (or runs its loop
 * on this one).
 *
 * <p>A restart runs a new incarnation in a fresh class loader, so all of its own code is cold:
 * interpreted, and each call site linked on first use. The supervisor prepares the incarnation
 * ahead (classes defined and verified, this class initialized and constructed on the domain's
 * main thread before the crash), but what runs from {@link #start} to the first reply is on the
 * restart's clock. There, each lambda, method reference and string concatenation costs a
 * bootstrap that spins a class (about 0.1 to 0.5 ms on first use); loops, named classes and the
 * server implementing {@link Handler} itself cost nothing extra. The constructor runs before the
 * server has any capability: it must not need one.
 */
public interface Server {
    void start(ServerContext context) throws Exception;
}
