package isola.sdk;

/**
 * The pager protocol. The kernel sends a domain's page faults to its pager's endpoint (label
 * {@link isola.kernel.Kernel#PAGE_FAULT}: MR0 the address, MR1 the #PF error code, MR2 the
 * thread), with the badge the supervisor gave the domain; the pager maps something and replies
 * label 0, or {@link #REFUSED}. The supervisor, whose capability carries badge
 * {@link #SUPERVISOR}, tells a pager that a client is gone for good ({@link #FORGET}).
 */
public final class Pager {
    private Pager() {}

    /** Reply label: the fault is not served; the client's access fails with E_NOT_MAPPED. */
    public static final int REFUSED = 1;
    /**
     * MR0 the client's slot in the pager: that client is dead and will not come back; the pager
     * frees what it held for it. Only from the supervisor.
     */
    public static final int FORGET = 2;
    /** The badge of the supervisor's capability to a pager (no client has slot 0). */
    public static final long SUPERVISOR = 0;
}
