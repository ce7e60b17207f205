package isola.sdk;

import isola.kernel.Status;

/** A failed system call: its status code and a message that names the offending input. */
public class IsolaException extends RuntimeException {
    private final int status;

    public IsolaException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    public String statusName() {
        return Status.name(status);
    }
}
