package isola.kernel;

import isola.kernel.machine.Machine;
import java.util.function.Supplier;

/**
 * Runs code under the kernel lock for entries from outside the kernel's threads: the boot
 * interface, the machine's devices, introspection. (System calls take the lock in
 * {@link Scheduling#begin} and release it in {@link Scheduling#end}, where the caller may block.)
 */
final class KernelLock {
    private final Machine machine;

    KernelLock(Machine machine) {
        this.machine = machine;
    }

    void run(Runnable body) {
        machine.enter(null);
        try {
            body.run();
        } finally {
            machine.leave(null);
        }
    }

    <T> T get(Supplier<T> body) {
        machine.enter(null);
        try {
            return body.get();
        } finally {
            machine.leave(null);
        }
    }
}
