package isola.nativeimage.build;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The command-line options both image builds take (NativeBuild, BareMetalBuild): a picocli mixin. */
public final class BuildFlags {
    @Option(names = "--project", paramLabel = "DIR", description = "the Isola checkout (default: ${DEFAULT-VALUE})",
            defaultValue = ".")
    public Path project;

    @Option(names = "--force", description = "build even if no input changed")
    public boolean force;

    @Option(names = "--check", description = "build nothing: exit 0 if the output is up to date (no input changed), 1 if not; "
            + "the launcher's ISOLA_NO_BUILD=1 uses it")
    public boolean check;

    @Option(names = "--relink", description = "skip the builder: link the object the last build wrote again (for work on the C)")
    public boolean relink;

    @Option(names = "--timeout", paramLabel = "MINUTES", description = "give up on the builder after this long (default: ${DEFAULT-VALUE})",
            defaultValue = "30")
    public long timeoutMinutes;
}
