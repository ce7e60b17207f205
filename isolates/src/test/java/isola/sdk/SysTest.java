package isola.sdk;

import static org.junit.jupiter.api.Assertions.*;

import isola.kernel.Kernel;
import isola.kernel.KernelConfig;
import isola.kernel.Tcb;
import isola.kernel.Utcb;
import isola.kernel.machine.ConcurrentMachine;
import isola.kernel.machine.HostedMachine;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The SDK's view of a thread's registers: in place, and only the registers. */
class SysTest {
    ConcurrentMachine machine;
    Sys sys;
    Tcb tcb;

    @BeforeEach
    void boot() {
        machine = HostedMachine.concurrent(KernelConfig.DEFAULT);
        Kernel k = machine.kernel();
        tcb = k.createThread(k.createDomain("d", 8, 8), "t", 10);
        machine.attach(tcb);
        sys = Sys.of(k, tcb);
    }

    @AfterEach
    void stop() {
        machine.close();
    }

    @Test
    void registersAreReadAndWrittenInPlace() {
        sys.mr(0, 42).mr(63, -7);
        assertEquals(42, Utcb.mr(tcb.utcb(), 0));
        assertEquals(-7, Utcb.mr(tcb.utcb(), 63));
        Utcb.setMr(tcb.utcb(), 5, 99);
        assertEquals(99, sys.mr(5));
    }

    /** Indexes outside the registers would reach the kernel's words (wake word, tag, status). */
    @Test
    void registerIndexOutsideTheRegistersIsRejectedAndChangesNothing() {
        long wake = Utcb.wakeWord(tcb.utcb());
        for (int bad : new int[] {-1, -4, 64, 67, Integer.MIN_VALUE}) {
            IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> sys.mr(bad, 1));
            assertTrue(e.getMessage().contains(Integer.toString(bad)), e.getMessage());
            assertThrows(IndexOutOfBoundsException.class, () -> sys.mr(bad));
        }
        assertThrows(IndexOutOfBoundsException.class, () -> sys.capSlot(3, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> sys.capSlot(-1));
        assertEquals(wake, Utcb.wakeWord(tcb.utcb()), "the wake word was not touched");
    }

    @Test
    void textIsCutToFitWithoutSplittingCharacters() {
        assertEquals(3, Sys.fit("abcdef", 0, 3));
        assertEquals(6, Sys.fit("abcdef", 2, 100));
        assertEquals(1, Sys.fit("a\u00e9b", 0, 2), "é takes two bytes");
        assertEquals(1, Sys.fit("a\uD83D\uDE00", 0, 4), "a surrogate pair (4 bytes) is never split");
        assertEquals(3, Sys.fit("a\uD83D\uDE00", 0, 5));
        String s = "x".repeat(40) + "\u00e9".repeat(400);
        int end = Sys.fit(s, 0, Sys.maxStringBytes(0));
        assertDoesNotThrow(() -> sys.putString(0, s.substring(0, end)), "what fit() keeps fits the registers");
        assertThrows(IsolaException.class, () -> sys.putString(0, s.substring(0, end + 1)));
    }
}
