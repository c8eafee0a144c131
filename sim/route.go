package sim

import (
	"math/rand/v2"

	"github.com/fleettwin/fleettwin/scenario"
)

// route picks the instance for request id of model m (its prefill
// instance under disaggregated serving).
func (s *simulator) route(m *modelState, id int32) int {
	if s.tr != nil && m.spec.Router == scenario.PrefixAffinity && len(m.routable()) > 1 {
		return s.pickAffinity(m.routable(), &m.rr, id) // prefix_route.go
	}
	return s.pick(m, m.routable(), &m.rr, m.rngRoute)
}

// pick applies model m's router to the instances ids, with its rotation
// rr and random stream rng (a decode pool has its own).
func (s *simulator) pick(m *modelState, ids []int, rr *int, rng *rand.Rand) int {
	if len(ids) == 1 {
		return ids[0]
	}
	switch m.spec.Router {
	case scenario.RoundRobin:
		*rr = (*rr + 1) % len(ids)
		return ids[*rr]
	case scenario.PowerOfTwo:
		a := rng.IntN(len(ids))
		b := rng.IntN(len(ids) - 1)
		if b >= a {
			b++
		}
		if s.insts[ids[b]].outstanding < s.insts[ids[a]].outstanding {
			return ids[b]
		}
		return ids[a]
	default: // least-outstanding (and prefix-affinity's decode pool); ties rotate so equal instances share load
		*rr = (*rr + 1) % len(ids)
		best := ids[*rr]
		for k := range ids {
			i := ids[(*rr+k)%len(ids)]
			if s.insts[i].outstanding < s.insts[best].outstanding {
				best = i
			}
		}
		return best
	}
}
