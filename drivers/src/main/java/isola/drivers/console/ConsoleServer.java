package isola.drivers.console;

import isola.kernel.Status;
import isola.kernel.Tag;
import isola.sdk.Console;
import isola.sdk.Replies;
import isola.sdk.Server;
import isola.sdk.ServerContext;
import isola.sdk.Sys;

/**
 * The console driver: the {@code console} service over the machine's console device, which it
 * reaches only through the capability the manifest grants it ({@code grants = tty}). The device
 * is the terminal with its line discipline, as a tty is on Unix: it holds the lines typed (and
 * whether the reader has them), the line editor, history and completions, and it outlives the
 * driver. So the driver keeps no state of its own, and a crash of it loses nothing: a reader
 * whose read it interrupted asks the next incarnation for the same line and gets it.
 *
 * <p>The driver checks each request and passes it to the device, which speaks the same
 * protocol ({@link Console}); a read the device let go ({@link Console#AGAIN}) is asked again.
 * Two threads, so output from other servers is not held up by a pending read.
 */
public final class ConsoleServer implements Server {
    private int device;

    @Override
    public void start(ServerContext ctx) {
        device = ctx.service(Console.DEVICE);
        ctx.serveActive(ctx.endpoint("console"), this::handle, 2, 150);
    }

    private long handle(Sys sys) {
        int label = sys.label();
        String problem = switch (label) {
            case Console.WRITE -> sys.string(0) == null ? "console write: no text in MR0.." : null;
            case Console.COMPLETE -> sys.string(0) == null || sys.string(0).isBlank() ? "console completion: no word" : null;
            case Console.READ_LINE -> sys.length() < 3 || sys.mr(0) < 0 || sys.mr(1) < 0 || sys.string(2) == null
                    ? "console read: expected MR0 a line number, MR1 an offset, MR2.. a prompt" : null;
            case Console.NEXT_LINE -> null;
            case Console.TAKE_LINE -> sys.length() < 1 || sys.mr(0) < 0 ? "console take: expected MR0 a line number" : null;
            default -> "console: unknown request " + label;
        };
        if (problem != null) {
            return Replies.error(sys, Status.E_INVALID_ARG, problem);
        }
        return forward(sys, label, sys.length());
    }

    /** The request in the registers, to the device; its reply is left in them for the client. */
    private long forward(Sys sys, int label, int length) {
        long[] request = new long[length];
        for (int i = 0; i < length; i++) {
            request[i] = sys.mr(i);
        }
        for (;;) {
            int st = sys.call(device, Tag.of(label, length), Sys.FOREVER);
            if (st != Status.OK) {
                return Replies.error(sys, st, sys.describe(st, "console: the console device"));
            }
            if (sys.label() != Console.AGAIN) {
                return Tag.of(sys.label(), sys.length());
            }
            for (int i = 0; i < length; i++) {
                sys.mr(i, request[i]);
            }
        }
    }
}
