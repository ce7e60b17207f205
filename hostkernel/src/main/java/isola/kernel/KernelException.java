package isola.kernel;

/** An error from a kernel operation, carrying its status code; its message names the input. */
public class KernelException extends RuntimeException {
    private final int status;

    public KernelException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
