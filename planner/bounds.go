package planner

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/workload"
)

// Bounds are what the planner knows of a group or candidate before
// simulating it: each is a true bound, never an estimate, so pruning on them
// can never drop the answer.
type Bounds struct {
	// MinNodes is the fewest nodes whose compute and bandwidth could carry
	// the design load even at the best batching the settings allow.
	MinNodes int `json:"min_nodes"`
	// USDPerHour is the cost of MinNodes nodes standing idle.
	USDPerHour float64 `json:"usd_per_hour"`
	// TPOTS is the time of one decode step of a lone request at full
	// clock: no configuration's p95 TPOT can beat it.
	TPOTS float64 `json:"tpot_s"`
}

// tpotBoundShare keeps the TPOT bound below any percentile the simulator
// can report for it: its quantile sketch is within 1% of the truth.
const tpotBoundShare = 0.98

// analyze resolves one node of the group and derives its bounds, or says
// why the group can never work.
func (p *Plan) analyze(g group) (Bounds, string, string) {
	sc, err := scenario.Resolve(g.key(), p.designFile(g, g.minNodes(), p.File.Seed), p.cat, p.profiles, p.files)
	if err != nil {
		if isMemoryError(err) {
			return Bounds{}, ReasonMemory, err.Error()
		}
		return Bounds{}, ReasonInvalid, err.Error()
	}
	node := sc.Nodes[0]
	var b Bounds
	var computeS, memoryS float64 // device-seconds per second the load needs
	// On a node of several devices each model's instances own their
	// devices, dp replicas of them: a node carries each model's load on
	// its own replicas, so the nodes needed are the most any model needs.
	multi := node.Devices > 1
	var perNode float64
	var weights float64
	for _, in := range node.Instances {
		weights += in.WeightBytes
	}
	seen := map[int]bool{}
	for _, in := range node.Instances {
		// dp replicas of a model's instance are alike: its load is
		// counted once, and split over them below.
		if seen[in.Model] {
			continue
		}
		seen[in.Model] = true
		m := sc.Models[in.Model]
		sm, err := perf.NewStepModel(node.Hardware, in.Deploy, node.Profile)
		if err != nil {
			return Bounds{}, ReasonInvalid, err.Error()
		}
		meanIn, minIn, maxIn := lengthStats(m.Workload.Input, m.InputDist)
		meanOut, maxOut := outputStats(m.Workload, m.OutputDist)
		if maxIn > 0 && maxOut > 0 {
			kv := float64(maxIn+maxOut) * in.Deploy.Model.KVBytesPerToken(in.Deploy.KV)
			room := in.BudgetBytes - in.WeightBytes
			if node.DynamicMemory {
				room = node.BudgetBytes - weights
			}
			if kv > room {
				return Bounds{}, ReasonMemory, fmt.Sprintf("%s: the longest request (%d tokens) needs %.2f GiB of KV cache, %.2f GiB is left after the weights",
					m.Name, maxIn+maxOut, kv/(1<<30), room/(1<<30))
			}
		}
		var one perf.Batch
		one.AddDecode(minIn)
		// Under speculative decoding one step yields TokensPerStep tokens
		// of each sequence on average; the TPOT is the step over them.
		lone := sm.Step(one).Seconds / sm.TokensPerStep()
		b.TPOTS = math.Max(b.TPOTS, tpotBoundShare*lone)
		if t := m.SLO.TPOTS; t > 0 && len(m.Classes) <= 1 && tpotBoundShare*lone > t {
			return b, ReasonSLO, fmt.Sprintf("%s: even a lone request decodes at %.1f ms per token on %s, above the TPOT target of %g ms",
				m.Name, 1000*lone, g.Hardware, 1000*t)
		}

		rate := m.Workload.Arrival.Rate
		if m.Workload.Arrival.Process == workload.Closed {
			rate = 0 // a closed loop's rate follows the service; no bound
		}
		chunk := in.MaxBatchedTokens
		var pre perf.Batch
		pre.AddPrefill(chunk, 0)
		pc := sm.Step(pre)
		var dec perf.Batch
		for range in.MaxSeqs {
			dec.AddDecode(minIn)
		}
		dc := sm.Step(dec)
		perSeq := float64(in.MaxSeqs) * sm.TokensPerStep()
		// Sessions, a shared prefix and the prefix cache leave the bound
		// a bound: the counted input is every request's own, which no
		// cache serves (a prefix and a session's history come on top), and
		// later turns only add load. They are not counted either: a
		// session's turns arrive over minutes, so within a short window
		// the load is below the turns' mean times the rate.
		c := rate * (meanIn*pc.Compute/float64(chunk) + meanOut*dc.Compute/perSeq)
		mem := rate * (meanIn*pc.Memory/float64(chunk) + meanOut*dc.Memory/perSeq)
		computeS += c
		memoryS += mem
		if multi {
			// dp replicas of this instance: node.Instances holds each one.
			perNode = math.Max(perNode, math.Max(c, mem)/float64(replicas(node.Instances, in.Model)))
		}
	}
	// The means come from samples: take 10% off so that sampling error
	// cannot turn the bound into an overestimate.
	need := 0.9 * math.Max(computeS, memoryS)
	if multi {
		need = 0.9 * perNode
	}
	b.MinNodes = max(g.minNodes(), int(math.Ceil(need-1e-9)))
	if g.minNodes() > p.File.Search.MaxNodes {
		return b, ReasonCapacity, fmt.Sprintf("disaggregated across nodes needs a prefill node and a decode node; max_nodes is %d", p.File.Search.MaxNodes)
	}
	if b.MinNodes > p.File.Search.MaxNodes {
		return b, ReasonCapacity, fmt.Sprintf("the design load needs at least %d nodes of %s even at full batches (%.1f device-seconds of compute and %.1f of memory traffic per second); max_nodes is %d",
			b.MinNodes, g.Hardware, computeS, memoryS, p.File.Search.MaxNodes)
	}
	// A node idles all of its devices and its host.
	idle, err := tco.NodeHourly(sc.Cost, sc.Site, node, float64(max(node.Devices, 1))*node.Power.IdleW+node.HostW)
	if err != nil {
		return b, ReasonInvalid, err.Error()
	}
	b.USDPerHour = idle.USDPerHour * float64(b.MinNodes)
	return b, "", ""
}

// replicas counts a model's instances on a node (its dp).
func replicas(insts []scenario.NodeInstance, model int) int {
	n := 0
	for _, in := range insts {
		if in.Model == model {
			n++
		}
	}
	return max(n, 1)
}

// outputStats is the mean and the largest (0: unbounded) of a model's
// output lengths, thinking mode included: a thinking share draws its
// output from its own lengths, which may be shorter than the answers'.
func outputStats(w workload.Spec, empirical []workload.WeightedValue) (mean float64, hi int) {
	mean, _, hi = lengthStats(w.Output, empirical)
	th := w.Thinking
	if th == nil || th.Share <= 0 {
		return mean, hi
	}
	tMean, _, tHi := lengthStats(th.Output, nil)
	mean = (1-th.Share)*mean + th.Share*tMean
	switch {
	case th.Share >= 1:
		hi = tHi
	case hi == 0 || tHi == 0:
		hi = 0
	default:
		hi = max(hi, tHi)
	}
	return mean, hi
}

// lengthStats returns a length distribution's mean (from a fixed set of
// samples), its smallest possible value and its largest (0: unbounded).
func lengthStats(l workload.Lengths, empirical []workload.WeightedValue) (mean float64, lo, hi int) {
	s, err := workload.NewLengthSampler(l, empirical)
	if err != nil {
		return 0, 1, 0
	}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 4096
	var sum float64
	for range n {
		sum += float64(s.Sample(r))
	}
	lo = max(1, l.Min)
	switch {
	case l.Dist == workload.Fixed:
		lo, hi = max(1, l.Value), max(1, l.Value)
		if l.Max > 0 {
			hi = min(hi, l.Max)
		}
	case l.Dist == workload.Empirical:
		for i, wv := range empirical {
			v := int(math.Round(wv.Value))
			if i == 0 || v < lo {
				lo = max(1, v)
			}
			hi = max(hi, v)
		}
		if l.Max > 0 {
			hi = min(hi, l.Max)
		}
		lo = max(lo, l.Min, 1)
	default:
		hi = l.Max
	}
	return sum / n, lo, hi
}

// isMemoryError reports whether resolving failed because the models do not
// fit: the scenario tags those problems tomlcheck.NoFit (an instance's
// memory_fraction, a node group's instances), so the planner reads the kind
// rather than matching field names.
func isMemoryError(err error) bool {
	return tomlcheck.Has(err, tomlcheck.NoFit)
}
