/*
 * The rest of what the Native Image object imports (layer 10 of the runtime, see README.md):
 * libc's process calls, and the helpers a GraalVM distribution ships in libsvm.
 */
#include <stdint.h>

#include "console.h"
#include "cpu.h"
#include "frames.h"
#include "isola_limits.h"
#include "libc.h"
#include "threads.h"

/* ---- process ---- */

char *getenv(const char *name) { (void)name; return 0; }

void exit(int status) {
    isola_print("isola: exit(%d)\n", status);
    isola_poweroff(status == 0 ? ISOLA_EXIT_PASS : ISOLA_EXIT_FAIL);
}
void _exit(int status) { exit(status); }
void abort(void) { isola_panic("abort() called"); }

long write(int fd, const void *buf, size_t n) {
    if (fd != 1 && fd != 2) {
        *__errno_location() = EINVAL;
        return -1;
    }
    isola_console_write(buf, n);
    return (long)n;
}

int getpid(void) { return 1; }

#define _SC_CLK_TCK 2
#define _SC_OPEN_MAX 4
#define _SC_PAGESIZE 30
#define _SC_NPROCESSORS_CONF 83
#define _SC_NPROCESSORS_ONLN 84
#define _SC_PHYS_PAGES 85

long sysconf(int name) {
    switch (name) {
    case _SC_PAGESIZE: return FRAME;
    case _SC_PHYS_PAGES: return (long)isola_phys_pages();
    case _SC_NPROCESSORS_CONF:
    case _SC_NPROCESSORS_ONLN: return 1;
    case _SC_CLK_TCK: return 100;
    case _SC_OPEN_MAX: return 16;
    default:
        *__errno_location() = EINVAL;
        return -1;
    }
}
int getpagesize(void) { return FRAME; }

struct rlimit { uint64_t cur, max; };
int getrlimit(int resource, struct rlimit *r) {
    (void)resource;
    r->cur = r->max = ~0ull; /* RLIM_INFINITY: the kernel has no resource limits of this kind */
    return 0;
}
int setrlimit(int resource, const struct rlimit *r) {
    (void)resource;
    (void)r;
    return 0;
}

/* SVM's own error reports: fdopen(2, "w") then fprintfSD(stream, format, string, int). */
static int stderr_stream;
void *fdopen(int fd, const char *mode) {
    (void)mode;
    return fd == 1 || fd == 2 ? &stderr_stream : 0;
}
int fprintfSD(void *stream, const char *format, char *arg0, int arg1) {
    (void)stream;
    isola_print(format, arg0, arg1);
    return 0;
}

/* ---- libsvm ---- */

int JVM_ActiveProcessorCount(void) { return 1; }
/*
 * The JDK's JNI libraries cache field IDs and set up encodings when their classes initialize.
 * No JDK file, network or zip code runs in the kernel (the console is the kernel's own UART
 * stream), so there is nothing to cache: each is a no-op, and every other JDK native panics
 * naming itself (BareMetalBuild's generated stubs).
 */
void InitializeEncoding(void *env, const char *encoding) { (void)env; (void)encoding; }
void Java_java_io_FileDescriptor_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_FileInputStream_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_FileOutputStream_initIDs(void *env, void *cls) { (void)env; (void)cls; }
void Java_java_io_UnixFileSystem_initIDs(void *env, void *cls) { (void)env; (void)cls; }
int getThreadId(void) { return isola_thread_id(); }
void initialize(void) {}
/* The kernel's locale is en-US: display and format language, script, country, variant. */
static char lang_en[] = "en", country_us[] = "US";
static char *locale_props[8] = {lang_en, 0, country_us, 0, lang_en, 0, country_us, 0};
int svm_initialize_locale(void) { return 1; /* SVM_LOCALE_INITIALIZATION_SUCCEEDED */ }
void *svm_get_locale(void) { return locale_props; }
int checkCPUFeatures(uint8_t *buildtimeMask); /* native/src/main/c/cpufeatures.c */
int checkCPUFeaturesOrExit(uint8_t *buildtimeMask, const char *errorMessage) {
    if (checkCPUFeatures(buildtimeMask))
        isola_panic("%s", errorMessage);
    return 0;
}
#define JNI_VERSION_1_8 0x00010008
int JNI_OnLoad_java(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_nio(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_net(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
int JNI_OnLoad_zip(void *vm, void *reserved) { (void)vm; (void)reserved; return JNI_VERSION_1_8; }
