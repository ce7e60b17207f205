package isola.nativeimage.disk;

import com.oracle.svm.core.annotate.Substitute;
import com.oracle.svm.core.annotate.TargetClass;
import isola.sdk.HostDisk;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The host disk in the native executable: the builder on Maven Central has no Panama support
 * (svm-foreign is not published), so the disk's file is a FileChannel, whose positioned reads
 * and writes and {@code force(false)} are the same pread, pwrite and fdatasync, through the
 * JDK's libnio that ships with the executable.
 */
@TargetClass(HostDisk.class)
final class Target_isola_sdk_HostDisk {
    @Substitute
    static HostDisk.HostFile openFile(Path path, boolean readOnly) throws IOException {
        FileChannel c = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        return new ChannelFile(c);
    }

    /** A HostFile over a channel. */
    static final class ChannelFile implements HostDisk.HostFile {
        private final FileChannel channel;

        ChannelFile(FileChannel channel) {
            this.channel = channel;
        }

        @Override
        public long read(MemorySegment buf, long position) {
            try {
                return Math.max(0, channel.read(buf.asByteBuffer(), position));
            } catch (IOException e) {
                return -1;
            }
        }

        @Override
        public long write(MemorySegment buf, long position) {
            try {
                return channel.write(buf.asByteBuffer(), position);
            } catch (IOException e) {
                return -1;
            }
        }

        @Override
        public void sync() throws IOException {
            channel.force(false);
        }

        @Override
        public void close() {
            try {
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
