package isola.baremetal;

import isola.kernel.mem.Paging;
import isola.kernel.mem.PhysicalMemory;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The kernel's self-tests on bare metal: each exercises one service the kernel provides to its
 * own Java code (frames, page tables, page faults, the timer, threads under preemption, locks,
 * wait/notify, java.util.concurrent, the collector reusing memory) and checks the result.
 * One line per test; a failure prints its stack trace and the run goes on.
 */
final class SelfTests {
    interface Check {
        String run() throws Exception;
    }

    record Test(String name, Check check) {}

    private final BareMetalKernel k;
    private final PrintStream out;
    int passed, failed;

    SelfTests(BareMetalKernel k, PrintStream out) {
        this.k = k;
        this.out = out;
    }

    List<Test> all() {
        return List.of(
                new Test("frames", this::frames),
                new Test("page-tables", this::pageTables),
                new Test("page-fault", this::pageFault),
                new Test("timer", this::timer),
                new Test("threads-contend", this::threadsContend),
                new Test("wait-notify", this::waitNotify),
                new Test("sleep", this::sleep),
                new Test("concurrent", this::concurrent),
                new Test("gc-reuses-memory", this::gcReusesMemory),
                new Test("kernel-core", () -> k.core.selfTest()));
    }

    void runAll() {
        for (Test t : all()) {
            long t0 = System.nanoTime();
            try {
                String detail = t.check().run();
                passed++;
                out.println("isola: test " + pad(t.name(), 17) + "ok " + pad((System.nanoTime() - t0) / 1_000_000 + " ms", 9) + detail);
            } catch (Throwable e) {
                failed++;
                out.println("isola: test " + pad(t.name(), 17) + "FAILED: " + e);
                e.printStackTrace(out);
            }
        }
    }

    /** {@code s} padded with spaces to {@code width} (java.util.Formatter would load compressed locale data). */
    static String pad(String s, int width) {
        return s.length() >= width ? s + " " : s + " ".repeat(width - s.length());
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    private String frames() {
        KernelMemory m = k.memory;
        synchronized (m) {
            long before = m.frames.freeFrames();
            long[] blocks = new long[5];
            for (int order = 0; order < blocks.length; order++) {
                blocks[order] = m.frames.allocate(order);
                check(blocks[order] >= m.base, "order " + order + " block at 0x" + Long.toHexString(blocks[order]));
                check((blocks[order] & ((PhysicalMemory.FRAME << order) - 1)) == 0, "order " + order + " block is unaligned");
            }
            for (int order = 0; order < blocks.length; order++) {
                m.frames.free(blocks[order], order);
            }
            check(m.frames.freeFrames() == before, "free frames " + m.frames.freeFrames() + " after freeing, " + before + " before");
            return m.frames.freeFrames() + " of " + m.frames.totalFrames() + " frames free, "
                    + Nucleus.framesPooled() + " pooled for the heap";
        }
    }

    private String pageTables() {
        KernelMemory m = k.memory;
        check(Cpu.readCr3() == m.root, "CR3 is 0x" + Long.toHexString(Cpu.readCr3()) + ", not the kernel's 0x" + Long.toHexString(m.root));
        long text = Nucleus.kernelStart();
        long e = m.paging.leaf(m.root, text, Paging.SIZE_4K);
        check((e & Paging.P) != 0 && (e & Paging.RW) == 0 && e >= 0, "kernel code at 0x" + Long.toHexString(text) + " maps as 0x" + Long.toHexString(e));
        check(m.paging.leaf(m.root, 0, Paging.SIZE_4K) == 0, "page 0 is mapped");
        long data = KernelMemory.align(Nucleus.kernelTextEnd(), Paging.SIZE_4K);
        check((m.paging.leaf(m.root, Nucleus.kernelEnd() - 4096 & -4096L, Paging.SIZE_4K) & Paging.NX) != 0, "kernel data is executable");
        check(m.paging.entryAddress(m.root, Nucleus.heapWindow(), 2) >= 0, "the heap window is not linked");
        return "CR3 0x" + Long.toHexString(m.root) + "; code read-only, data 0x" + Long.toHexString(data)
                + "+ no-execute, page 0 unmapped, heap window at 0x" + Long.toHexString(Nucleus.heapWindow());
    }

    private String pageFault() {
        long va = Nucleus.demandReserve(4 * PhysicalMemory.FRAME);
        check(va != 0, "no heap window left for a demand range");
        long faults = Nucleus.faultCount();
        long first = Physical.U.getLong(va + 16); // read of a missing page: mapped zeroed, retried
        long target = va + PhysicalMemory.FRAME + 8;
        Physical.U.putLong(target, 0x1234_5678_9ABCL);
        long back = Physical.U.getLong(target);
        long taken = Nucleus.faultCount() - faults;
        long cr2 = Nucleus.lastFaultAddress(), error = Nucleus.lastFaultError();
        check(first == 0, "a fresh page read 0x" + Long.toHexString(first));
        check(back == 0x1234_5678_9ABCL, "read back 0x" + Long.toHexString(back));
        check(taken == 2, taken + " faults for two fresh pages");
        check(cr2 == target, "CR2 0x" + Long.toHexString(cr2) + ", not 0x" + Long.toHexString(target));
        check(error == 2, "error code 0x" + Long.toHexString(error) + " for a write to a missing page");
        check(Nucleus.demandRelease(va, 4 * PhysicalMemory.FRAME) == 0, "the demand range was not released");
        return "2 faults resolved by mapping a frame; last CR2 0x" + Long.toHexString(cr2) + ", error code 0x"
                + Long.toHexString(error) + " (kernel write, page not present)";
    }

    private String timer() throws InterruptedException {
        long ticks = Nucleus.irqCount(0), javaTicks = k.timerInterrupts.get(), t0 = System.nanoTime();
        Thread.sleep(30);
        long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
        long dt = Nucleus.irqCount(0) - ticks, dj = k.timerInterrupts.get() - javaTicks;
        check(dt >= 15, dt + " PIT ticks in " + elapsedMs + " ms at " + BareMetalKernel.TIMER_HZ + " Hz");
        check(dj > 0, "the kernel's interrupt thread saw no timer interrupt in " + elapsedMs + " ms");
        long policyTicks = SchedulerPolicy.ticks(), runtimeTicks = Nucleus.irqCount(0); // a tick may fall between the reads
        check(runtimeTicks - policyTicks >= 0 && runtimeTicks - policyTicks <= 1, "the slice policy saw " + policyTicks
                + " ticks, the runtime counted " + runtimeTicks);
        return dt + " ticks in " + elapsedMs + " ms (IRQ 0 at vector 32), each through the Java scheduler policy; " + dj
                + " taken by the interrupt thread; TSC "
                + Nucleus.tscHz() / 1_000_000 + " MHz";
    }

    /**
     * Several threads contend on a monitor and a ReentrantLock, holding each across some work and
     * never yielding: only the timer's preemption interleaves them, so a thread is often
     * preempted holding a lock and the others block on it.
     */
    private String threadsContend() throws InterruptedException {
        final int threads = 4, rounds = 500, work = 5_000;
        final long[] counter = {0}, locked = {0}, contended = {0}, monitorContended = {0};
        final Object monitor = new Object();
        final Thread[] monitorOwner = {null}; // written under the monitor, read racily before it: a hint
        final ReentrantLock lock = new ReentrantLock();
        long preemptions = Nucleus.preemptions(), switches = Nucleus.contextSwitches();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                long sink = 0;
                for (int r = 0; r < rounds; r++) {
                    boolean busy = monitorOwner[0] != null;
                    synchronized (monitor) {
                        monitorOwner[0] = Thread.currentThread();
                        if (busy) {
                            monitorContended[0]++;
                        }
                        long c = counter[0];
                        for (int w = 0; w < work; w++) {
                            sink += w ^ c; // work while holding the monitor
                        }
                        counter[0] = c + 1; // lost if another thread got in between
                        monitorOwner[0] = null;
                    }
                    if (!lock.tryLock()) {
                        lock.lock();
                        contended[0]++; // counted under the lock
                    }
                    try {
                        long c = locked[0];
                        for (int w = 0; w < work; w++) {
                            sink += w ^ c;
                        }
                        locked[0] = c + 1;
                    } finally {
                        lock.unlock();
                    }
                }
                if (sink == 42) {
                    System.out.print(""); // keeps the work from being optimized away
                }
            }, "contender-" + i);
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) {
            t.join();
        }
        long p = Nucleus.preemptions() - preemptions, s = Nucleus.contextSwitches() - switches;
        check(counter[0] == (long) threads * rounds, "synchronized counter " + counter[0] + ", expected " + threads * rounds);
        check(locked[0] == (long) threads * rounds, "ReentrantLock counter " + locked[0] + ", expected " + threads * rounds);
        check(p > 0, "no thread was preempted");
        check(contended[0] + monitorContended[0] > 0, "no thread ever found the monitor or the ReentrantLock held");
        return threads + " threads x " + rounds + " rounds holding a monitor and a ReentrantLock; " + p + " preemptions, "
                + monitorContended[0] + " + " + contended[0] + " contended acquisitions, " + s + " context switches";
    }

    private String waitNotify() throws InterruptedException {
        final int items = 5_000;
        final long[] buffer = new long[8];
        final int[] state = {0, 0}; // count, next read index
        final long[] sum = {0};
        Thread consumer = new Thread(() -> {
            try {
                for (int i = 0; i < items; i++) {
                    synchronized (buffer) {
                        while (state[0] == 0) {
                            buffer.wait();
                        }
                        sum[0] += buffer[state[1]];
                        state[1] = (state[1] + 1) % buffer.length;
                        state[0]--;
                        buffer.notifyAll();
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "consumer");
        consumer.start();
        for (int i = 1; i <= items; i++) {
            synchronized (buffer) {
                while (state[0] == buffer.length) {
                    buffer.wait();
                }
                buffer[(state[1] + state[0]) % buffer.length] = i;
                state[0]++;
                buffer.notifyAll();
            }
        }
        consumer.join();
        long expected = (long) items * (items + 1) / 2;
        check(sum[0] == expected, "consumer summed " + sum[0] + ", expected " + expected);
        return items + " items through an 8-slot buffer with wait/notifyAll, sum " + sum[0];
    }

    private String sleep() throws InterruptedException {
        long t0 = System.nanoTime();
        Thread.sleep(20);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        check(ms >= 20 && ms < 500, "Thread.sleep(20) took " + ms + " ms");
        long w0 = System.nanoTime();
        Object o = new Object();
        synchronized (o) {
            o.wait(15);
        }
        long wms = (System.nanoTime() - w0) / 1_000_000;
        check(wms >= 15 && wms < 500, "wait(15) took " + wms + " ms");
        return "Thread.sleep(20) took " + ms + " ms, Object.wait(15) timed out after " + wms + " ms";
    }

    private String concurrent() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Long>> results = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                final long n = i;
                results.add(pool.submit(() -> {
                    long s = 0;
                    for (long j = 0; j <= n * 100; j++) {
                        s += j;
                    }
                    return s;
                }));
            }
            long total = 0;
            for (int i = 0; i < results.size(); i++) {
                long n = i * 100L;
                long s = results.get(i).get(10, TimeUnit.SECONDS);
                check(s == n * (n + 1) / 2, "task " + i + " returned " + s);
                total += s;
            }
            ConcurrentHashMap<Integer, AtomicLong> map = new ConcurrentHashMap<>();
            CountDownLatch done = new CountDownLatch(3);
            for (int t = 0; t < 3; t++) {
                pool.execute(() -> {
                    for (int i = 0; i < 3000; i++) {
                        map.computeIfAbsent(i % 16, x -> new AtomicLong()).incrementAndGet();
                    }
                    done.countDown();
                });
            }
            check(done.await(10, TimeUnit.SECONDS), "the latch did not open");
            long sum = map.values().stream().mapToLong(AtomicLong::get).sum();
            check(sum == 9000, "ConcurrentHashMap counted " + sum);
            return "60 futures on a 3-thread pool (total " + total + "), ConcurrentHashMap and CountDownLatch across threads";
        } finally {
            pool.shutdown();
            check(pool.awaitTermination(10, TimeUnit.SECONDS), "the pool did not terminate");
        }
    }

    /**
     * Allocates more than the heap's limit (by a quarter) while keeping a small window live: only
     * a collector whose memory goes back to the frame pool and is mapped again gets through.
     */
    private String gcReusesMemory() {
        long limit = Runtime.getRuntime().maxMemory();
        long chunk = 64 * 1024, total = 0;
        byte[][] window = new byte[8][]; // live across collections, small: each young collection copies it
        int[] index = new int[window.length];
        long peakInUse = 0;
        for (int i = 0; total < limit + limit / 4; i++) {
            byte[] b = new byte[(int) chunk];
            b[i % b.length] = (byte) i;
            window[i % window.length] = b;
            index[i % window.length] = i;
            total += chunk;
            if ((i & 63) == 0) {
                peakInUse = Math.max(peakInUse, Nucleus.framesInUse());
            }
        }
        for (int j = 0; j < window.length; j++) { // the live arrays survived the collections intact
            check(window[j][index[j] % (int) chunk] == (byte) index[j], "live array " + index[j] + " lost its contents");
        }
        long peak = peakInUse * PhysicalMemory.FRAME;
        check(total > limit, "allocated " + total + " bytes, not more than the heap limit " + limit);
        long ram = k.memory.frames.totalFrames() * PhysicalMemory.FRAME;
        check(peak < ram, "the heap's frames grew to " + (peak >> 20) + " MiB of " + (ram >> 20) + " MiB");
        return (total >> 20) + " MiB allocated under a " + (limit >> 20) + " MiB heap limit; frames mapped for the heap peaked at "
                + (peak >> 20) + " MiB";
    }
}
