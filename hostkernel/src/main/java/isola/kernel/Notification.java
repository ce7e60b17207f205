package isola.kernel;

/** An asynchronous notification: a word of pending signal bits and a queue of waiters. */
public final class Notification extends KernelObject {
    long word;
    final TcbQueue waiters = new TcbQueue();

    Notification(int id) {
        super(ObjectType.NOTIFICATION, id);
    }

    public long pending() {
        return word;
    }
}
