package isola.nativeimage.build;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The options of {@code native/native-image.options}: lines {@code jvm: OPTION} for the JVM that
 * runs the builder and {@code image: OPTION} for the builder, with {@code ${name}} substituted.
 * Blank lines and lines starting with # are comments; {@code include: FILE} reads another
 * options file (relative to this one) in its place, so the hosted and bare-metal builds share
 * how the builder runs. A malformed line, a missing include or an unknown {@code ${name}} is
 * an error naming the file and line.
 */
record BuildOptions(List<String> jvm, List<String> image) {
    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([a-z.]+)}");

    static BuildOptions read(Path file, Map<String, String> values) throws IOException {
        List<String> jvm = new ArrayList<>(), image = new ArrayList<>();
        parse(file, Files.readAllLines(file), values, jvm, image, 0);
        return new BuildOptions(List.copyOf(jvm), List.copyOf(image));
    }

    static BuildOptions parse(String name, List<String> lines, Map<String, String> values) {
        List<String> jvm = new ArrayList<>(), image = new ArrayList<>();
        parse(Path.of(name), lines, values, jvm, image, 0);
        return new BuildOptions(List.copyOf(jvm), List.copyOf(image));
    }

    private static void parse(Path file, List<String> lines, Map<String, String> values, List<String> jvm,
            List<String> image, int depth) {
        String name = file.toString();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = name + ":" + (i + 1);
            int colon = line.indexOf(':');
            String kind = colon < 0 ? "" : line.substring(0, colon).strip();
            String option = colon < 0 ? "" : line.substring(colon + 1).strip();
            if (option.isEmpty() && !kind.isEmpty()) {
                throw new NativeBuild.BuildException(where + ": \"" + kind + ":\" with no option");
            }
            List<String> to = switch (kind) {
                case "jvm" -> jvm;
                case "image" -> image;
                case "include" -> null;
                default -> throw new NativeBuild.BuildException(where + ": expected \"jvm: OPTION\", \"image: OPTION\" or \"include: FILE\", found \"" + line + "\"");
            };
            if (to != null) {
                to.add(substitute(where, option, values));
                continue;
            }
            Path included = file.resolveSibling(option).normalize();
            if (depth > 8) {
                throw new NativeBuild.BuildException(where + ": includes nest deeper than 8 (a cycle?)");
            }
            try {
                parse(included, Files.readAllLines(included), values, jvm, image, depth + 1);
            } catch (IOException e) {
                throw new NativeBuild.BuildException(where + ": cannot read the included " + included + ": " + e);
            }
        }
    }

    private static String substitute(String where, String option, Map<String, String> values) {
        Matcher m = VARIABLE.matcher(option);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            if (v == null) {
                throw new NativeBuild.BuildException(where + ": unknown variable ${" + m.group(1) + "} (known: "
                        + new java.util.TreeSet<>(values.keySet()) + ")");
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(v));
        }
        m.appendTail(sb);
        return sb.toString();
    }
}
