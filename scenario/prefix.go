package scenario

import (
	"maps"
	"slices"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"

	"github.com/fleettwin/fleettwin/workload"
)

// Prefix caching (vLLM's automatic prefix caching, SGLang's radix cache):
// an instance keeps the KV blocks of finished requests, identified by a
// hash of the tokens up to and including each block, and a later request
// whose prompt starts with the same blocks skips their prefill. The switch
// is prefix_caching on a node group or one instance (which overrides its
// group's). Unset, it is on where the instance's model states something
// its requests share (a workload prefix, sessions, or a trace with hash
// ids), as vLLM V1 and SGLang enable it by default, and off elsewhere:
// traffic that shares nothing would hit nothing, so leaving it off there
// keeps every earlier result as it was. A decode-role instance runs no
// prompts and caches nothing.

// Shares reports whether a model's traffic states a prefix its requests
// share: what turns prefix caching on by default.
func (m Model) Shares() bool {
	w := m.Workload
	if w.Prefix != nil || w.Sessions != nil {
		return true
	}
	return slices.ContainsFunc(m.Trace, func(t workload.TraceRecord) bool { return len(t.HashIDs) > 0 })
}

// prefixCaching resolves each instance's prefix caching: its own switch,
// else its group's, else on where its model's traffic shares a prefix.
// It also bounds the requests sessions ask for (sessionWork).
func (r *resolver) prefixCaching(f *File, nodes []Node, models []Model) {
	r.sessionWork(f)
	shares := make([]bool, len(models)) // once per model: a trace may be long
	for i, m := range models {
		shares[i] = m.Shares()
	}
	for ni := range nodes {
		n := &nodes[ni]
		gi := slices.IndexFunc(f.Nodes, func(g NodeGroup) bool { return g.Name == n.Group })
		if gi < 0 {
			continue
		}
		g := f.Nodes[gi]
		for i := range n.Instances {
			inst := &n.Instances[i]
			if inst.Model < 0 || inst.Model >= len(models) || inst.src >= len(g.Instances) {
				continue
			}
			on := shares[inst.Model]
			if g.PrefixCaching != nil {
				on = *g.PrefixCaching
			}
			if src := g.Instances[inst.src].PrefixCaching; src != nil {
				on = *src
			}
			inst.PrefixCaching = on && inst.Role != RoleDecode
		}
	}
}

// sessionWork holds open-loop sessions to MaxArrivals: each session is
// its mean number of turns in requests (the mean of turns, capped by its
// max), which limits' rate × duration_s does not count.
func (r *resolver) sessionWork(f *File) {
	if !(f.DurationS > 0 && f.DurationS <= MaxDurationS) {
		return // reported with duration_s
	}
	total := 0.0
	for _, n := range slices.Sorted(maps.Keys(f.Models)) {
		w := f.Models[n].Workload
		turns := 1.0
		if w.Sessions != nil {
			turns = meanCount(w.Sessions.Turns)
		}
		total += expectedArrivals(w.Arrival, f.DurationS) * turns
		if total > MaxArrivals {
			r.AddKind(tomlcheck.OutOfRange, key("models", n, "workload", "sessions", "turns"), "sessions of this many turns at this rate ask for about %.3g requests over the run (all models so far); the limit is %.0e: fewer turns, a lower rate or a shorter run", total, float64(MaxArrivals))
			return
		}
	}
}

// meanCount is a rough mean of a count distribution, at least 1.
func meanCount(l workload.Lengths) float64 {
	m := 1.0
	switch l.Dist {
	case workload.Fixed:
		m = float64(l.Value)
	case workload.Uniform:
		m = float64(max(l.Min, 1)+l.Max) / 2
	case workload.Lognormal, workload.Exponential:
		m = l.Mean
	}
	if l.Max > 0 {
		m = min(m, float64(l.Max))
	}
	return max(m, 1)
}
