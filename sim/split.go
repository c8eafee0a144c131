package sim

import (
	"cmp"
	"runtime"
	"slices"

	"github.com/fleettwin/fleettwin/scenario"
)

// Split runs (issue 18). A scenario whose models serve on disjoint sets of
// nodes is, as far as the simulation goes, several simulations that share
// only the clock: a request of one model never meets another model's
// nodes, and every random draw comes from a stream named after its model.
// Such a run is split into parts, each simulated by its own simulator in
// its own goroutine (split_run.go), and the parts' results merge into
// exactly the serial run's: the JSON result, the per-request records and
// the time series are byte-identical, on any GOMAXPROCS.
//
// Within a part, events run in the order the serial run gives them: two
// events of a part are scheduled in the same relative order in both runs,
// by induction on the events the part handles. What the parts share is
// only the run's totals (Little's law, the events counted) and the order
// of the records across parts, which the merge rebuilds from each event's
// key (split_key.go).
//
// A scenario is run serially when anything couples its parts, or when
// splitting could not pay:
//   - fewer than two workers (Options.Workers), or a Pacer (a paced run
//     waits on the wall clock anyway);
//   - autoscaled groups (one scaler's decisions span the fleet's clock);
//   - shaped traffic: shared prefixes, sessions, thinking, models that
//     share a workload, or prefix caching (a request's token identity
//     counts requests across models, sessions.go);
//   - a part's draw over its cap while the governors sleep: it would
//     start every device's governors at an instant only that part knows
//     (armControl), so the split run stops and runs serially
//     (split_run.go). The governors' loop itself runs in every part, its
//     decisions taken for the whole fleet (split_sync.go);
//   - a single part: every model is linked to every other through the
//     nodes they share.
//
// Nodes that serve no model join the first part: they only idle.

// part is a set of models and the nodes that serve them, each in the
// scenario's order.
type part struct {
	models []int
	nodes  []int
}

// splitParts divides sc into at most the run's workers parts that do not
// interact, or returns nil when the run must be serial.
func splitParts(sc *scenario.Scenario, opt Options) []part {
	workers := opt.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if workers < 2 || opt.Pacer != nil || len(sc.Models) < 2 || len(sc.Autoscale) > 0 {
		return nil
	}
	for _, m := range sc.Models {
		w := m.Workload
		if w.Prefix != nil || w.Sessions != nil || w.Thinking != nil || m.Shares() {
			return nil
		}
	}
	uf := make([]int, len(sc.Models))
	for i := range uf {
		uf[i] = i
	}
	find := func(i int) int {
		for uf[i] != i {
			uf[i] = uf[uf[i]]
			i = uf[i]
		}
		return i
	}
	for _, n := range sc.Nodes {
		for _, ni := range n.Instances {
			if ni.PrefixCaching {
				return nil
			}
			a, b := find(n.Instances[0].Model), find(ni.Model)
			uf[max(a, b)] = min(a, b)
		}
	}
	// The components, in the order of their first model; weighed by
	// their nodes, a rough measure of their work.
	comp := map[int]int{}
	var parts []part
	var weight []int
	for m := range sc.Models {
		r := find(m)
		k, ok := comp[r]
		if !ok {
			k = len(parts)
			comp[r] = k
			parts = append(parts, part{})
			weight = append(weight, 0)
		}
		parts[k].models = append(parts[k].models, m)
	}
	if len(parts) < 2 {
		return nil
	}
	for i, n := range sc.Nodes {
		k := 0
		if len(n.Instances) > 0 {
			k = comp[find(n.Instances[0].Model)]
		}
		parts[k].nodes = append(parts[k].nodes, i)
		weight[k] += max(n.Devices, 1)
	}
	return pack(parts, weight, workers)
}

// pack merges parts into at most bins (a union of parts that do not
// interact is itself such a part), heaviest first onto the lightest bin;
// each bin's models and nodes stay in the scenario's order, and the bins
// in the order of their first model.
func pack(parts []part, weight []int, bins int) []part {
	if len(parts) <= bins {
		return parts
	}
	order := make([]int, len(parts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(weight[b], weight[a]) })
	out := make([]part, bins)
	load := make([]int, bins)
	for _, k := range order {
		b := 0
		for j := range load {
			if load[j] < load[b] {
				b = j
			}
		}
		load[b] += weight[k]
		out[b].models = append(out[b].models, parts[k].models...)
		out[b].nodes = append(out[b].nodes, parts[k].nodes...)
	}
	for i := range out {
		slices.Sort(out[i].models)
		slices.Sort(out[i].nodes)
	}
	slices.SortFunc(out, func(a, b part) int { return cmp.Compare(a.models[0], b.models[0]) })
	return out
}

// scenario is the part's own scenario: its models and nodes, the node
// instances' model indices renumbered to its models.
func (p part) scenario(sc *scenario.Scenario) *scenario.Scenario {
	sub := *sc
	local := map[int]int{}
	sub.Models = nil
	for k, m := range p.models {
		local[m] = k
		sub.Models = append(sub.Models, sc.Models[m])
	}
	sub.Nodes = nil
	for _, i := range p.nodes {
		n := sc.Nodes[i]
		n.Instances = slices.Clone(n.Instances)
		for j := range n.Instances {
			n.Instances[j].Model = local[n.Instances[j].Model]
		}
		sub.Nodes = append(sub.Nodes, n)
	}
	return &sub
}
