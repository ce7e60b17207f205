package isola.baremetal;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tag;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import isola.kernel.mem.PhysicalMemory;
import java.lang.foreign.MemorySegment;

/**
 * hostkernel's kernel core (capabilities, IPC, scheduling of kernel threads, the interrupt
 * model) running on bare metal: its kernel threads are the nucleus's threads, its memory a
 * partition of RAM from the frame allocator, and its timer line is the PIT's IRQ 0, raised by
 * the interrupt thread into the same {@link Kernel#raiseIrq} as hosted mode.
 */
final class KernelCore {
    static final int PARTITION_ORDER = 12; // 16 MiB
    final ConcurrentMachine machine;
    final Kernel kernel;

    KernelCore(KernelMemory memory) {
        long pa = memory.allocate(PARTITION_ORDER, "the kernel core's memory");
        long bytes = PhysicalMemory.FRAME << PARTITION_ORDER;
        PhysicalMemory partition = PhysicalMemory.of(MemorySegment.ofAddress(pa).reinterpret(bytes));
        KernelConfig config = KernelConfig.DEFAULT.withMemory(bytes).withPools(16, 64, 64, 16, 64);
        machine = HostedMachine.concurrent(config, partition, 0); // one CPU: park at once, never spin
        kernel = machine.kernel();
    }

    /** The PIT ticked: the kernel's timer line. */
    void timerInterrupt() {
        kernel.raiseIrq(0);
    }

    /** A server and a client domain, an endpoint between them, and calls answered across it. */
    String selfTest() throws InterruptedException {
        final int calls = 200;
        long before = kernel.irqLine(0).delivered();
        Domain server = kernel.createDomain("echo", 8, 8), client = kernel.createDomain("client", 8, 8);
        Endpoint ep = kernel.createEndpoint(server);
        kernel.installCap(server, 1, ep, Rights.ALL, 0);
        kernel.bindServer(ep, server);
        kernel.grantCap(server, 1, client, 1, Rights.ALL, 42);
        long[] result = {Status.OK, 0, 0};
        Tcb srv = kernel.createThread(server, "echo", 10);
        machine.spawn(srv, () -> {
            int r = kernel.recv(srv, 1, Kernel.FOREVER);
            for (int i = 0; i < calls && r == Status.OK; i++) {
                MemorySegment u = srv.utcb();
                Utcb.setMr(u, 0, 2 * Utcb.mr(u, 0) + Utcb.badge(u));
                r = i + 1 < calls ? kernel.replyRecv(srv, 1, Tag.of(0, 1), Kernel.FOREVER) : kernel.reply(srv, Tag.of(0, 1));
            }
            if (r != Status.OK) {
                result[0] = r;
            }
        });
        Tcb cli = kernel.createThread(client, "client", 10);
        machine.spawn(cli, () -> {
            for (int i = 0; i < calls; i++) {
                Utcb.setMr(cli.utcb(), 0, i);
                int r = kernel.call(cli, 1, Tag.of(1, 1), Kernel.FOREVER);
                long got = Utcb.mr(cli.utcb(), 0);
                if (r != Status.OK || got != 2L * i + 42) {
                    result[1] = r != Status.OK ? r : -1;
                    result[2] = got;
                    return;
                }
            }
        });
        SelfTests.check(machine.awaitRunners(20_000), "the kernel threads did not finish");
        SelfTests.check(result[0] == Status.OK, "the server's replyRecv failed: " + Status.name((int) result[0]));
        SelfTests.check(result[1] == 0, "a call failed: " + (result[1] < 0 ? "got " + result[2] : Status.name((int) result[1])));
        long ticks = kernel.irqLine(0).delivered() - before;
        SelfTests.check(ticks > 0, "the kernel's timer line (IRQ 0) delivered nothing");
        isola.kernel.IrqLine timer = kernel.irqLine(0);
        return calls + " IPC calls between two domains' kernel threads (badged endpoint capability); timer line: vector "
                + timer.vector() + " (" + timer.vectorName() + "), " + timer.delivered() + " delivered";
    }
}
