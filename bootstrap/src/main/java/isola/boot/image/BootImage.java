package isola.boot.image;

import isola.kernel.initrd.Initrd;
import isola.sdk.Console;
import isola.sdk.Proc;
import isola.init.manifest.BootManifest;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * What makes a boot image bootable, checked in one place: a cpio {@code newc} archive the
 * kernel's reader accepts, holding {@link #MANIFEST}, a manifest that parses and checks against
 * the archive's files (every jar it names is one of them) and the system's built-in services.
 * Boot checks an image with it before starting anything; the initrd command checks the image it
 * is about to write with it, so it writes no image that boot would refuse.
 */
public final class BootImage {
    private BootImage() {}

    /** The manifest's path inside the image (the kernel's name for it, which bare metal reads too). */
    public static final String MANIFEST = Initrd.MANIFEST;

    /** Services and devices the system itself provides: a manifest may grant them with no server providing them. */
    public static final Set<String> BUILTIN_SERVICES = Set.of(Proc.PROC, Proc.SUPERVISOR, Console.DEVICE, isola.sdk.Blk.DISK);

    /** A checked image: the archive and its manifest. */
    public record Checked(Initrd initrd, BootManifest manifest) {}

    /**
     * Reads and checks the image {@code bytes}; {@code name} names it in errors (the manifest's
     * errors are {@code NAME:boot.manifest:LINE: problem}).
     *
     * @throws isola.kernel.initrd.InitrdException if the archive is malformed or has no manifest
     * @throws isola.init.manifest.ManifestException at the manifest's first problem
     */
    public static Checked check(String name, byte[] bytes) {
        Initrd initrd = Initrd.parse(name, bytes);
        Set<String> files = new LinkedHashSet<>();
        initrd.entries().forEach(e -> {
            if (e.isFile()) {
                files.add(e.path());
            }
        });
        String text = new String(initrd.read(MANIFEST), StandardCharsets.UTF_8);
        return new Checked(initrd, BootManifest.parse(manifestName(name), text, files, BUILTIN_SERVICES));
    }

    /** How errors name the manifest of the image {@code name}. */
    public static String manifestName(String image) {
        return image + ":" + MANIFEST;
    }
}
