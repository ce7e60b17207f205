package isola.baremetal;

import isola.kernel.mem.PhysicalMemory;
import java.io.PrintStream;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The kernel's own costs on bare metal, in TSC cycles, run when the command line says
 * {@code bench} (./isola bench baremetal boots it so): after warm-up iterations, each
 * measurement iteration prints {@code RESULT name iteration operations cycles cycles/op}, the
 * line format the host's harness reads (isola.bench.NativeHarness).
 *
 * <ul>
 *   <li>{@code tscRead}: reading the TSC through the runtime (the baseline: what a measurement costs);
 *   <li>{@code timerInterrupt}: a PIT interrupt from its entry stub to its return (the nucleus
 *       counts these itself; an iteration is the interrupts of 20 ms);
 *   <li>{@code contextSwitch}: one switch between two threads that yield to each other;
 *   <li>{@code lockUncontended}: lock and unlock of a free ReentrantLock;
 *   <li>{@code lockHandoff}: a fair ReentrantLock passing between two threads that both want
 *       it, each hand-off an unpark of the waiter, a park of the releaser and a switch;
 *   <li>{@code pageFault}: a first touch of a demand-paged page: the fault, a zeroed frame
 *       mapped, the access retried.
 * </ul>
 */
final class BareMetalBench {
    private final PrintStream out;
    private final int warmup, iterations;

    BareMetalBench(PrintStream out, int warmup, int iterations) {
        this.out = out;
        this.warmup = warmup;
        this.iterations = iterations;
    }

    interface Measure {
        /** Runs {@code ops} operations; returns the TSC cycles they took, or -1 to report the ops it did in {@code did[0]}. */
        long run(int ops, long[] did) throws Exception;
    }

    void runAll() throws Exception {
        bench("tscRead", 100_000, this::tscRead);
        bench("timerInterrupt", 0, this::timerInterrupt);
        bench("contextSwitch", 2_000, this::contextSwitch);
        bench("lockUncontended", 100_000, this::lockUncontended);
        bench("lockHandoff", 1_000, this::lockHandoff);
        bench("pageFault", 256, this::pageFault);
    }

    private void bench(String name, int ops, Measure m) throws Exception {
        long[] did = {ops};
        for (int i = 0; i < warmup; i++) {
            m.run(ops, did);
        }
        for (int i = 1; i <= iterations; i++) {
            did[0] = ops;
            long cycles = m.run(ops, did);
            out.println("RESULT " + name + " " + i + " " + did[0] + " " + cycles + " cycles/op");
        }
    }

    private long tscRead(int ops, long[] did) {
        long t0 = Cpu.rdtsc();
        long sink = 0;
        for (int i = 0; i < ops; i++) {
            sink += Cpu.rdtsc();
        }
        long t = Cpu.rdtsc() - t0;
        return sink == 42 ? t + 1 : t;
    }

    private long timerInterrupt(int ops, long[] did) throws InterruptedException {
        long c0 = Nucleus.timerCyclesTotal(), n0 = Nucleus.timerCyclesCount();
        Thread.sleep(20);
        did[0] = Nucleus.timerCyclesCount() - n0;
        return Nucleus.timerCyclesTotal() - c0;
    }

    private long contextSwitch(int ops, long[] did) throws InterruptedException {
        long s0 = Nucleus.contextSwitches();
        Thread other = new Thread(() -> {
            for (int i = 0; i < ops; i++) {
                Thread.yield();
            }
        });
        other.start();
        Thread.yield(); // let it start
        long t0 = Cpu.rdtsc();
        for (int i = 0; i < ops; i++) {
            Thread.yield();
        }
        long t = Cpu.rdtsc() - t0;
        other.join();
        did[0] = Math.max(1, Nucleus.contextSwitches() - s0);
        return t;
    }

    private long lockUncontended(int ops, long[] did) {
        ReentrantLock lock = new ReentrantLock();
        long t0 = Cpu.rdtsc();
        for (int i = 0; i < ops; i++) {
            lock.lock();
            lock.unlock();
        }
        return Cpu.rdtsc() - t0;
    }

    /** Two threads wait on a fair lock the measuring thread holds; once it lets go, every acquisition is a hand-off. */
    private long lockHandoff(int ops, long[] did) throws InterruptedException {
        ReentrantLock lock = new ReentrantLock(true);
        long[] handoffs = {0};
        Thread[] last = {null};
        Runnable body = () -> {
            for (int i = 0; i < ops; i++) {
                lock.lock();
                try {
                    if (last[0] != Thread.currentThread()) {
                        handoffs[0]++;
                        last[0] = Thread.currentThread();
                    }
                } finally {
                    lock.unlock();
                }
            }
        };
        Thread a = new Thread(body), b = new Thread(body);
        lock.lock();
        a.start();
        b.start();
        while (lock.getQueueLength() < 2) {
            Thread.yield();
        }
        long t0 = Cpu.rdtsc();
        lock.unlock();
        a.join();
        b.join();
        long t = Cpu.rdtsc() - t0;
        did[0] = Math.max(1, handoffs[0]);
        return t;
    }

    private long pageFault(int ops, long[] did) {
        long va = Nucleus.demandReserve(ops * PhysicalMemory.FRAME);
        if (va == 0) {
            throw new IllegalStateException("no heap window left for " + ops + " demand pages");
        }
        long f0 = Nucleus.faultCount();
        long t0 = Cpu.rdtsc();
        for (int i = 0; i < ops; i++) {
            Physical.U.putLong(va + i * PhysicalMemory.FRAME, i);
        }
        long t = Cpu.rdtsc() - t0;
        did[0] = Nucleus.faultCount() - f0;
        if (Nucleus.demandRelease(va, ops * PhysicalMemory.FRAME) != 0) {
            throw new IllegalStateException("demand range 0x" + Long.toHexString(va) + " was not released");
        }
        return t;
    }
}
