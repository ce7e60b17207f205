package isola.nativeimage.disk;

import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;
import isola.device.HostDisk;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The host disk in the native executable: the builder on Maven Central has no Panama support
 * (svm-foreign is not published), so the disk's file is a descriptor reached through Native
 * Image's own C calls ({@link FdFile}): the same open, pread, pwrite and fdatasync the JVM's
 * HostDisk makes through Panama. A descriptor a server's isolate opens is closed when the
 * isolate is torn down, if the server did not close it ({@link HostFiles}).
 */
@TargetClass(HostDisk.class)
final class Target_isola_device_HostDisk {
    @Substitute
    static HostDisk.HostFile openFile(Path path, boolean readOnly) throws IOException {
        return FdFile.open(path, readOnly);
    }
}
