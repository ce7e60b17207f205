package isola.baremetal;

import org.graalvm.nativeimage.c.function.CFunction;
import org.graalvm.nativeimage.c.function.CFunction.Transition;

/**
 * The runtime beneath the Java kernel (baremetal/src/main/c): the frame pool the heap's mmap
 * draws from, the interrupt stubs, the thread switcher's counters and the interrupt lines it
 * records. The kernel decides; the nucleus only does what Java cannot do where it happens (in
 * an interrupt, or inside a garbage collection). Calls that never block need no transition.
 */
final class Nucleus {
    private Nucleus() {}

    // ---- memory ----

    /** Freezes the boot frame pool; returns the first address it never handed out. */
    @CFunction(value = "isola_frames_handover", transition = Transition.NO_TRANSITION)
    static native long framesHandover();

    /** Gives the heap's frame pool a frame from the kernel's allocator. */
    @CFunction(value = "isola_frames_give", transition = Transition.NO_TRANSITION)
    static native void framesGive(long pa);

    /** Takes a free frame back from the pool (0 if none). */
    @CFunction(value = "isola_frames_take", transition = Transition.NO_TRANSITION)
    static native long framesTake();

    @CFunction(value = "isola_frames_pooled", transition = Transition.NO_TRANSITION)
    static native long framesPooled();

    /** Frames the heap (and the pool's page tables) hold now. */
    @CFunction(value = "isola_frames_in_use", transition = Transition.NO_TRANSITION)
    static native long framesInUse();

    @CFunction(value = "isola_heap_window", transition = Transition.NO_TRANSITION)
    static native long heapWindow();

    /** The heap window's page-directory-pointer table, to link into the kernel's root table. */
    @CFunction(value = "isola_heap_pdpt", transition = Transition.NO_TRANSITION)
    static native long heapPdpt();

    /** Whether the image asked (mprotect) for the kernel image's page at {@code va} to be read-only. */
    @CFunction(value = "isola_readonly", transition = Transition.NO_TRANSITION)
    static native boolean readonly(long va);

    /** Reserves {@code bytes} of the heap window, mapped page by page on first touch; 0 if none. */
    @CFunction(value = "isola_demand_reserve", transition = Transition.NO_TRANSITION)
    static native long demandReserve(long bytes);

    /** Unmaps a range {@link #demandReserve} gave (its frames go back to the pool); 0, or -1 if it was not one. */
    @CFunction(value = "isola_demand_release", transition = Transition.NO_TRANSITION)
    static native int demandRelease(long va, long bytes);

    /** The kernel image's extent and where its code ends. */
    @CFunction(value = "isola_kernel_image_start", transition = Transition.NO_TRANSITION)
    static native long kernelStart();

    @CFunction(value = "isola_kernel_text_end", transition = Transition.NO_TRANSITION)
    static native long kernelTextEnd();

    @CFunction(value = "isola_kernel_image_end", transition = Transition.NO_TRANSITION)
    static native long kernelEnd();

    // ---- interrupts ----

    /** The entry stub of vector 0..47 (entry.S). */
    @CFunction(value = "isola_isr_stub", transition = Transition.NO_TRANSITION)
    static native long isrStub(int vector);

    @CFunction(value = "isola_lidt", transition = Transition.NO_TRANSITION)
    static native void lidt(long base, int limit);

    @CFunction(value = "isola_enable_interrupts", transition = Transition.NO_TRANSITION)
    static native void enableInterrupts();

    /** Blocks the calling thread until an interrupt line is raised; returns the lines (bit n: line n). */
    @CFunction(value = "isola_irq_wait")
    static native int irqWait();

    /** Interrupts taken on PIC line {@code line} (0: the PIT's ticks). */
    @CFunction(value = "isola_irq_count", transition = Transition.NO_TRANSITION)
    static native long irqCount(int line);

    @CFunction(value = "isola_fault_count", transition = Transition.NO_TRANSITION)
    static native long faultCount();

    @CFunction(value = "isola_last_fault_address", transition = Transition.NO_TRANSITION)
    static native long lastFaultAddress();

    @CFunction(value = "isola_last_fault_error", transition = Transition.NO_TRANSITION)
    static native long lastFaultError();

    @CFunction(value = "isola_timer_cycles_total", transition = Transition.NO_TRANSITION)
    static native long timerCyclesTotal();

    @CFunction(value = "isola_timer_cycles_count", transition = Transition.NO_TRANSITION)
    static native long timerCyclesCount();

    // ---- threads and time ----

    /** From now on the runtime consults the kernel's scheduler policy (SchedulerPolicy); call from Java, early. */
    @CFunction(value = "isola_policy_attach", transition = Transition.NO_TRANSITION)
    static native void policyAttach();

    @CFunction(value = "isola_context_switches", transition = Transition.NO_TRANSITION)
    static native long contextSwitches();

    @CFunction(value = "isola_preemptions", transition = Transition.NO_TRANSITION)
    static native long preemptions();

    @CFunction(value = "isola_tsc_hz", transition = Transition.NO_TRANSITION)
    static native long tscHz();

    /** TSC cycles of one switch from a thread to another and back through the scheduler, measured by the nucleus. */
    @CFunction(value = "isola_nanotime", transition = Transition.NO_TRANSITION)
    static native long nanoTime();
}
