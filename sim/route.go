package sim

import "github.com/fleettwin/fleettwin/scenario"

// route picks the instance for a request of model m.
func (s *simulator) route(m *modelState) int {
	ids := m.instances
	if len(ids) == 1 {
		return ids[0]
	}
	switch m.spec.Router {
	case scenario.RoundRobin:
		m.rr = (m.rr + 1) % len(ids)
		return ids[m.rr]
	case scenario.PowerOfTwo:
		a := m.rngRoute.IntN(len(ids))
		b := m.rngRoute.IntN(len(ids) - 1)
		if b >= a {
			b++
		}
		if s.insts[ids[b]].outstanding < s.insts[ids[a]].outstanding {
			return ids[b]
		}
		return ids[a]
	default: // least-outstanding; ties rotate so equal instances share load
		m.rr = (m.rr + 1) % len(ids)
		best := ids[m.rr]
		for k := range ids {
			i := ids[(m.rr+k)%len(ids)]
			if s.insts[i].outstanding < s.insts[best].outstanding {
				best = i
			}
		}
		return best
	}
}
