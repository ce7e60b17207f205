package isola.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The JVM-start baseline of {@code ./isola bench boot}: prints the shell's prompt at once, then,
 * like the shell, skips lines until {@code shutdown} (exit 0) or the end of input (exit 1). No
 * Isola class is loaded, so starting it costs what starting any JVM costs.
 */
public final class PromptMain {
    private PromptMain() {}

    public static void main(String[] args) throws IOException {
        System.out.print(PromptedProcess.PROMPT);
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            if (line.strip().equals("shutdown")) {
                System.exit(0);
            }
        }
        System.exit(1);
    }
}
