/*
 * The JNI library the Native Image builder loads from ${java.home}/lib/svm/builder/lib/
 * (com.oracle.svm.hosted.ProgressReporterCHelper): peak RSS and terminal width. GraalVM does
 * not publish it on Maven Central, so Isola builds its own (issue 5).
 */
#include <jni.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>
JNIEXPORT jlong JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getPeakRSS0(JNIEnv *env, jclass c) {
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? (jlong) u.ru_maxrss * 1024 : -1;
}
JNIEXPORT jint JNICALL Java_com_oracle_svm_hosted_ProgressReporterCHelper_getTerminalWindowColumns0(JNIEnv *env, jclass c) {
    struct winsize w;
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &w) == 0 ? w.ws_col : 0;
}
