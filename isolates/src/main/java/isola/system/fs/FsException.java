package isola.system.fs;

import isola.sdk.Errno;

/** A failed file system operation: a POSIX errno and a message naming the path or block at fault. */
public final class FsException extends RuntimeException {
    private final int errno;

    public FsException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public FsException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /** The metadata is damaged: the file system must not be trusted until fsck says otherwise. */
    static FsException corrupt(String message) {
        return new FsException(Errno.EUCLEAN, message);
    }

    @Override
    public String toString() {
        return Errno.name(errno) + ": " + getMessage();
    }
}
