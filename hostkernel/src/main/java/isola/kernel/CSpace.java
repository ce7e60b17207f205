package isola.kernel;

/** A domain's capability space: a fixed array of slots. */
public final class CSpace {
    final CapSlot[] slots;
    public final Domain domain;

    CSpace(Domain domain, int size) {
        this.domain = domain;
        this.slots = new CapSlot[size];
        for (int i = 0; i < size; i++) {
            slots[i] = new CapSlot(this, i);
        }
    }

    public int size() {
        return slots.length;
    }

    public CapSlot slot(int i) {
        return slots[i];
    }

    /**
     * Slot {@code i}, for the boot interface: outside the space, a KernelException naming
     * {@code op} ("installCap into", say), the domain and the range.
     */
    CapSlot checkedSlot(String op, int i) {
        if (i < 0 || i >= slots.length) {
            throw new KernelException(Status.E_INVALID_SLOT, op + " " + domain.name + ": slot " + i
                    + " is outside 0.." + (slots.length - 1));
        }
        return slots[i];
    }

    /** The capability in slot {@code i}, or null if empty or out of range. */
    public Cap get(int i) {
        return i >= 0 && i < slots.length ? slots[i].cap : null;
    }
}
