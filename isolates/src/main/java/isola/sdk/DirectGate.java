package isola.sdk;

import isola.kernel.Kernel;
import isola.kernel.Tcb;

/** The {@code vm} tier's {@link KernelGate}: direct calls into the kernel in the same heap. */
public final class DirectGate implements KernelGate {
    private final Kernel kernel;
    private final Tcb tcb;
    private VirtualMemory memory;

    public DirectGate(Kernel kernel, Tcb tcb) {
        this.kernel = kernel;
        this.tcb = tcb;
    }

    Tcb tcb() {
        return tcb;
    }

    @Override public int call(int slot, long tag, long timeout) { return kernel.call(tcb, slot, tag, timeout); }
    @Override public int send(int slot, long tag, long timeout) { return kernel.send(tcb, slot, tag, timeout); }
    @Override public int recv(int slot, long timeout) { return kernel.recv(tcb, slot, timeout); }
    @Override public int reply(long tag) { return kernel.reply(tcb, tag); }
    @Override public int replyTo(int slot, long tag) { return kernel.replyTo(tcb, slot, tag); }
    @Override public int replyRecv(int slot, long tag, long timeout) { return kernel.replyRecv(tcb, slot, tag, timeout); }
    @Override public int saveReply(int slot) { return kernel.saveReply(tcb, slot); }
    @Override public int signal(int slot) { return kernel.signal(tcb, slot); }
    @Override public int await(int slot, long timeout) { return kernel.await(tcb, slot, timeout); }
    @Override public int poll(int slot) { return kernel.poll(tcb, slot); }
    @Override public int yield() { return kernel.yield(tcb); }
    @Override public int capCopy(int src, int dst) { return kernel.capCopy(tcb, src, dst); }
    @Override public int capMint(int src, int dst, int rights, long badge) { return kernel.capMint(tcb, src, dst, rights, badge); }
    @Override public int capMove(int src, int dst) { return kernel.capMove(tcb, src, dst); }
    @Override public int capDelete(int slot) { return kernel.capDelete(tcb, slot); }
    @Override public int capRevoke(int slot) { return kernel.capRevoke(tcb, slot); }
    @Override public int createEndpoint(int dst) { return kernel.createEndpoint(tcb, dst); }
    @Override public int createNotification(int dst) { return kernel.createNotification(tcb, dst); }
    @Override public int irqIssue(int controlSlot, int line, int dst) { return kernel.irqIssue(tcb, controlSlot, line, dst); }
    @Override public int irqBind(int handlerSlot, int notificationSlot) { return kernel.irqBind(tcb, handlerSlot, notificationSlot); }
    @Override public int irqAck(int handlerSlot) { return kernel.irqAck(tcb, handlerSlot); }
    @Override public int irqMask(int handlerSlot, boolean mask) { return kernel.irqMask(tcb, handlerSlot, mask); }
    @Override public int irqPriority(int handlerSlot, int priority) { return kernel.irqPriority(tcb, handlerSlot, priority); }
    @Override public int frameAlloc(int dst, long size) { return kernel.frameAlloc(tcb, dst, size); }
    @Override public int tableAlloc(int dst, int level) { return kernel.tableAlloc(tcb, dst, level); }
    @Override public int tableLink(int domainSlot, int tableSlot, long va) { return kernel.tableLink(tcb, domainSlot, tableSlot, va); }
    @Override public int tableUnlink(int domainSlot, long va, int level) { return kernel.tableUnlink(tcb, domainSlot, va, level); }
    @Override public int map(int domainSlot, int frameSlot, long va, long flags) { return kernel.map(tcb, domainSlot, frameSlot, va, flags); }
    @Override public int unmap(int domainSlot, long va, long size) { return kernel.unmap(tcb, domainSlot, va, size); }
    @Override public int protect(int domainSlot, long va, long size, long flags) { return kernel.protect(tcb, domainSlot, va, size, flags); }
    @Override public int domainKill(int slot) { return kernel.domainKill(tcb, slot); }
    @Override public int serve(int slot) { return kernel.serve(tcb, slot, null); }

    @Override
    public int servePassive(int slot, Handler handler) {
        // The caller's Sys: a passive handler runs on the calling thread, with its registers.
        return kernel.serve(tcb, slot, caller -> handler.handle((Sys) caller.sdk));
    }

    @Override public int slotCount() { return tcb.currentDomain().cspace().size(); }
    @Override public long errorArg() { return tcb.errorArg(); }
    @Override public String domainName() { return tcb.currentDomain().name(); }
    @Override public String threadName() { return tcb.name(); }

    @Override public long translate(long va, int access) { return kernel.translator(tcb).physical(va, access); }
    @Override public int contiguous(long va, long pa, int left, int access) { return kernel.translator(tcb).contiguous(va, pa, left, access); }
    @Override public int pin() { return kernel.translator(tcb).pin(); }
    @Override public int unpin() { return kernel.translator(tcb).unpin(); }

    @Override
    public VirtualMemory memory() {
        VirtualMemory m = memory;
        if (m == null) {
            isola.kernel.mem.PhysicalMemory ram = kernel.machine().ram();
            m = memory = new VirtualMemory(this, ram.slice(0, ram.size()));
        }
        return m;
    }
}
