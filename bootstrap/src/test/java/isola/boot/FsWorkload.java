package isola.boot;

import isola.boot.image.DefaultImage;
import isola.kernel.Domain;
import isola.sdk.Fs;
import isola.device.HostDisk;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A deterministic random workload on the file system: given the seed, step {@code i} is the
 * same operation every time, so a run killed after its step {@code n} was acknowledged can be
 * replayed into a model up to {@code n}. {@link #main} runs it against a booted Isola on an
 * image and prints {@code ACK n} after each sync that returned: what the process acknowledged.
 */
public final class FsWorkload {
    private FsWorkload() {}

    static final List<String> DIRS = List.of("/", "/a", "/b");

    static String path(Random r) {
        String d = DIRS.get(r.nextInt(DIRS.size()));
        return (d.equals("/") ? "" : d) + "/f" + r.nextInt(25);
    }

    /**
     * Step {@code i}: applies one operation to {@code model} and, if {@code fs} is not null, to
     * the file system; paths it changes go into {@code touched}. Returns true if the step is a sync.
     */
    static boolean step(int i, Random r, Map<String, byte[]> model, Set<String> touched, Fs.Client fs) {
        int op = r.nextInt(20);
        if (op == 0) {
            if (fs != null) {
                fs.sync();
            }
            return true;
        }
        String p = path(r);
        if (op < 12) {
            byte[] data = new byte[r.nextInt(4) == 0 ? r.nextInt(200_000) : r.nextInt(6000)];
            r.nextBytes(data);
            if (fs != null) {
                long h = fs.open(p, Fs.CREATE | Fs.TRUNCATE_FLAG, 0644);
                fs.write(h, 0, data, 0, data.length);
            }
            model.put(p, data);
            touched.add(p);
        } else if (op < 15) {
            if (model.containsKey(p)) {
                if (fs != null) {
                    fs.unlink(p);
                }
                model.remove(p);
                touched.add(p);
            }
        } else {
            String to = path(r);
            if (model.containsKey(p)) {
                if (fs != null) {
                    fs.rename(p, to);
                }
                if (!p.equals(to)) {
                    model.put(to, model.remove(p));
                }
                touched.add(p);
                touched.add(to);
            }
        }
        return false;
    }

    /** {@code FsWorkload IMAGE SEED}: boots on IMAGE and runs the workload until killed. */
    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long seed = Long.parseLong(args[1]);
        Path bootImage = Files.createTempFile("isola-workload", ".img");
        DefaultImage.build(bootImage, DefaultImage.defaultManifest());
        PipedOutputStream keepOpen = new PipedOutputStream();
        Boot boot = Boot.start(bootImage, HostDisk.open(image, false), new PipedInputStream(keepOpen),
                new PrintStream(new ByteArrayOutputStream()), false).awaitBooted();
        Domain client = boot.machine().kernel().createDomain("workload", 64, 16);
        boot.machine().kernel().setFrameQuota(client, 4096);
        Fs.Client fs = isola.boot.fuse.FsClients.newClient(boot, client, 0, "workload");
        for (String d : DIRS) {
            if (!d.equals("/")) {
                fs.mkdir(d, 0755);
            }
        }
        fs.sync();
        System.out.println("READY");
        System.out.flush();
        Random r = new Random(seed);
        Map<String, byte[]> model = new java.util.HashMap<>();
        Set<String> touched = new java.util.HashSet<>();
        for (int i = 0; ; i++) {
            if (step(i, r, model, touched, fs)) {
                System.out.println("ACK " + i);
                System.out.flush();
            }
        }
    }

    /**
     * The model after steps 0..{@code last} (a sync the process acknowledged), and into
     * {@code touchedAfter} what the steps after it may have changed before the process died: up
     * to the second sync after it (the process printed no acknowledgement for the first, so it
     * cannot have gone past the second).
     */
    static Map<String, byte[]> replay(long seed, int last, Set<String> touchedAfter) {
        Random r = new Random(seed);
        Map<String, byte[]> model = new java.util.HashMap<>();
        Set<String> before = new java.util.HashSet<>();
        Map<String, byte[]> acked = null;
        int syncsAfter = 0;
        for (int i = 0; syncsAfter < 2; i++) {
            boolean sync = step(i, r, model, i <= last ? before : touchedAfter, null);
            if (i == last) {
                acked = new java.util.HashMap<>(model);
            } else if (i > last && sync) {
                syncsAfter++;
            }
        }
        return acked;
    }

}
