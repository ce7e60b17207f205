/*
 * Hand-written part of the libjvm.so stand-in that Temurin's libjava.so,
 * libnio.so, libnet.so and libzip.so are linked against (they are linked
 * -z now, so every JVM_* they import must exist even if never called).
 * gen-libjvm.sh adds an aborting stub for every other imported symbol and
 * exports everything with version SUNWprivate_1.1.
 *
 * Only functions whose HotSpot semantics need no VM state are implemented.
 * In a native image most libjava natives that would reach the others are
 * substituted by Java code, so the stubs are not expected to run.
 *
 * JVM_ActiveProcessorCount lives only here: libjava.so needs a versioned
 * definition in libjvm.so anyway, and the image (jdk.Jvm) plus
 * svmhelpers.c's container code use this same copy through -ljvm.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jni.h>

/* Prototypes as in HotSpot's jvm.h / jvm_io.h (not shipped with the JDK). */
JNIEXPORT jint JNICALL JVM_ActiveProcessorCount(void);
JNIEXPORT jlong JNICALL JVM_CurrentTimeMillis(JNIEnv *env, jclass ignored);
JNIEXPORT jlong JNICALL JVM_NanoTime(JNIEnv *env, jclass ignored);
JNIEXPORT jlong JNICALL JVM_GetNanoTimeAdjustment(JNIEnv *env, jclass ignored, jlong offset_secs);
JNIEXPORT void JNICALL JVM_Halt(jint code);
JNIEXPORT void JNICALL JVM_BeforeHalt(void);
JNIEXPORT char *JNICALL JVM_NativePath(char *path);
JNIEXPORT jstring JNICALL JVM_GetTemporaryDirectory(JNIEnv *env);
JNIEXPORT jboolean JNICALL JVM_IsSupportedJNIVersion(jint version);
JNIEXPORT void *JNICALL JVM_FindLibraryEntry(void *handle, const char *name);
JNIEXPORT void *JNICALL JVM_LoadLibrary(const char *name, jboolean throwException);
JNIEXPORT void JNICALL JVM_UnloadLibrary(void *handle);
JNIEXPORT void *JNICALL JVM_RawMonitorCreate(void);
JNIEXPORT void JNICALL JVM_RawMonitorDestroy(void *mon);
JNIEXPORT jint JNICALL JVM_RawMonitorEnter(void *mon);
JNIEXPORT void JNICALL JVM_RawMonitorExit(void *mon);
JNIEXPORT void JNICALL JVM_Yield(JNIEnv *env, jclass threadClass);
JNIEXPORT int jio_vsnprintf(char *str, size_t count, const char *fmt, va_list args);
JNIEXPORT int jio_vfprintf(FILE *f, const char *fmt, va_list args);

/* CPUs this process may run on (affinity mask), like os::Linux::active_processor_count. */
JNIEXPORT jint JNICALL JVM_ActiveProcessorCount(void) {
    long configured = sysconf(_SC_NPROCESSORS_CONF);
    int ncpus = configured > CPU_SETSIZE ? (int)configured : CPU_SETSIZE;
    /* The kernel rejects masks smaller than its own (EINVAL): grow until it fits. */
    for (int tries = 0; tries < 8; tries++, ncpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(ncpus);
        if (set == NULL)
            break;
        size_t size = CPU_ALLOC_SIZE(ncpus);
        CPU_ZERO_S(size, set);
        if (sched_getaffinity(0, size, set) == 0) {
            int count = CPU_COUNT_S(size, set);
            CPU_FREE(set);
            if (count > 0)
                return count;
            break;
        }
        CPU_FREE(set);
        if (errno != EINVAL)
            break;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (jint)online : 1;
}

JNIEXPORT jlong JNICALL JVM_CurrentTimeMillis(JNIEnv *env, jclass ignored) {
    (void)env;
    (void)ignored;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (jlong)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

JNIEXPORT jlong JNICALL JVM_NanoTime(JNIEnv *env, jclass ignored) {
    (void)env;
    (void)ignored;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (jlong)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Nanoseconds since offset_secs (UTC), or -1 if that is more than 2^32 s away (HotSpot's sentinel). */
JNIEXPORT jlong JNICALL JVM_GetNanoTimeAdjustment(JNIEnv *env, jclass ignored, jlong offset_secs) {
    (void)env;
    (void)ignored;
    const jlong max_diff_secs = INT64_C(0x0100000000);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    jlong diff = (jlong)ts.tv_sec - offset_secs;
    if (diff >= max_diff_secs || diff <= -max_diff_secs)
        return -1;
    return diff * 1000000000 + ts.tv_nsec;
}

/* HotSpot ends JVM_Halt in ::exit(code), so atexit handlers and stdio flushing run. */
JNIEXPORT void JNICALL JVM_Halt(jint code) {
    exit(code);
}

/* HotSpot only emits JFR events here. */
JNIEXPORT void JNICALL JVM_BeforeHalt(void) {
}

/* Linux paths need no conversion (os::native_path is the identity). */
JNIEXPORT char *JNICALL JVM_NativePath(char *path) {
    return path;
}

/* os::get_temp_directory() is the constant "/tmp" on Linux. */
JNIEXPORT jstring JNICALL JVM_GetTemporaryDirectory(JNIEnv *env) {
    return (*env)->NewStringUTF(env, "/tmp");
}

JNIEXPORT jboolean JNICALL JVM_IsSupportedJNIVersion(jint version) {
    switch (version) {
    case JNI_VERSION_1_1:
    case JNI_VERSION_1_2:
    case JNI_VERSION_1_4:
    case JNI_VERSION_1_6:
    case JNI_VERSION_1_8:
    case JNI_VERSION_9:
    case JNI_VERSION_10:
    case JNI_VERSION_19:
    case JNI_VERSION_20:
    case JNI_VERSION_21:
#ifdef JNI_VERSION_24
    case JNI_VERSION_24:
#endif
        return JNI_TRUE;
    default:
        return JNI_FALSE;
    }
}

JNIEXPORT void *JNICALL JVM_FindLibraryEntry(void *handle, const char *name) {
    return dlsym(handle, name);
}

/*
 * Throwing needs a JNIEnv, which this API does not pass; like HotSpot we use
 * the current thread's, found through the image's exported JNI invocation API.
 */
static void throw_unsatisfied_link_error(const char *message) {
    typedef jint(JNICALL *get_vms_fn)(JavaVM **, jsize, jsize *);
    get_vms_fn get_vms = (get_vms_fn)dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    JavaVM *vm = NULL;
    jsize count = 0;
    JNIEnv *env = NULL;
    if (get_vms == NULL || get_vms(&vm, 1, &count) != JNI_OK || count < 1 ||
        (*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_8) != JNI_OK)
        return;
    jclass cls = (*env)->FindClass(env, "java/lang/UnsatisfiedLinkError");
    if (cls != NULL)
        (*env)->ThrowNew(env, cls, message);
}

JNIEXPORT void *JNICALL JVM_LoadLibrary(const char *name, jboolean throwException) {
    void *handle = dlopen(name, RTLD_LAZY);
    if (handle == NULL && throwException) {
        char message[1024];
        const char *reason = dlerror();
        snprintf(message, sizeof message, "%s: %s", name, reason ? reason : "cannot load library");
        throw_unsatisfied_link_error(message);
    }
    return handle;
}

JNIEXPORT void JNICALL JVM_UnloadLibrary(void *handle) {
    dlclose(handle);
}

/* HotSpot's raw monitors are plain (non-recursive) platform mutexes. */
JNIEXPORT void *JNICALL JVM_RawMonitorCreate(void) {
    pthread_mutex_t *mutex = malloc(sizeof *mutex);
    if (mutex != NULL && pthread_mutex_init(mutex, NULL) != 0) {
        free(mutex);
        mutex = NULL;
    }
    return mutex;
}

JNIEXPORT void JNICALL JVM_RawMonitorDestroy(void *mon) {
    if (mon != NULL) {
        pthread_mutex_destroy(mon);
        free(mon);
    }
}

JNIEXPORT jint JNICALL JVM_RawMonitorEnter(void *mon) {
    return pthread_mutex_lock(mon) == 0 ? 0 : -1;
}

JNIEXPORT void JNICALL JVM_RawMonitorExit(void *mon) {
    pthread_mutex_unlock(mon);
}

JNIEXPORT void JNICALL JVM_Yield(JNIEnv *env, jclass threadClass) {
    (void)env;
    (void)threadClass;
    sched_yield();
}

/*
 * libjava.so defines jio_snprintf/jio_fprintf itself on top of these two.
 * HotSpot's jio_vsnprintf reports truncation as -1, unlike C99 vsnprintf.
 */
JNIEXPORT int jio_vsnprintf(char *str, size_t count, const char *fmt, va_list args) {
    if ((intptr_t)count <= 0)
        return -1;
    int result = vsnprintf(str, count, fmt, args);
    if (result > 0 && (size_t)result >= count)
        result = -1;
    return result;
}

JNIEXPORT int jio_vfprintf(FILE *f, const char *fmt, va_list args) {
    return vfprintf(f, fmt, args);
}
