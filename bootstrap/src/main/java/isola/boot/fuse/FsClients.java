package isola.boot.fuse;

import isola.boot.Boot;
import isola.kernel.Domain;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.sdk.Errno;
import isola.sdk.Fs;
import isola.sdk.Sys;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The file system as FUSE sees it, served by the fs server of a booted Isola system: each
 * FUSE worker thread becomes a kernel thread of one client domain, with its own fs client
 * (its own capability, badge and 2 MiB buffer), so libfuse's threads call the server
 * concurrently and each through its own shared frame. Errors come back as negative errnos.
 */
public final class FsClients implements MountedFs {
    /** Slots a client uses: its two fs capabilities, its buffer frame, three page tables. */
    private static final int SLOTS_PER_CLIENT = 8;
    private static final int MAX_CLIENTS = 32;
    /** Each client's buffer in a 512 GiB region of its own, so that each links its own page tables. */
    private static final long BASE_VA = 0x0000_0100_0000_0000L;
    private static final long REGION = 1L << 39;

    private final Boot boot;
    private final Kernel kernel;
    private final Domain domain;
    private final ThreadLocal<Fs.Client> client = new ThreadLocal<>();
    private int clients;

    public FsClients(Boot boot) {
        this.boot = boot;
        this.kernel = boot.machine().kernel();
        this.domain = kernel.createDomain("fuse", SLOTS_PER_CLIENT * MAX_CLIENTS, 16);
        kernel.setFrameQuota(domain, MAX_CLIENTS * (Fs.BUFFER_SIZE / 4096 + 8));
    }

    /** The calling thread's client, made on its first call. */
    private Fs.Client fs() {
        Fs.Client c = client.get();
        if (c == null) {
            int i;
            synchronized (this) {
                if (clients == MAX_CLIENTS) {
                    throw new Fs.Error(Errno.EMFILE, "more than " + MAX_CLIENTS + " FUSE threads");
                }
                i = clients++;
            }
            c = newClient(boot, domain, i, "fuse-" + i);
            client.set(c);
        }
        return c;
    }

    /**
     * Client {@code i} of {@code domain}, a host-side domain of a booted system: a kernel thread
     * for the calling JVM thread, its own fs capability (badge {@code 0xF000 + i}) and buffer,
     * in slots from {@code i * 8} and a 512 GiB region of its own. For embedders, tests and
     * benchmarks; the domain needs 8 slots and 520 frames of quota per client.
     */
    public static Fs.Client newClient(Boot boot, Domain domain, int i, String threadName) {
        Kernel kernel = boot.machine().kernel();
        int first = i * SLOTS_PER_CLIENT;
        boot.init().grantService("fs", domain, first, 0xF000 + i);
        boot.init().grantService(Fs.ATTACH_SERVICE, domain, first + 1, 0xF000 + i);
        Tcb t = kernel.createThread(domain, threadName, 120);
        boot.machine().attach(t);
        Sys sys = Sys.of(kernel, t);
        return Fs.Client.create(sys, first, first + 1, first + 2, first + 3, BASE_VA + i * REGION);
    }

    private interface Call {
        long run(Fs.Client fs);
    }

    private long call(Call body) {
        try {
            return body.run(fs());
        } catch (Fs.Error e) {
            return e.negativeErrno();
        }
    }

    @Override
    public int stat(String path, Stat out) {
        return (int) call(fs -> {
            Fs.Stat s = fs.stat(path);
            out.inode = s.inode();
            out.mode = s.mode();
            out.nlink = s.nlink();
            out.size = s.size();
            out.blocks512 = s.blocks512();
            out.atimeNs = s.atimeNs();
            out.mtimeNs = s.mtimeNs();
            out.ctimeNs = s.ctimeNs();
            return 0;
        });
    }

    @Override
    public int list(String dir, List<String> names) {
        return (int) call(fs -> {
            for (Fs.Entry e : fs.list(dir)) {
                names.add(e.name());
            }
            return 0;
        });
    }

    @Override
    public int mkdir(String path, int mode) {
        return (int) call(fs -> {
            fs.mkdir(path, mode);
            return 0;
        });
    }

    @Override
    public int rmdir(String path) {
        return (int) call(fs -> {
            fs.rmdir(path);
            return 0;
        });
    }

    @Override
    public int unlink(String path) {
        return (int) call(fs -> {
            fs.unlink(path);
            return 0;
        });
    }

    @Override
    public int rename(String from, String to) {
        return (int) call(fs -> {
            fs.rename(from, to);
            return 0;
        });
    }

    @Override
    public int truncate(String path, long size) {
        return (int) call(fs -> {
            fs.truncate(path, size);
            return 0;
        });
    }

    @Override
    public long open(String path, boolean create, boolean exclusive, boolean truncate, int mode) {
        int flags = (create ? Fs.CREATE : 0) | (exclusive ? Fs.EXCLUSIVE : 0) | (truncate ? Fs.TRUNCATE_FLAG : 0);
        return call(fs -> fs.open(path, flags, mode));
    }

    @Override
    public int read(long handle, long offset, MemorySegment dst, int length) {
        return (int) call(fs -> fs.read(handle, offset, dst, 0, length));
    }

    @Override
    public int write(long handle, long offset, MemorySegment src, int length) {
        return (int) call(fs -> fs.write(handle, offset, src, 0, length));
    }

    @Override
    public int fsync(long handle) {
        return (int) call(fs -> {
            fs.fsync(handle);
            return 0;
        });
    }

    @Override
    public int close(long handle) {
        return (int) call(fs -> {
            fs.close(handle);
            return 0;
        });
    }

    @Override
    public int statfs(StatFs out) {
        return (int) call(fs -> {
            Fs.Usage u = fs.usage();
            out.blockSize = u.blockSize();
            out.blocks = u.blocks();
            out.freeBlocks = u.freeBlocks();
            out.files = u.inodes();
            out.freeFiles = u.freeInodes();
            out.nameMax = u.nameMax();
            return 0;
        });
    }

    @Override
    public int chmod(String path, int mode) {
        return (int) call(fs -> {
            fs.chmod(path, mode);
            return 0;
        });
    }

    @Override
    public int utimens(String path, long atimeNs, long mtimeNs) {
        return (int) call(fs -> {
            fs.setTimes(path, atimeNs, mtimeNs);
            return 0;
        });
    }

    @Override
    public int sync() {
        return (int) call(fs -> {
            fs.sync();
            return 0;
        });
    }
}
