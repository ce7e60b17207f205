/*
 * C that Isola's own Java code calls in the native executable (GraalVM's imports are in
 * svmhelpers.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * A full memory fence on every CPU running a thread of this process (see ProcessFence.java).
 * membarrier(2)'s private expedited command interrupts exactly those CPUs; it must be
 * registered once per process. Without it (an old or restricted kernel), a protection change of
 * a page every thread may have in its TLB makes the kernel shoot down those TLB entries with an
 * interrupt to each CPU that runs the process, which serializes them as well. Returns 0, or -1
 * if neither works.
 */
static int fence_mode; /* 1: membarrier, 2: mprotect, -1: neither */
static char *fence_page;
static pthread_once_t fence_once = PTHREAD_ONCE_INIT;

static void fence_init(void) {
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
        fence_mode = 1;
        return;
    }
    void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    fence_page = p == MAP_FAILED ? NULL : p;
    fence_mode = p == MAP_FAILED ? -1 : 2;
}

int isola_process_fence(void) {
    pthread_once(&fence_once, fence_init);
    if (fence_mode == 1) {
        return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0 ? 0 : -1;
    }
    if (fence_mode != 2) {
        return -1;
    }
    /* The page must be dirty and present for the downgrade to need a shoot-down. */
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    int r = mprotect(fence_page, 4096, PROT_READ | PROT_WRITE);
    if (r == 0) {
        __atomic_add_fetch((volatile int *) fence_page, 1, __ATOMIC_SEQ_CST);
        r = mprotect(fence_page, 4096, PROT_NONE);
    }
    pthread_mutex_unlock(&lock);
    return r == 0 ? 0 : -1;
}

/*
 * The host disk of the native executable (isola.nativeimage.disk.Target_isola_device_HostDisk):
 * one file descriptor, positioned reads and writes and a data sync, the same calls the JVM's
 * HostDisk makes through Panama. Plain functions, not the variadic open(2) or errno, so Java's
 * @CFunction declarations match them exactly; each answers -errno on failure and retries
 * what a signal interrupted.
 */
int isola_disk_open(const char *path, int read_only) {
    int fd;
    do {
        fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

long isola_disk_pread(int fd, void *buf, long count, long offset) {
    ssize_t n;
    do {
        n = pread(fd, buf, (size_t) count, (off_t) offset);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

long isola_disk_pwrite(int fd, const void *buf, long count, long offset) {
    ssize_t n;
    do {
        n = pwrite(fd, buf, (size_t) count, (off_t) offset);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int isola_disk_sync(int fd) {
    int r;
    do {
        r = fdatasync(fd);
    } while (r != 0 && errno == EINTR);
    return r != 0 ? -errno : 0;
}

/* Not retried on EINTR: on Linux the descriptor is released even then, and it may be reused. */
int isola_disk_close(int fd) {
    return close(fd) != 0 ? -errno : 0;
}
