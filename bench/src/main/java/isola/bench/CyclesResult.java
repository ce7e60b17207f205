package isola.bench;

import java.util.Collection;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.Aggregator;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.ResultRole;
import org.openjdk.jmh.util.ListStatistics;
import org.openjdk.jmh.util.Statistics;

/**
 * A primary JMH result counted in TSC cycles per operation (the bare-metal kernel's unit), not
 * time: JMH's own ScalarResult is always secondary, and its time results always print a time
 * unit. Iterations and threads aggregate by averaging, as average-time results do.
 */
final class CyclesResult extends Result<CyclesResult> {
    static final String UNIT = "cycles/op";

    CyclesResult(String label, double cyclesPerOp) {
        this(label, of(cyclesPerOp));
    }

    private CyclesResult(String label, Statistics s) {
        super(ResultRole.PRIMARY, label, s, UNIT, AggregationPolicy.AVG);
    }

    @Override
    protected Aggregator<CyclesResult> getThreadAggregator() {
        return CyclesResult::average;
    }

    @Override
    protected Aggregator<CyclesResult> getIterationAggregator() {
        return CyclesResult::average;
    }

    private static CyclesResult average(Collection<CyclesResult> results) {
        ListStatistics s = new ListStatistics();
        String label = null;
        for (CyclesResult r : results) {
            s.addValue(r.getScore());
            label = r.getLabel();
        }
        return new CyclesResult(label, s);
    }
}
