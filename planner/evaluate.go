package planner

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

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
	// StoppedS is where a trial's run stopped (simulated seconds, warm-up
	// included) once its miss was certain (sim.Options.StopWhenMissed):
	// the figures cover the run until then. 0: it ran its whole window.
	StoppedS float64 `json:"stopped_s,omitempty"`

	// behind is the worst ratio of a model's arrivals to the requests it
	// served (sim.ModelResult.Served; +Inf where none): well above 1, the
	// fleet fell behind.
	behind float64
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
	// StoppedS is where its run stopped, its miss certain (Metrics.StoppedS).
	StoppedS float64 `json:"stopped_s,omitempty"`

	// figures are the verdict's ratios, each on its own (verdict.figures):
	// the doubling's stall rule compares them. behind is the failing run's
	// Metrics.behind: where to look next (guess).
	figures []float64
	behind  float64
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
	// Pools is a disaggregated group's prefill and decode split at the
	// node count of Metrics (planner/disagg.go); nil when co-located.
	Pools *Pools `json:"pools,omitempty"`
}

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
	f.Nodes = p.nodeGroups("g", g, nodes)
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
	if a.Process == workload.Closed {
		a.Concurrency = int(math.Ceil(float64(a.Concurrency) * k))
	} else {
		a.Rate *= k
	}
	return a
}

// baseFile holds what every scenario of the plan shares.
func (p *Plan) baseFile(models []string, seed uint64) *scenario.File {
	f := &scenario.File{Seed: seed, WarmupS: p.File.WarmupS, Router: p.File.Router, Site: p.File.Site, Cost: p.File.Cost,
		Network: p.File.Network, Models: map[string]scenario.ServedModel{}}
	for _, m := range models {
		f.Models[m] = p.File.Models[m]
	}
	return f
}

func (p *Plan) nodeGroup(name string, g group, nodes int) scenario.NodeGroup {
	ng := scenario.NodeGroup{Name: name, Hardware: g.Hardware, Engine: g.Engine, Count: nodes, Memory: g.Memory, Sharing: g.Sharing, PowerCapW: g.PowerCapW}
	for _, m := range g.Models {
		in := scenario.Instance{Model: m, Quant: g.Quant, KVCache: g.KVCache,
			MaxSeqs: g.MaxSeqs, MaxBatchedTokens: g.MaxBatchedTokens, TP: g.TP, PP: g.PP, EP: g.EP, DP: g.DP}
		if g.Speculative != nil {
			sp := *g.Speculative
			in.Speculative = &sp
		}
		ng.Instances = append(ng.Instances, in)
	}
	return ng
}

// verdict is how a simulated configuration fared against the plan's
// targets: why it failed ("" if it did not), its shortfall (the worst
// ratio of a measured figure to its target: above 1 fails), and every
// such ratio on its own, model by model (TTFT, TPOT and E2E p95 over
// their limits, the attainment target over the attainment; 0 where there
// is no target, +Inf where nothing completed), then heat.
type verdict struct {
	reason, detail string
	shortfall      float64
	figures        []float64
}

// Simulator runs one resolved scenario as sim.Run does. Plan.Simulate
// holds one so that a test can put a fast fake in the simulator's place.
type Simulator func(ctx context.Context, sc *scenario.Scenario, opt sim.Options) (*sim.Result, error)

// run simulates sc with the plan's Simulator, sim.Run unless one is set.
func (p *Plan) run(ctx context.Context, sc *scenario.Scenario, opt sim.Options) (*sim.Result, error) {
	return p.simulator()(ctx, sc, opt)
}

// simulator is the plan's Simulator, sim.Run unless one is set.
func (p *Plan) simulator() Simulator {
	if p.Simulate != nil {
		return p.Simulate
	}
	return sim.Run
}

// simulateAndJudge runs one scenario and judges it against the plan's
// targets.
func (p *Plan) simulateAndJudge(ctx context.Context, f *scenario.File, opt sim.Options) (*Metrics, verdict, error) {
	sc, err := scenario.Resolve(f.Name, f, p.cat, p.profiles, p.files)
	if err != nil {
		return nil, verdict{}, err
	}
	res, err := p.run(ctx, sc, opt)
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
		f := 0.0
		if limit > 0 {
			if f = x / limit; math.IsNaN(f) {
				f = math.Inf(1)
			}
		}
		v.figures = append(v.figures, f)
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

// sloMiss names the targets a model missed: each p95 latency over its
// limit, and the attainment with the targets each request is held to,
// so that a "too slow" says which SLO (TTFT, TPOT, E2E or the share of
// requests within them).
func sloMiss(sm scenario.Model, mm ModelMetrics) string {
	slo := sm.SLO
	var over, targets []string
	for _, l := range []struct {
		name          string
		got, limit, k float64 // k converts seconds to unit
		unit          string
	}{{"TTFT", mm.TTFTP95, slo.TTFTS, 1, "s"}, {"TPOT", mm.TPOTP95, slo.TPOTS, 1000, "ms"}, {"E2E", mm.E2EP95, slo.E2ES, 1, "s"}} {
		if l.limit <= 0 {
			continue
		}
		k := l.k
		targets = append(targets, fmt.Sprintf("%s %g %s", l.name, k*l.limit, l.unit))
		if l.got > l.limit {
			over = append(over, fmt.Sprintf("%s p95 %.3g %s > %g %s", l.name, k*l.got, l.unit, k*l.limit, l.unit))
		}
	}
	switch {
	case mm.SLOAttainment < slo.Attainment:
		d := fmt.Sprintf("%s: %.1f%% of requests met the SLO (%s), target %.0f%%", mm.Model, 100*mm.SLOAttainment, strings.Join(targets, ", "), 100*slo.Attainment)
		if len(over) > 0 {
			d += "; " + strings.Join(over, ", ")
		}
		return d
	case len(over) > 0:
		return mm.Model + ": " + strings.Join(over, ", ")
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
	if res.Partial {
		m.StoppedS = res.DurationS
	}
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
		if mr.Arrived > 0 {
			m.behind = math.Max(m.behind, float64(mr.Arrived)/float64(mr.Served))
		}
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
