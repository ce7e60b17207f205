package isola.kernel;

import isola.kernel.machine.Machine;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The method runs with the kernel lock held ({@link Machine#enter} .. {@link Machine#leave}), and
 * so may change kernel objects freely; its callers must hold it. The key ones check it with
 * {@code assert k.lockHeld()}, which the tests run with assertions on. Methods without it run
 * without the lock: the fast paths, and the entry points that take it.
 */
@Documented
@Retention(RetentionPolicy.CLASS)
@Target({ElementType.METHOD, ElementType.CONSTRUCTOR})
@interface LockHeld {}
