package isola.kernel;

/**
 * A protection domain: a capability space, the threads that belong to it, a quota of kernel
 * objects, a fault endpoint, and the isolation backend it runs on (opaque to the core).
 */
public final class Domain extends KernelObject {
    public static final int RUNNING = 1;
    /** A thread or handler faulted; passive calls are refused until the fault handler resumes it. */
    public static final int FAULTED = 2;
    public static final int DEAD = 3;

    /** Fault kinds (MR0 of a fault message). */
    public static final int FAULT_THREAD = 1;
    public static final int FAULT_HANDLER = 2;
    /** Injected by the host (the shell's {@code kill}): a crash on demand. */
    public static final int FAULT_INJECTED = 3;

    /** Labels of a fault message and of the fault handler's reply. */
    public static final int FAULT_LABEL = 0xFA;
    public static final int FAULT_RESUME = 0;
    public static final int FAULT_KILL = 1;

    String name;
    CSpace cspace;
    volatile int state;
    int quota;
    int used;
    /** Where its page faults go (endpoint + badge); null: nowhere, a fault is an error. */
    Cap pagerCap;
    /** Its address space; null once it is dead and torn down. */
    isola.kernel.mem.AddressSpace vspace;
    /** Frames (4 KiB units) it may hold in frames and page tables, and holds. */
    long frameQuota;
    long framesUsed;
    Tcb threads;
    int threadCount;

    /** Capability (endpoint + badge) that fault messages are sent through; null: none. */
    Cap faultCap;
    /** Kernel-internal sender of this domain's fault message; it has no runner. */
    Tcb faultProxy;
    boolean faultPending;
    int faultCount;
    /** The last fault's cause, for the host's logs and the shell. */
    Throwable lastFault;
    String lastFaultThread;
    /** Crashed by {@link Kernel#injectFault}: its threads are stopped for good, so it cannot be resumed, only killed. */
    boolean crashed;
    /**
     * Killed by its supervisor to be restarted in a fresh domain: the calls it had taken get
     * E_RESTARTED (retry) rather than E_DEAD_DOMAIN, and calls on the endpoints it served wait
     * for the next incarnation.
     */
    volatile boolean restarting;

    /** The isolation backend's handle for this domain (a class loader in the vm tier). */
    public Object backend;

    Domain(int id) {
        super(ObjectType.DOMAIN, id);
    }

    public String name() {
        return name;
    }

    public CSpace cspace() {
        return cspace;
    }

    public int state() {
        return state;
    }

    public int quota() {
        return quota;
    }

    public int used() {
        return used;
    }

    public int faultCount() {
        return faultCount;
    }

    public Throwable lastFault() {
        return lastFault;
    }

    public isola.kernel.mem.AddressSpace addressSpace() {
        return vspace;
    }

    public long frameQuota() {
        return frameQuota;
    }

    public long framesUsed() {
        return framesUsed;
    }

    public int threadCount() {
        return threadCount;
    }

    public boolean restarting() {
        return restarting;
    }

    /** What a call on an endpoint this domain serves gets while the domain is not running. */
    int downStatus() {
        boolean comingBack = state == FAULTED ? faultCap != null : restarting;
        return comingBack ? Status.E_RESTARTED : Status.E_DEAD_DOMAIN;
    }

    public static String stateName(int s) {
        return switch (s) {
            case RUNNING -> "running";
            case FAULTED -> "faulted";
            case DEAD -> "dead";
            default -> "state" + s;
        };
    }

    @Override
    public String toString() {
        return "domain#" + id + "(" + name + ")";
    }
}
