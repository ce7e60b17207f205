package isola.nativeimage.build;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The command-line options both image builds take (NativeBuild, BareMetalBuild): a picocli mixin. */
final class BuildFlags {
    @Option(names = "--project", paramLabel = "DIR", description = "the Isola checkout (default: ${DEFAULT-VALUE})",
            defaultValue = ".")
    Path project;

    @Option(names = "--force", description = "build even if no input changed")
    boolean force;

    @Option(names = "--relink", description = "skip the builder: link the object the last build wrote again (for work on the C)")
    boolean relink;

    @Option(names = "--timeout", paramLabel = "MINUTES", description = "give up on the builder after this long (default: ${DEFAULT-VALUE})",
            defaultValue = "30")
    long timeoutMinutes;
}
