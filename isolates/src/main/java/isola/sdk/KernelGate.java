package isola.sdk;

/**
 * How one thread's {@link Sys} enters the kernel: its system calls, with the thread implied.
 * The isolation tier picks the gate. In the {@code vm} tier it is {@link DirectGate}, plain calls
 * into the kernel object in the same heap. In the native tier the kernel lives in another
 * GraalVM isolate, and the gate is a call across the isolate boundary: its arguments are
 * words and its message registers are the UTCB in unmanaged memory, which both sides map.
 *
 * <p>Each call returns a status ({@code Status.OK}, a count, or a negative error) and allocates
 * nothing. Arguments are as in the kernel's method of the same name.
 */
public interface KernelGate {
    int call(int slot, long tag, long timeout);

    int send(int slot, long tag, long timeout);

    int recv(int slot, long timeout);

    int reply(long tag);

    int replyTo(int slot, long tag);

    int replyRecv(int slot, long tag, long timeout);

    int saveReply(int slot);

    int signal(int slot);

    int await(int slot, long timeout);

    int poll(int slot);

    int yield();

    int capCopy(int src, int dst);

    int capMint(int src, int dst, int rights, long badge);

    int capMove(int src, int dst);

    int capDelete(int slot);

    int capRevoke(int slot);

    int createEndpoint(int dst);

    int createNotification(int dst);

    int irqIssue(int controlSlot, int line, int dst);

    int irqBind(int handlerSlot, int notificationSlot);

    int irqAck(int handlerSlot);

    int irqMask(int handlerSlot, boolean mask);

    int irqPriority(int handlerSlot, int priority);

    int frameAlloc(int dst, long size);

    int tableAlloc(int dst, int level);

    int tableLink(int domainSlot, int tableSlot, long va);

    int tableUnlink(int domainSlot, long va, int level);

    int map(int domainSlot, int frameSlot, long va, long flags);

    int unmap(int domainSlot, long va, long size);

    int protect(int domainSlot, long va, long size, long flags);

    int domainKill(int slot);

    /** Serves the endpoint in {@code slot} actively (its threads receive on it). */
    int serve(int slot);

    /** Serves the endpoint in {@code slot} passively: calls run {@code handler} on the caller's thread. */
    int servePassive(int slot, Handler handler);

    /** Slots in the thread's current domain's capability space. */
    int slotCount();

    /** The input the thread's last failed call named (a slot, an address), for error messages. */
    long errorArg();

    /** The name of the thread's current domain (the server's, inside a passive call). */
    String domainName();

    String threadName();

    /**
     * Translates an access of kind {@code access} ({@code Mmu.READ}, {@code WRITE}, {@code FETCH})
     * at {@code va} in the address space the thread runs in now, the pager resolving page
     * faults: a physical address, or a failure ({@link isola.kernel.Translator#failed}).
     */
    long translate(long va, int access);

    /** See {@link isola.kernel.Translator#contiguous}. */
    int contiguous(long va, long pa, int left, int access);

    /** Opens a view over physical memory: the thread keeps its translations until {@link #unpin}. */
    int pin();

    int unpin();

    /** The thread's view of its domain's address space, created on first use. */
    VirtualMemory memory();
}
