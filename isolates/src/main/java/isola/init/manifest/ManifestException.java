package isola.init.manifest;

/**
 * A boot manifest that cannot be used, with the place and the reason.
 *
 * <p>The message has the compiler-style form {@code FILE:LINE: problem} so that an editor or a
 * person reading the boot log can jump straight to the offending line. Line numbers start at 1;
 * problems that concern the whole file (an empty manifest) are reported at line 1.
 */
public final class ManifestException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String fileName;
    private final int line;
    private final String problem;

    /**
     * @param fileName the manifest's file name, as given to {@link BootManifest#parse}
     * @param line the 1-based line the problem is reported at
     * @param problem what is wrong, naming the offending input
     */
    public ManifestException(String fileName, int line, String problem) {
        super(fileName + ":" + line + ": " + problem);
        this.fileName = fileName;
        this.line = line;
        this.problem = problem;
    }

    /** The manifest's file name. */
    public String fileName() {
        return fileName;
    }

    /** The 1-based line the problem is reported at. */
    public int line() {
        return line;
    }

    /** What is wrong, without the {@code FILE:LINE: } prefix. */
    public String problem() {
        return problem;
    }
}
