package isola.nativeimage;

import com.oracle.svm.core.AlwaysInline;
import com.oracle.svm.core.annotate.AnnotateOriginal;
import com.oracle.svm.core.annotate.TargetClass;
import isola.kernel.Cap;
import isola.kernel.Kernel;
import isola.kernel.Tcb;
import isola.sdk.Sys;

/**
 * The IPC fast path, inlined by the ahead-of-time compiler: without profiles it keeps each of
 * these small methods a call of its own, which costs a few nanoseconds on a path that takes
 * fifteen. The code is unchanged; only the inlining decision is made here, the one place the
 * native build tunes the kernel.
 */
@TargetClass(Kernel.class)
final class Target_isola_kernel_Kernel {
    @AnnotateOriginal
    @AlwaysInline("IPC fast path")
    public native int call(Tcb self, int slot, long tag, long timeout);
}

/** The fast call and its guards ({@code isola.kernel.FastPath}, package-private there). */
@TargetClass(className = "isola.kernel.FastPath")
final class Target_isola_kernel_FastPath {
    @AnnotateOriginal
    @AlwaysInline("IPC fast path")
    native int call(Tcb self, int slot, long tag);

    @AnnotateOriginal
    @AlwaysInline("IPC fast path: the guards")
    static native Cap endpointCap(Tcb self, int slot, int right, long tag);
}

/** A handler's register accesses, inlined into the handler. */
@TargetClass(Sys.class)
final class Target_isola_sdk_Sys {
    @AnnotateOriginal
    @AlwaysInline("message registers, read in place")
    public native long mr(int i);

    @AnnotateOriginal
    @AlwaysInline("message registers, written in place")
    public native Sys mr(int i, long value);
}
