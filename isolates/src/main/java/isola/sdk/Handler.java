package isola.sdk;

/**
 * A server's request handler. The request is in {@code sys}'s message registers (label,
 * length, badge, MR0..); the handler writes the reply into the same registers in place and
 * returns the reply tag ({@link Sys#tag}). The same handler serves passively (on the caller's
 * thread) or actively (on the server's own threads), unchanged.
 */
@FunctionalInterface
public interface Handler {
    long handle(Sys sys);
}
