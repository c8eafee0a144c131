package sim

import (
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/sketch"
)

// missCertain reports whether a model has rejected a request or is
// certain to miss its SLO at the end of the run, whatever the requests
// still to finish do (Options.StopWhenMissed).
func (s *simulator) missCertain(now engine.Time) bool {
	var late []lateCount // filled on first need: a walk of the requests in the system
	for _, m := range s.models {
		if m.stats.rejected > 0 {
			return true
		}
		left, ok := m.leftToFinish()
		if !ok {
			continue
		}
		if m.stats.missCertain(left, lateCount{}) {
			return true
		}
		if late == nil {
			// Walk only where it can tell: were every request in the
			// system already late, would the miss be certain? (Each
			// late request makes it more so.)
			all := m.stats.inSystem()
			if !m.stats.missCertain(left, lateCount{all, all, all}) {
				continue
			}
			late = s.lateCounts(now)
		}
		if m.stats.missCertain(left, late[m.idx]) {
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
	return m.stats.inSystem() + int64(len(m.tape.at)-m.tapeArr), true
}

// inSystem counts the model's counted requests neither completed nor
// rejected yet.
func (st *modelStats) inSystem() int64 { return st.arrived - st.all.completed - st.rejected }

// lateCount counts a model's counted requests in the system that can no
// longer finish within a target, whatever happens next: those older than
// the model's TTFT limit with no first token yet, older than its E2E
// limit, and older than their own class's TTFT (before a first token) or
// E2E targets, which can no longer meet the SLO.
type lateCount struct {
	ttft, e2e, missed int64
}

// lateCounts walks the requests in the system once for every model.
func (s *simulator) lateCounts(now engine.Time) []lateCount {
	late := make([]lateCount, len(s.models))
	for _, in := range s.insts {
		s.eachInSystem(in, func(id int32) {
			r := &s.reqs[id]
			if !r.counted {
				return
			}
			st := s.models[r.model].stats
			age := (now - r.arrival).Seconds()
			noToken := r.first < 0
			l := &late[r.model]
			slo, t := st.spec.SLO, st.spec.Targets[r.class]
			if noToken && slo.TTFTS > 0 && age > slo.TTFTS {
				l.ttft++
			}
			if slo.E2ES > 0 && age > slo.E2ES {
				l.e2e++
			}
			if noToken && t.TTFTS > 0 && age > t.TTFTS || t.E2ES > 0 && age > t.E2ES {
				l.missed++
			}
		})
	}
	return late
}

// missCertain reports whether the model's SLOMet is false at the end of
// the run however its next left requests fare, late of them already too
// late for a target: even if every other one completes within every
// target and the late ones never complete, the attainment or a percentile
// misses. (A late request that does complete only adds a miss.)
func (st *modelStats) missCertain(left int64, late lateCount) bool {
	slo := st.spec.SLO
	l := &st.all
	if can := left - late.missed; l.completed+can > 0 && float64(l.sloMet+can)/float64(l.completed+can) < slo.Attainment {
		return true // the attainment as result computes it, at its highest
	}
	q := slo.Percentile / 100
	return quantileMissCertain(l.ttft, q, slo.TTFTS, left-late.ttft) ||
		quantileMissCertain(l.tpot, q, slo.TPOTS, left) ||
		quantileMissCertain(l.e2e, q, slo.E2ES, left-late.e2e)
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
