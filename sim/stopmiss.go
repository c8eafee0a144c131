package sim

import "github.com/fleettwin/fleettwin/sketch"

// missCertain reports whether a model has rejected a request or is
// certain to miss its SLO at the end of the run, whatever the requests
// still to finish do (Options.StopWhenMissed).
func (s *simulator) missCertain() bool {
	for _, m := range s.models {
		if m.stats.rejected > 0 {
			return true
		}
		if left, ok := m.leftToFinish(); ok && m.stats.missCertain(left) {
			return true
		}
	}
	return false
}

// leftToFinish bounds how many more of m's counted requests can complete
// before the end: those in the system and the arrivals still to come. It
// is known only for a taped stream after warm-up (every arrival to come is
// counted, and the tape holds them all); ok is false otherwise.
func (m *modelState) leftToFinish() (n int64, ok bool) {
	if m.tape == nil {
		return 0, false
	}
	st := m.stats
	inSystem := st.arrived - st.all.completed - st.rejected
	return inSystem + int64(len(m.tape.at)-m.tapeArr), true
}

// missCertain reports whether the model's SLOMet is false at the end of
// the run however its next left requests fare: even if every one of them
// completes within every target, the attainment or a percentile misses.
func (st *modelStats) missCertain(left int64) bool {
	slo := st.spec.SLO
	l := &st.all
	if n := l.completed + left; n > 0 && float64(l.sloMet+left)/float64(n) < slo.Attainment {
		return true // the attainment as result computes it, at its highest
	}
	q := slo.Percentile / 100
	return quantileMissCertain(l.ttft, q, slo.TTFTS, left) ||
		quantileMissCertain(l.tpot, q, slo.TPOTS, left) ||
		quantileMissCertain(l.e2e, q, slo.E2ES, left)
}

// quantileMissCertain reports whether sk's q-quantile stays above limit
// (0: none) after at most left more values, each as low as can be.
// Quantile walks the buckets up to the rank q × count: it answers above
// limit once the weight of the buckets that may hold values at or below
// limit (low) is under the rank. Each value to come adds one to the count
// and at most one to low, so the worst case is all of them low:
// low + left < q × (count + left). One more is required than that, so
// that the float64 rounding of the rank cannot tip it.
func quantileMissCertain(sk *sketch.Sketch, q, limit float64, left int64) bool {
	if limit <= 0 {
		return false
	}
	n := sk.Count()
	low := n - sk.CountAbove(limit)
	f := float64(left)
	return low+f+1 <= q*(n+f)
}
