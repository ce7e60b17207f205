package isola.kernel;

/**
 * How a passive server is entered: the isolation backend's way of running the server's handler
 * on the calling thread inside the server's domain (a direct call in the vm tier, an isolate
 * call in the native tier). The request is in the caller's message registers; the handler
 * writes its reply there in place and returns the reply tag.
 */
@FunctionalInterface
public interface PassiveEntry {
    long enter(Tcb caller) throws Throwable;
}
