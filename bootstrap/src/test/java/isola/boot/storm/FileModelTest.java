package isola.boot.storm;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The storm's model of what a file may hold, against what the fs server may legitimately show. */
class FileModelTest {
    @Test
    void aRestartMayRevertAFileToAnyStateTheClocksCommitSawSinceTheLastSync() {
        FileModel m = new FileModel();
        m.wrote("/f", "a\n", true);
        m.synced(true);
        m.wrote("/f", "b\n", true); // the clock may commit "b", or the empty file the open left
        m.wrote("/f", "c\n", true);
        assertTrue(m.mayHold("/f", "c\n"));
        assertTrue(m.mayHold("/f", "b\n"), "committed by the clock, then the server restarted");
        assertTrue(m.mayHold("/f", ""), "truncated by the open, committed by the clock, then the server restarted");
        assertTrue(m.mayHold("/f", "a\n"));
        assertFalse(m.mayHold("/f", "c\nb"), "never a mix");
        m.synced(true);
        assertFalse(m.mayHold("/f", "b\n"), "after a sync, only what it synced");
        assertFalse(m.mayHold("/f", ""));
    }
}
