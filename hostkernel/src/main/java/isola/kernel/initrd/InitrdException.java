package isola.kernel.initrd;

/**
 * A RAM disk image that is malformed, or a request for a file it does not hold. The message
 * names the image and, where known, the entry (index and name), its byte offset and the problem.
 */
public final class InitrdException extends RuntimeException {
    public InitrdException(String message) {
        super(message);
    }
}
