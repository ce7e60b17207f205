package isola.baremetal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The IDT gate and PIT divisor encodings (Intel SDM Vol. 3A 6.14.1; 8254 data sheet). */
class MachineEncodingTest {
    @Test
    void anInterruptGateSplitsTheHandlerAddress() {
        long handler = 0x0000_1234_5678_9ABCL;
        long low = Idt.gateLow(handler, 1);
        assertEquals(0x9ABC, low & 0xFFFF, "offset 15..0");
        assertEquals(0x08, (low >>> 16) & 0xFFFF, "kernel code selector");
        assertEquals(1, (low >>> 32) & 7, "IST");
        assertEquals(0x8E, (low >>> 40) & 0xFF, "present 64-bit interrupt gate, DPL 0");
        assertEquals(0x5678, (low >>> 48) & 0xFFFF, "offset 31..16");
        assertEquals(0x1234, Idt.gateHigh(handler), "offset 63..32");
    }

    @Test
    void onlyTheFaultsWhoseStackMayBeBadUseTheIst() {
        for (int v = 0; v < Idt.VECTORS; v++) {
            assertEquals(v == 2 || v == 8 || v == 18 ? 1 : 0, Idt.ist(v), "vector " + v);
        }
    }

    @Test
    void pitDivisors() {
        assertEquals(1193, Pit.divisor(1000));
        assertEquals(11932, Pit.divisor(100));
        assertThrows(IllegalArgumentException.class, () -> Pit.divisor(10), "below 19 Hz the divisor overflows 16 bits");
        assertThrows(IllegalArgumentException.class, () -> Pit.divisor(0));
    }
}
