package isola.tier.vm;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.Domain;
import isola.kernel.Endpoint;
import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Rights;
import isola.kernel.Status;
import isola.kernel.Tcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import isola.sdk.IsolaException;
import isola.sdk.Server;
import isola.sdk.Sys;
import isola.testservers.active.ActiveEchoServer;
import isola.testservers.ahead.AheadServer;
import isola.testservers.badctor.BadConstructorServer;
import isola.testservers.device.DeviceGrabberServer;
import isola.testservers.echo.EchoServer;
import isola.testservers.peeker.PeekerServer;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Servers as jars, each in a domain with its own class loader, called across the boundary. */
class VmTierTest {
    @TempDir
    Path dir;
    ConcurrentMachine machine;
    Kernel kernel;
    VmTier tier;
    Domain clientDomain;
    Sys client;
    int nextClientSlot = 0;

    @BeforeEach
    void boot() {
        machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
        kernel = machine.kernel();
        tier = new VmTier(machine);
        clientDomain = kernel.createDomain("client", 32, 32);
        Tcb t = kernel.createThread(clientDomain, "test", 50);
        machine.attach(t);
        client = Sys.of(kernel, t);
    }

    @AfterEach
    void stop() {
        machine.close();
    }

    /** A started server: its domain, its service endpoint, and the client's slot for it. */
    record Started(VmTier.VmDomain vd, Endpoint ep, int clientSlot) {}

    Started start(Class<? extends Server> server, String name, long badge, Endpoint faults) throws Exception {
        Path jar = ServerJars.pack(server, dir.resolve(name + ".jar"));
        VmTier.VmDomain vd = tier.load(name, jar, 16, 16);
        Endpoint ep = kernel.createEndpoint(vd.domain());
        kernel.installCap(vd.domain(), 0, ep, Rights.ALL, 0);
        int slot = nextClientSlot++;
        kernel.grantCap(vd.domain(), 0, clientDomain, slot, Rights.SEND, badge);
        if (faults != null) {
            kernel.setFaultEndpoint(vd.domain(), faults, 1000 + vd.domain().id());
        }
        tier.start(vd, 100);
        return new Started(vd, ep, slot);
    }

    /** A passive server serves once its start method has bound its handler. */
    static void awaitPassive(Endpoint ep) throws InterruptedException {
        eventually(ep::isPassive, "server never bound its endpoint");
    }

    /**
     * Waits for something other threads bring about. The 30 s bound only keeps a broken kernel
     * from hanging the build; it asserts nothing about speed.
     */
    static void eventually(java.util.function.BooleanSupplier condition, String failure)
            throws InterruptedException {
        long hangGuard = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > hangGuard) {
                fail(failure);
            }
            Thread.sleep(1);
        }
    }

    @Test
    void passiveCallRunsTheServersHandlerAcrossTheDomainBoundary() throws Exception {
        Started s = start(EchoServer.class, "echo", 77, null);
        awaitPassive(s.ep());
        for (int i = 0; i < 1000; i++) {
            client.mr(0, i);
            assertEquals(Status.OK, client.call(s.clientSlot(), EchoServer.ECHO, 1));
            assertEquals(i + 1, client.mr(0));
            assertEquals(77, client.mr(1), "the handler sees the badge of the client's capability");
            assertEquals(2, client.length());
        }
        assertEquals("client", client.domainName(), "the caller is back in its own domain");
    }

    @Test
    void eachDomainHasItsOwnClassesAndStaticState() throws Exception {
        Started a = start(EchoServer.class, "echo-a", 1, null);
        Started b = start(EchoServer.class, "echo-b", 2, null);
        awaitPassive(a.ep());
        awaitPassive(b.ep());
        for (int i = 0; i < 3; i++) {
            client.call(a.clientSlot(), EchoServer.COUNT, 0);
        }
        assertEquals(2, client.mr(0));
        client.call(b.clientSlot(), EchoServer.COUNT, 0);
        assertEquals(0, client.mr(0), "domain b's counter is its own");
        assertNotSame(a.vd().classLoader(), b.vd().classLoader());
        Class<?> ca = a.vd().classLoader().loadClass(EchoServer.class.getName());
        Class<?> cb = b.vd().classLoader().loadClass(EchoServer.class.getName());
        assertNotSame(ca, cb);
        assertNotSame(EchoServer.class, ca, "the host's copy is not the domain's");
        assertSame(Sys.class, a.vd().classLoader().loadClass(Sys.class.getName()), "the SDK is shared");
    }

    @Test
    void aServerSeesTheSdkAndTheAbiButNotTheKernelOrTheHost() throws Exception {
        Started s = start(PeekerServer.class, "peeker", 0, null);
        awaitPassive(s.ep());
        assertEquals(Status.OK, client.call(s.clientSlot(), 0, 0));
        assertEquals(0, client.mr(0), "isola.kernel.Kernel must not be visible");
        assertEquals(1, client.mr(1), "isola.kernel.Status is ABI");
        assertEquals(0, client.mr(2), "host test classes must not be visible");
    }

    @Test
    void aServerReachesTheDiskOnlyThroughItsGrant() throws Exception {
        Started ungranted = start(DeviceGrabberServer.class, "grabber", 0, null);
        awaitPassive(ungranted.ep());
        assertEquals(Status.OK, client.call(ungranted.clientSlot(), 0, 0));
        assertEquals(1, client.mr(0), "the host's device class must not load in a server domain");
        assertEquals(Status.OK, client.call(ungranted.clientSlot(), 1, 0));
        assertEquals(-1, client.mr(0), "a server not granted disk0 must not get it");
        assertTrue(client.string(1).contains("was not granted the device 'disk0'"), client.string(1));

        Path image = dir.resolve("disk.img");
        Files.write(image, new byte[8 * isola.sdk.BlockDevice.BLOCK_SIZE]);
        try (isola.device.HostDisk disk = isola.device.HostDisk.open(image, false)) {
            VmTier.VmDomain vd = tier.load("driver", ServerJars.pack(DeviceGrabberServer.class, dir.resolve("driver.jar")), 16, 16);
            Endpoint ep = kernel.createEndpoint(vd.domain());
            kernel.installCap(vd.domain(), 0, ep, Rights.ALL, 0);
            int slot = nextClientSlot++;
            kernel.grantCap(vd.domain(), 0, clientDomain, slot, Rights.SEND, 0);
            tier.start(vd, 100, new isola.tier.IsolationTier.StartInfo(java.util.Map.of(), java.util.Map.of(),
                    java.util.Map.of(isola.sdk.Blk.DISK, disk), isola.sdk.Kept.NONE, -1));
            awaitPassive(ep);
            assertEquals(Status.OK, client.call(slot, 1, 0));
            assertEquals(8, client.mr(0), "the granted driver reads the disk's size through its grant");
            assertEquals(Status.OK, client.call(slot, 0, 0));
            assertEquals(1, client.mr(0), "a grant does not make the device class visible");
        }
    }

    @Test
    void activeServerAnswersCallsOnItsOwnThread() throws Exception {
        Started s = start(ActiveEchoServer.class, "active", 5, null);
        for (int i = 0; i < 10_000; i++) {
            client.mr(0, i);
            assertEquals(Status.OK, client.call(s.clientSlot(), 1, 1));
            assertEquals(i + 1, client.mr(0));
        }
    }

    /** A supervisor thread in its own domain receiving fault messages and answering them. */
    final class Supervisor {
        final Endpoint faults;
        final BlockingQueue<long[]> received = new ArrayBlockingQueue<>(16);

        Supervisor(int replyLabel) {
            Domain d = kernel.createDomain("supervisor", 8, 8);
            faults = kernel.createEndpoint(d);
            kernel.installCap(d, 0, faults, Rights.ALL, 0);
            Tcb t = kernel.createThread(d, "supervisor", 200);
            Sys sys = Sys.of(kernel, t);
            machine.spawn(t, () -> {
                long reply = 0;
                for (;;) {
                    int st = sys.replyRecv(0, reply);
                    if (st != Status.OK) {
                        return;
                    }
                    received.add(new long[] {sys.label(), sys.mr(0), sys.mr(1), sys.mr(2), sys.badge()});
                    reply = Sys.tag(replyLabel, 0);
                }
            });
        }
    }

    @Test
    void aCrashingPassiveHandlerFailsOnlyThatCallAndTellsTheFaultEndpoint() throws Exception {
        Supervisor sup = new Supervisor(Domain.FAULT_KILL);
        Started bad = start(EchoServer.class, "fragile", 0, sup.faults);
        Started good = start(EchoServer.class, "sturdy", 0, null);
        awaitPassive(bad.ep());
        awaitPassive(good.ep());

        int st = client.call(bad.clientSlot(), EchoServer.CRASH, 0);
        assertEquals(Status.E_SERVER_FAULT, st);
        assertTrue(client.describe(st, "call").contains("slot " + bad.clientSlot()), client.describe(st, "call"));
        long[] fault = sup.received.poll(30, TimeUnit.SECONDS);
        assertNotNull(fault, "the fault endpoint got no message");
        assertEquals(Domain.FAULT_LABEL, fault[0]);
        assertEquals(Domain.FAULT_HANDLER, fault[1]);
        assertEquals(bad.vd().domain().id(), fault[3]);
        assertEquals(1000 + bad.vd().domain().id(), fault[4], "badge of the fault capability");
        assertInstanceOf(IllegalStateException.class, bad.vd().domain().lastFault());

        // The supervisor answered KILL: the domain is dead, calls say so; the other server works.
        eventually(() -> bad.vd().domain().state() == Domain.DEAD, "the KILL reply did not kill the domain");
        assertEquals(Status.E_DEAD_DOMAIN, client.call(bad.clientSlot(), EchoServer.ECHO, 1));
        IsolaException e = assertThrows(IsolaException.class,
                () -> client.check(client.call(bad.clientSlot(), EchoServer.ECHO, 1), "call fragile"));
        assertTrue(e.getMessage().contains("E_DEAD_DOMAIN"), e.getMessage());
        client.mr(0, 41);
        assertEquals(Status.OK, client.call(good.clientSlot(), EchoServer.ECHO, 1));
        assertEquals(42, client.mr(0));
    }

    @Test
    void aFaultedPassiveServerRefusesCallsUntilResumed() throws Exception {
        Started s = start(EchoServer.class, "echo", 0, null);
        awaitPassive(s.ep());
        assertEquals(Status.E_SERVER_FAULT, client.call(s.clientSlot(), EchoServer.CRASH, 0));
        assertEquals(Domain.FAULTED, s.vd().domain().state());
        assertEquals(Status.E_DEAD_DOMAIN, client.call(s.clientSlot(), EchoServer.ECHO, 1));
        kernel.resumeDomain(s.vd().domain());
        client.mr(0, 1);
        assertEquals(Status.OK, client.call(s.clientSlot(), EchoServer.ECHO, 1));
        assertEquals(2, client.mr(0));
    }

    @Test
    void aCrashingActiveServerThreadFaultsAndIsRestartedOnResume() throws Exception {
        Supervisor sup = new Supervisor(Domain.FAULT_RESUME);
        Started s = start(ActiveEchoServer.class, "active", 0, sup.faults);
        client.mr(0, 1);
        assertEquals(Status.OK, client.call(s.clientSlot(), 1, 1));
        assertEquals(Status.E_SERVER_FAULT, client.call(s.clientSlot(), 2, 0));
        long[] fault = sup.received.poll(30, TimeUnit.SECONDS);
        assertNotNull(fault);
        assertEquals(Domain.FAULT_THREAD, fault[1]);
        // Resumed: the faulted worker runs its loop again and serves. Until the supervisor's
        // resume lands, calls get E_RESTARTED, which callRetrying retries.
        client.mr(0, 10);
        assertEquals(Status.OK, client.callRetrying(s.clientSlot(), isola.kernel.Tag.of(1, 1), Sys.RESTART_ATTEMPTS));
        assertEquals(11, client.mr(0));
    }

    @Test
    void badJarsAreRefusedWithTheJarNamedAndNothingCreated() throws Exception {
        int before = kernel.domainsInUse();
        Path missing = dir.resolve("missing.jar");
        var e1 = assertThrows(VmTier.VmTierException.class, () -> tier.load("x", missing, 8, 8));
        assertTrue(e1.getMessage().contains(missing.toString()) && e1.getMessage().contains("no such"), e1.getMessage());

        Path notJar = Files.writeString(dir.resolve("text.jar"), "not a jar");
        var e2 = assertThrows(VmTier.VmTierException.class, () -> tier.load("x", notJar, 8, 8));
        assertTrue(e2.getMessage().contains(notJar.toString()), e2.getMessage());

        Path noAttr = jar("noattr.jar", null);
        var e3 = assertThrows(VmTier.VmTierException.class, () -> tier.load("x", noAttr, 8, 8));
        assertTrue(e3.getMessage().contains("Isola-Server"), e3.getMessage());
        assertEquals(before, kernel.domainsInUse(), "no domain is created for a bad jar");

        // A class that is missing, or not a Server, is found when the domain starts: the start
        // is a fault of the domain's first thread, contained like any other.
        Path wrong = jar("wrong.jar", "isola.testservers.notserver.NotAServer");
        VmTier.VmDomain vd = tier.load("wrong", wrong, 8, 8);
        tier.start(vd, 10);
        eventually(() -> vd.domain().state() == Domain.FAULTED, "start of a non-server did not fault");
        assertTrue(vd.domain().lastFault().getMessage().contains("does not implement"),
                vd.domain().lastFault().getMessage());
    }

    @Test
    void checkServerJarAcceptsAServerAndNamesTheJarAndProblemOfEachBadOneWithoutRunningIt() throws Exception {
        int before = kernel.domainsInUse();
        Path good = ServerJars.pack(EchoServer.class, dir.resolve("check-echo.jar"));
        assertEquals(EchoServer.class.getName(), VmTier.checkServerJar(good));
        Path throwing = ServerJars.pack(BadConstructorServer.class, dir.resolve("check-badctor.jar"));
        assertEquals(BadConstructorServer.class.getName(), VmTier.checkServerJar(throwing), "no server code runs in a check");

        Path missing = dir.resolve("check-missing.jar");
        Path notJar = Files.writeString(dir.resolve("check-text.jar"), "not a jar");
        Path noAttr = jar("check-noattr.jar", null);
        Path absent = jar("check-absent.jar", null); // a manifest naming a class the jar does not hold:
        try (OutputStream o = Files.newOutputStream(absent); JarOutputStream j = new JarOutputStream(o, manifestNaming("x.NoSuch"))) {
            j.putNextEntry(new java.util.jar.JarEntry("x/Other.class"));
            j.closeEntry();
        }
        Path notServer = jar("check-wrong.jar", "isola.testservers.notserver.NotAServer");
        Object[][] cases = {
            {missing, "no such server jar"},
            {notJar, "not a readable jar"},
            {noAttr, "manifest has no Isola-Server attribute"},
            {absent, "Isola-Server class x.NoSuch not found"},
            {notServer, "isola.testservers.notserver.NotAServer does not implement isola.sdk.Server"},
        };
        for (Object[] c : cases) {
            Path jar = (Path) c[0];
            var e = assertThrows(VmTier.VmTierException.class, () -> VmTier.checkServerJar(jar), jar.toString());
            assertTrue(e.getMessage().startsWith(jar + ": ") && e.getMessage().contains((String) c[1]), e.getMessage());
        }
        assertEquals(before, kernel.domainsInUse(), "checking creates no domain");
    }

    private static Manifest manifestNaming(String serverClass) {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().put(new Attributes.Name(VmTier.MANIFEST_ATTRIBUTE), serverClass);
        return mf;
    }

    @Test
    void aServerPreparedAheadIsConstructedOnItsMainThreadBeforeItsStart() throws Exception {
        Path jar = ServerJars.pack(AheadServer.class, dir.resolve("ahead.jar"));
        int before = kernel.domainsInUse();
        VmTier.Prepared p = tier.prepareAhead("ahead", jar);
        Class<?> c = Class.forName(AheadServer.class.getName(), false, p.loader());
        assertNotSame(AheadServer.class, c, "the domain has its own copy of the class");
        eventually(() -> {
            try {
                return c.getField("constructed").getBoolean(null);
            } catch (ReflectiveOperationException e) {
                throw new AssertionError(e);
            }
        }, "the prepared server was never constructed");
        assertEquals(before, kernel.domainsInUse(), "preparing creates no domain");

        VmTier.VmDomain vd = tier.load(p, 16, 16);
        Endpoint ep = kernel.createEndpoint(vd.domain());
        kernel.installCap(vd.domain(), 0, ep, Rights.ALL, 0);
        int slot = nextClientSlot++;
        kernel.grantCap(vd.domain(), 0, clientDomain, slot, Rights.SEND, 0);
        tier.start(vd, 100);
        awaitPassive(ep);
        assertEquals(Status.OK, client.call(slot, 1, 0));
        assertEquals(1, client.mr(0), "constructed on the thread that ran start");
    }

    @Test
    void aPreparedServerWhoseConstructorThrowsFaultsAtItsStart() throws Exception {
        Path jar = ServerJars.pack(BadConstructorServer.class, dir.resolve("badctor.jar"));
        VmTier.VmDomain vd = tier.load(tier.prepareAhead("badctor", jar), 8, 8);
        tier.start(vd, 10);
        eventually(() -> vd.domain().state() == Domain.FAULTED, "a failed construction did not fault the start");
        String m = vd.domain().lastFault().getMessage();
        assertTrue(m.contains("cannot instantiate") && m.contains("bad constructor") && m.contains(jar.toString()), m);
    }

    @Test
    void theDemandZeroPagerMapsAClientsPagesOnFirstTouch() throws Exception {
        // the pager's DOMAIN capability to the client in slot 1, which is also the faults' badge
        VmTier.VmDomain pager = startPager(isola.system.pager.PagerServer.class, 256, 64, 1, 1);
        long va = 0x0000_1000_0000_0000L;
        isola.sdk.VirtualMemory mem = client.memory();
        mem.putLong(va + 8, 42);
        assertEquals(42, mem.getLong(va + 8));
        assertEquals(0, mem.getLong(va + 4096 + 16), "a new page reads zero");
        byte[] text = "across a page boundary".getBytes();
        mem.write(va + 8192 - 5, text, 0, text.length);
        byte[] back = new byte[text.length];
        mem.read(va + 8192 - 5, back, 0, back.length);
        assertArrayEquals(text, back);
        assertEquals(0, clientDomain.framesUsed(), "the pager pays");
        assertEquals(3 + 3, pager.domain().framesUsed(), "three tables and three pages");
        // Unmapped by the client and touched again: the same frame comes back, nothing new is used.
        client.check(client.unmap(Sys.SELF, va, Sys.PAGE_4K), "unmap");
        assertEquals(42, mem.getLong(va + 8));
        assertEquals(3 + 3, pager.domain().framesUsed());

        // No pager: an access to an unmapped page fails, naming the address.
        kernel.setPager(clientDomain, null, 0);
        IsolaException e = assertThrows(IsolaException.class, () -> mem.getLong(va + 5 * 4096));
        assertEquals(Status.E_NOT_MAPPED, e.status());
        assertTrue(e.getMessage().contains(Long.toHexString(va + 5 * 4096)), e.getMessage());
        assertEquals(42, mem.getLong(va + 8), "mapped pages stay");
        assertThrows(IllegalArgumentException.class, () -> mem.getLong(va + 3), "unaligned");
    }

    /**
     * A fault is invisible to the faulting thread: a passive pager runs on its thread and shares
     * its message registers, and this one overwrites all of them and replies with 64 words; the
     * message the thread was composing is intact when its access completes.
     */
    @Test
    void aPageFaultLeavesTheMessageBeingComposedAsItWas() throws Exception {
        VmTier.VmDomain pager = startPager(isola.testservers.clobber.ClobberingPager.class, 16, 16,
                isola.testservers.clobber.ClobberingPager.CLIENT, 0);
        for (int i = 0; i < 64; i++) {
            client.mr(i, 7L * i + 1);
        }
        client.capSlot(0, 4).capSlot(1, 5).capSlot(2, 6);
        int label = client.label(), length = client.length();
        long va = 0x0000_1000_0000_0000L;
        client.memory().putLong(va, 42); // faults: the pager maps a page, scribbling over everything
        assertEquals(42, client.memory().getLong(va));
        assertEquals(1, pager.domain().framesUsed() - 3, "the pager mapped one page");
        for (int i = 0; i < 64; i++) {
            assertEquals(7L * i + 1, client.mr(i), "MR" + i);
        }
        assertEquals(4, client.capSlot(0));
        assertEquals(5, client.capSlot(1));
        assertEquals(6, client.capSlot(2));
        assertEquals(label, client.label());
        assertEquals(length, client.length(), "not the pager's 64");
    }

    /**
     * Starts {@code server} as the client domain's pager (serving its endpoint from slot 0, with
     * {@code slots} slots and a quota of {@code frames}), holding a CONTROL capability to the
     * client in {@code clientSlot}; the client's faults carry {@code badge}.
     */
    VmTier.VmDomain startPager(Class<? extends Server> server, int slots, int frames, int clientSlot, long badge) throws Exception {
        Path jar = ServerJars.pack(server, dir.resolve(server.getSimpleName() + ".jar"));
        VmTier.VmDomain pager = tier.load(server.getSimpleName(), jar, slots, 16);
        Endpoint ep = kernel.createEndpoint(pager.domain());
        kernel.installCap(pager.domain(), 0, ep, Rights.ALL, 0);
        kernel.installCap(pager.domain(), clientSlot, clientDomain, Rights.CONTROL, 0);
        kernel.setFrameQuota(pager.domain(), frames);
        kernel.setPager(clientDomain, ep, badge);
        tier.start(pager, 100);
        awaitPassive(ep);
        return pager;
    }

    private Path jar(String name, String serverClass) throws Exception {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (serverClass != null) {
            mf.getMainAttributes().put(new Attributes.Name(VmTier.MANIFEST_ATTRIBUTE), serverClass);
        }
        Path p = dir.resolve(name);
        try (OutputStream o = Files.newOutputStream(p); JarOutputStream j = new JarOutputStream(o, mf)) {
            if (serverClass != null) {
                String entry = serverClass.replace('.', '/') + ".class";
                j.putNextEntry(new java.util.jar.JarEntry(entry));
                try (var in = VmTierTest.class.getClassLoader().getResourceAsStream(entry)) {
                    j.write(in.readAllBytes());
                }
                j.closeEntry();
            }
        }
        return p;
    }
}
