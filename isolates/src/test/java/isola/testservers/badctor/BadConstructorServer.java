package isola.testservers.badctor;

import isola.sdk.Server;
import isola.sdk.ServerContext;

/** Test server whose constructor throws. */
public final class BadConstructorServer implements Server {
    public BadConstructorServer() {
        throw new IllegalStateException("bad constructor");
    }

    @Override
    public void start(ServerContext context) {
    }
}
