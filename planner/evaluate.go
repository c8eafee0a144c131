package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/workload"
)

// Reasons a configuration is not in the ranked table.
const (
	ReasonMemory    = "memory"    // the models or one request's KV do not fit
	ReasonCapacity  = "capacity"  // the load needs more than max_nodes even at peak efficiency
	ReasonSLO       = "slo"       // a latency target or attainment missed at max_nodes
	ReasonThermal   = "thermal"   // held down by heat longer than max_throttled_pct at max_nodes
	ReasonRejected  = "rejected"  // requests that can never be served
	ReasonDominated = "dominated" // a feasible configuration is at least as cheap and as fast as this one could be
	ReasonCostly    = "costly"    // cannot cost less than max_cost_ratio times the cheapest feasible one
	ReasonInvalid   = "invalid"   // the configuration does not resolve (named in the detail)
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

// ModelMetrics is one served model's latency in a simulated configuration.
type ModelMetrics struct {
	Model         string  `json:"model"`
	TTFTP95       float64 `json:"ttft_p95_s"`
	TPOTP95       float64 `json:"tpot_p95_s"`
	E2EP95        float64 `json:"e2e_p95_s"`
	SLOAttainment float64 `json:"slo_attainment"`
	SLOMet        bool    `json:"slo_met"`
	Rejected      int64   `json:"rejected"`
}

// Metrics are what a simulated configuration measured and costs.
type Metrics struct {
	Nodes           int            `json:"nodes"`
	USDPerHour      float64        `json:"usd_per_hour"`
	USDPerMonth     float64        `json:"usd_per_month"`
	USDPerMTokens   float64        `json:"usd_per_m_tokens"`
	HardwareUSD     float64        `json:"hardware_usd"`
	CloudUSDPerHour float64        `json:"cloud_usd_per_hour"`
	TokensPerS      float64        `json:"tokens_per_s"`
	Utilization     float64        `json:"utilization"`
	NodePowerW      float64        `json:"node_power_w"` // all nodes, mean
	TempPeakC       float64        `json:"temp_peak_c"`
	ThrottledPct    float64        `json:"throttled_pct"` // device-time below full clock
	ThermalPct      float64        `json:"thermal_pct"`   // device-time held down by heat
	WorstTPOTP95    float64        `json:"worst_tpot_p95_s"`
	WorstTTFTP95    float64        `json:"worst_ttft_p95_s"`
	Models          []ModelMetrics `json:"models"`
}

// Trial is one node count the bisection simulated.
type Trial struct {
	Nodes int  `json:"nodes"`
	OK    bool `json:"ok"`
	// Shortfall is the worst ratio of a measured figure to its target
	// (latency over its limit, attainment target over attainment, heat
	// over max_throttled_pct): above 1 fails.
	Shortfall float64 `json:"shortfall"`
	Reason    string  `json:"reason,omitempty"`
	Detail    string  `json:"detail,omitempty"`
}

// GroupOutcome is a node group's search: its bounds, the node counts tried
// and, when some count met every target, the smallest such and its metrics.
type GroupOutcome struct {
	Models   []string `json:"models"`
	Bounds   Bounds   `json:"bounds"`
	Feasible bool     `json:"feasible"`
	Reason   string   `json:"reason,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Trials   []Trial  `json:"trials,omitempty"`
	Metrics  *Metrics `json:"metrics,omitempty"`
}

// tpotBoundShare keeps the TPOT bound below any percentile the simulator
// can report for it: its quantile sketch is within 1% of the truth.
const tpotBoundShare = 0.98

// designFile is the scenario of one node group of n nodes at the design
// load: each model's peak diurnal rate times the growth, held for the
// window, so that meeting the SLOs there means meeting them all day.
func (p *Plan) designFile(g group, nodes int, seed uint64) *scenario.File {
	f := p.baseFile(g.Models, seed)
	f.Name = g.key()
	f.DurationS = p.File.WarmupS + p.File.WindowS
	for name, m := range f.Models {
		m.Workload.Arrival = p.designArrival(m.Workload.Arrival)
		f.Models[name] = m
	}
	f.Nodes = []scenario.NodeGroup{p.nodeGroup("g", g, nodes)}
	return f
}

// designArrival scales an arrival process to the design load: its
// diurnal peak, held, times the growth.
func (p *Plan) designArrival(a workload.Arrival) workload.Arrival {
	peak := 1.0
	if len(a.Diurnal) > 0 {
		peak = slices.Max(a.Diurnal)
	}
	a.Diurnal = nil
	return scaleArrival(a, peak*p.File.Growth)
}

// scaleArrival multiplies an arrival process's load: the rate of an open
// one, the users of a closed loop (rounded up).
func scaleArrival(a workload.Arrival, k float64) workload.Arrival {
	if a.Process == "closed" {
		a.Concurrency = int(math.Ceil(float64(a.Concurrency) * k))
	} else {
		a.Rate *= k
	}
	return a
}

// baseFile holds what every scenario of the plan shares.
func (p *Plan) baseFile(models []string, seed uint64) *scenario.File {
	f := &scenario.File{Seed: seed, WarmupS: p.File.WarmupS, Router: p.File.Router, Site: p.File.Site, Cost: p.File.Cost,
		Models: map[string]scenario.ServedModel{}}
	for _, m := range models {
		f.Models[m] = p.File.Models[m]
	}
	return f
}

func (p *Plan) nodeGroup(name string, g group, nodes int) scenario.NodeGroup {
	ng := scenario.NodeGroup{Name: name, Hardware: g.Hardware, Engine: g.Engine, Count: nodes, Memory: g.Memory, PowerCapW: g.PowerCapW}
	for _, m := range g.Models {
		ng.Instances = append(ng.Instances, scenario.Instance{Model: m, Quant: g.Quant, KVCache: g.KVCache,
			MaxSeqs: g.MaxSeqs, MaxBatchedTokens: g.MaxBatchedTokens})
	}
	return ng
}

// analyze resolves one node of the group and derives its bounds, or says
// why the group can never work.
func (p *Plan) analyze(g group) (Bounds, string, string) {
	sc, err := scenario.Resolve(g.key(), p.designFile(g, 1, p.File.Seed), p.cat, p.profiles, p.files)
	if err != nil {
		if isMemoryError(err) {
			return Bounds{}, ReasonMemory, err.Error()
		}
		return Bounds{}, ReasonInvalid, err.Error()
	}
	node := sc.Nodes[0]
	var b Bounds
	var computeS, memoryS float64 // device-seconds per second the load needs
	var weights float64
	for _, in := range node.Instances {
		weights += in.WeightBytes
	}
	for _, in := range node.Instances {
		m := sc.Models[in.Model]
		sm, err := perf.NewStepModel(node.Hardware, in.Deploy, node.Profile)
		if err != nil {
			return Bounds{}, ReasonInvalid, err.Error()
		}
		meanIn, minIn, maxIn := lengthStats(m.Workload.Input, m.InputDist)
		meanOut, _, maxOut := lengthStats(m.Workload.Output, m.OutputDist)
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
		lone := sm.Step(one).Seconds
		b.TPOTS = math.Max(b.TPOTS, tpotBoundShare*lone)
		if t := m.SLO.TPOTS; t > 0 && len(m.Classes) <= 1 && tpotBoundShare*lone > t {
			return b, ReasonSLO, fmt.Sprintf("%s: even a lone request decodes at %.1f ms per token on %s, above the TPOT target of %g ms",
				m.Name, 1000*lone, g.Hardware, 1000*t)
		}

		rate := m.Workload.Arrival.Rate
		if m.Workload.Arrival.Process == "closed" {
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
		computeS += rate * (meanIn*pc.Compute/float64(chunk) + meanOut*dc.Compute/float64(in.MaxSeqs))
		memoryS += rate * (meanIn*pc.Memory/float64(chunk) + meanOut*dc.Memory/float64(in.MaxSeqs))
	}
	// The means come from samples: take 10% off so that sampling error
	// cannot turn the bound into an overestimate.
	need := 0.9 * math.Max(computeS, memoryS)
	b.MinNodes = max(1, int(math.Ceil(need-1e-9)))
	if b.MinNodes > p.File.Search.MaxNodes {
		return b, ReasonCapacity, fmt.Sprintf("the design load needs at least %d nodes of %s even at full batches (%.1f device-seconds of compute and %.1f of memory traffic per second); max_nodes is %d",
			b.MinNodes, g.Hardware, computeS, memoryS, p.File.Search.MaxNodes)
	}
	idle, err := tco.NodeHourly(sc.Cost, sc.Site, node, node.Power.IdleW+node.HostW)
	if err != nil {
		return b, ReasonInvalid, err.Error()
	}
	b.USDPerHour = idle.USDPerHour * float64(b.MinNodes)
	return b, "", ""
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
	case l.Dist == "fixed":
		lo, hi = max(1, l.Value), max(1, l.Value)
		if l.Max > 0 {
			hi = min(hi, l.Max)
		}
	case l.Dist == "empirical":
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

// trial simulates the group on n nodes with every replica seed and says
// whether it met every target.
func (p *Plan) trial(ctx context.Context, g group, nodes int) (Trial, *Metrics, error) {
	t := Trial{Nodes: nodes, OK: true}
	var first *Metrics
	for r := range p.File.Replicas {
		m, v, err := p.simulate(ctx, p.designFile(g, nodes, p.File.Seed+uint64(r)), sim.Options{})
		if err != nil {
			return t, nil, err
		}
		if first == nil {
			first = m
		}
		t.Shortfall = math.Max(t.Shortfall, v.shortfall)
		if v.reason != "" && t.OK {
			t.OK, t.Reason, t.Detail = false, v.reason, v.detail
			if r > 0 {
				t.Detail += fmt.Sprintf(" (seed %d)", p.File.Seed+uint64(r))
			}
			break
		}
	}
	return t, first, nil
}

// verdict is how a simulated configuration fared against the plan's
// targets: why it failed ("" if it did not), and its shortfall, the worst
// ratio of a measured figure to its target (above 1 fails).
type verdict struct {
	reason, detail string
	shortfall      float64
}

// simulate runs one scenario and judges it against the plan's targets.
func (p *Plan) simulate(ctx context.Context, f *scenario.File, opt sim.Options) (*Metrics, verdict, error) {
	sc, err := scenario.Resolve(f.Name, f, p.cat, p.profiles, p.files)
	if err != nil {
		return nil, verdict{}, err
	}
	res, err := sim.Run(ctx, sc, opt)
	if err != nil {
		return nil, verdict{}, err
	}
	m, err := metrics(sc, res)
	if err != nil {
		return nil, verdict{}, err
	}
	return m, p.judge(sc, m), nil
}

// judge compares a run's metrics with the resolved scenario's SLOs
// (defaults applied) and the plan's heat limit.
func (p *Plan) judge(sc *scenario.Scenario, m *Metrics) verdict {
	var v verdict
	ratio := func(x, limit float64) {
		if limit > 0 && !math.IsNaN(x) {
			v.shortfall = math.Max(v.shortfall, x/limit)
		}
	}
	for i, mm := range m.Models {
		slo := sc.Models[i].SLO
		ratio(mm.TTFTP95, slo.TTFTS)
		ratio(mm.TPOTP95, slo.TPOTS)
		ratio(mm.E2EP95, slo.E2ES)
		ratio(slo.Attainment, math.Max(mm.SLOAttainment, 1e-6))
		switch {
		case v.reason != "":
		case mm.Rejected > 0:
			v.reason, v.detail = ReasonRejected, fmt.Sprintf("%s: %d requests can never be served", mm.Model, mm.Rejected)
		case !mm.SLOMet:
			v.reason, v.detail = ReasonSLO, sloMiss(sc.Models[i], mm)
		}
	}
	limit := *p.File.MaxThrottledPct
	if limit > 0 {
		ratio(m.ThermalPct, limit)
	}
	// A power cap is a choice whose slowdown the latency targets already
	// judge; heat is not, so only heat is held to max_throttled_pct.
	if v.reason == "" && m.ThermalPct > limit {
		v.reason, v.detail = ReasonThermal, fmt.Sprintf("devices held down by heat %.1f%% of the time (limit %g%%), peak %.1f C", m.ThermalPct, limit, m.TempPeakC)
	}
	v.shortfall = math.Round(v.shortfall*1e6) / 1e6
	return v
}

// sloMiss names the first target a model missed.
func sloMiss(sm scenario.Model, mm ModelMetrics) string {
	slo := sm.SLO
	if mm.SLOAttainment < slo.Attainment {
		return fmt.Sprintf("%s: %.1f%% of requests met the SLO, target %.0f%%", mm.Model, 100*mm.SLOAttainment, 100*slo.Attainment)
	}
	switch {
	case slo.TTFTS > 0 && mm.TTFTP95 > slo.TTFTS:
		return fmt.Sprintf("%s: TTFT p95 %.3g s > %g s", mm.Model, mm.TTFTP95, slo.TTFTS)
	case slo.TPOTS > 0 && mm.TPOTP95 > slo.TPOTS:
		return fmt.Sprintf("%s: TPOT p95 %.3g s > %g s", mm.Model, mm.TPOTP95, slo.TPOTS)
	case slo.E2ES > 0 && mm.E2EP95 > slo.E2ES:
		return fmt.Sprintf("%s: E2E p95 %.3g s > %g s", mm.Model, mm.E2EP95, slo.E2ES)
	}
	return fmt.Sprintf("%s: SLO p%g not met", mm.Model, slo.Percentile)
}

// metrics condenses a run and its cost.
func metrics(sc *scenario.Scenario, res *sim.Result) (*Metrics, error) {
	rep, err := tco.Evaluate(sc, res)
	if err != nil {
		return nil, err
	}
	m := &Metrics{Nodes: len(sc.Nodes), USDPerHour: rep.USDPerHour, USDPerMonth: rep.USDPerHour * tco.HoursPerMonth,
		USDPerMTokens: rep.USDPerMTokens, HardwareUSD: rep.HardwareSpendUSD, CloudUSDPerHour: rep.CloudUSDPerHour,
		Utilization: rep.Utilization}
	var throttled, thermal, window float64
	for i, d := range res.Devices {
		m.NodePowerW += rep.Nodes[i].PowerW
		m.TempPeakC = math.Max(m.TempPeakC, d.TempPeakC)
		throttled += d.ThrottledS
		thermal += d.ThermalS
		window += res.DurationS
	}
	if window > 0 {
		m.ThrottledPct = 100 * throttled / window
		m.ThermalPct = 100 * thermal / window
	}
	for _, mr := range res.Models {
		m.TokensPerS += mr.InputTokensPerS + mr.OutputTokensPerS
		mm := ModelMetrics{Model: mr.Model, TTFTP95: mr.TTFT.P95, TPOTP95: mr.TPOT.P95, E2EP95: mr.E2E.P95,
			SLOAttainment: mr.SLOAttainment, SLOMet: mr.SLOMet, Rejected: mr.Rejected}
		m.WorstTPOTP95 = math.Max(m.WorstTPOTP95, nz(mr.TPOT.P95))
		m.WorstTTFTP95 = math.Max(m.WorstTTFTP95, nz(mr.TTFT.P95))
		m.Models = append(m.Models, mm)
	}
	return m, nil
}

// nz is a latency for the worst-of comparisons: NaN (no request
// completed) counts as 0 and leaves the others to decide.
func nz(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// stallShare: doubling the nodes must cut the shortfall below this share
// of what it was, or the search stops.
const stallShare = 0.95

// searchGroup finds the smallest node count that meets every target:
// from the capacity bound, doubling until a count passes (or max_nodes
// fails), then bisecting between the last failure and the first pass. It
// assumes more nodes never hurt, which holds for the routers the simulator
// has; the trials are kept so that a reader can check.
func (p *Plan) searchGroup(ctx context.Context, g group) (GroupOutcome, int, error) {
	out := GroupOutcome{Models: g.Models}
	b, reason, detail := p.analyze(g)
	out.Bounds = b
	if reason != "" {
		out.Reason, out.Detail = reason, detail
		return out, 0, nil
	}
	sims := 0
	results := map[int]*Metrics{}
	try := func(n int) (Trial, error) {
		t, m, err := p.trial(ctx, g, n)
		sims += p.File.Replicas
		if err != nil {
			return t, err
		}
		out.Trials = append(out.Trials, t)
		results[n] = m
		return t, nil
	}
	maxN := p.File.Search.MaxNodes
	bad, good := b.MinNodes-1, 0
	var last Trial
	for n := b.MinNodes; ; n = min(2*n, maxN) {
		t, err := try(n)
		if err != nil {
			return out, sims, err
		}
		prev := last
		last = t
		if t.OK {
			good = n
			break
		}
		bad = n
		if n == maxN {
			break
		}
		// Requests too long for the memory, or a shortfall that doubling
		// the nodes barely moved (a target the hardware misses even
		// lightly loaded), will not be cured by more nodes: stop.
		if t.Reason == ReasonRejected || prev.Nodes > 0 && t.Shortfall > stallShare*prev.Shortfall {
			out.Reason = t.Reason
			out.Detail = fmt.Sprintf("%s; from %d to %d nodes the shortfall only went from %.3g to %.3g: more nodes do not help", t.Detail, prev.Nodes, n, prev.Shortfall, t.Shortfall)
			if t.Reason == ReasonRejected {
				out.Detail = t.Detail
			}
			out.Metrics = results[n]
			return out, sims, nil
		}
	}
	if good == 0 {
		out.Reason, out.Detail = last.Reason, fmt.Sprintf("at max_nodes = %d: %s", maxN, last.Detail)
		out.Metrics = results[maxN]
		return out, sims, nil
	}
	for good-bad > 1 {
		mid := bad + (good-bad)/2
		t, err := try(mid)
		if err != nil {
			return out, sims, err
		}
		if t.OK {
			good = mid
		} else {
			bad = mid
		}
	}
	out.Feasible = true
	out.Metrics = results[good]
	return out, sims, nil
}

// isMemoryError reports whether resolving failed because the models do not
// fit: the scenario reports that on an instance's memory_fraction or on a
// node group's instances.
func isMemoryError(err error) bool {
	var l catalog.ErrorList
	if !errors.As(err, &l) {
		return false
	}
	for _, e := range l {
		if strings.HasSuffix(e.Field, ".memory_fraction") || strings.HasSuffix(e.Field, ".instances") {
			return true
		}
	}
	return false
}
