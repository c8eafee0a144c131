package planner

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// harness runs the planner against a fake simulator, as nomad's scheduler
// Harness runs a scheduler against a fake state: the plan is parsed and
// analysed for real (its bounds come from the step model and the prices),
// but every simulation is answered at once by the test's tpot function of
// the group and its node count, and counted. So the bisection, the bounds
// and the pruning are tested on figures the test chose, in milliseconds.
type harness struct {
	t    testing.TB
	plan *Plan
	// tpot is the fake p95 TPOT of group key on n nodes; b is the group's
	// bounds, so that a fake can stay within what the bounds promise.
	tpot func(key string, nodes int, b Bounds) float64
	// rejected, if set, is the fake's count of requests never served.
	rejected func(key string, nodes int) int64
	// attainment, if set, is the fake's share of requests within the SLO
	// (1 otherwise); below 0.9 fails.
	attainment func(key string, nodes int) float64
	// served, if set, is the share of the arrivals the fake served (a
	// million of them; none otherwise: a fleet that says nothing of its
	// pace).
	served func(key string, nodes int) float64

	bounds map[string]Bounds // by group key

	mu    sync.Mutex
	calls map[string][]int // node counts simulated per group key, in call order
}

func newHarness(t testing.TB, src string, tpot func(key string, nodes int, b Bounds) float64) *harness {
	t.Helper()
	cat, profs := env(t)
	p, err := Parse("harness.toml", []byte(src), cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, plan: p, tpot: tpot, bounds: map[string]Bounds{}, calls: map[string][]int{}}
	for _, c := range p.Candidates() {
		for _, g := range c.groups() {
			if _, ok := h.bounds[g.key()]; !ok {
				h.bounds[g.key()], _, _ = p.analyze(g)
			}
		}
	}
	p.Simulate = h.simulate
	return h
}

// simulate is the fake: every device draws its node's idle power (so that
// the cost is what the cost bound assumes, never below it), every model
// completes its requests at the test's TPOT.
func (h *harness) simulate(_ context.Context, sc *scenario.Scenario, _ sim.Options) (*sim.Result, error) {
	n := len(sc.Nodes)
	h.mu.Lock()
	h.calls[sc.Name] = append(h.calls[sc.Name], n)
	h.mu.Unlock()
	b, ok := h.bounds[sc.Name]
	if !ok {
		return nil, fmt.Errorf("harness: %s is not a group of the plan", sc.Name)
	}
	window := (sc.Duration - sc.Warmup).Seconds()
	res := &sim.Result{Scenario: sc.Name, Seed: sc.Seed, DurationS: sc.Duration.Seconds(), WarmupS: sc.Warmup.Seconds()}
	for _, node := range sc.Nodes {
		res.Devices = append(res.Devices, sim.DeviceResult{Node: node.Name, WindowS: window, WindowUtilization: 0.5,
			WindowNodeEnergyJ: (node.Power.IdleW + node.HostW) * window})
	}
	tpot := h.tpot(sc.Name, n, b)
	att := 1.0
	if h.attainment != nil {
		att = h.attainment(sc.Name, n)
	}
	for _, m := range sc.Models {
		mr := sim.ModelResult{Model: m.Name, Arrived: 100, Completed: 100, InputTokensPerS: 100, OutputTokensPerS: 10,
			SLOAttainment: att, SLOMet: tpot <= m.SLO.TPOTS && att >= m.SLO.Attainment, TPOT: sim.Latency{P95: tpot}}
		if h.rejected != nil {
			mr.Rejected = h.rejected(sc.Name, n)
		}
		if h.served != nil {
			mr.Arrived, mr.Served = 1e6, int64(1e6*h.served(sc.Name, n))
		}
		res.Models = append(res.Models, mr)
	}
	return res, nil
}

// onlyGroup is the plan's single node group and its bounds.
func (h *harness) onlyGroup() (group, Bounds) {
	h.t.Helper()
	cs := h.plan.Candidates()
	if len(cs) != 1 || len(cs[0].groups()) != 1 {
		h.t.Fatalf("the plan has %d candidates; want one of one group", len(cs))
	}
	g := cs[0].groups()[0]
	return g, h.bounds[g.key()]
}

// harnessPlan is one model on one hardware: a single candidate of a single
// node group, whose node count is all the search has left to find.
func harnessPlan(rate float64, maxNodes, replicas int, quants string, maxSeqs string) string {
	return fmt.Sprintf(`name = "harness"
seed = 1
window_s = 60
warmup_s = 10
replicas = %d

[models.qwen3-8b.slo]
tpot_s = 0.5

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %g

[models.qwen3-8b.workload.input]
dist = "fixed"
value = 256

[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64

[search]
hardware = ["dgx-spark"]
engines = ["llama.cpp"]
quants = [%s]
layouts = ["colocated"]
max_seqs = [%s]
max_nodes = %d
`, replicas, rate, quants, maxSeqs, maxNodes)
}

const harnessTarget = 0.5 // the harness plan's tpot_s

// falling is a fake whose TPOT falls as 1/nodes and first meets the
// target at want nodes (exactly, without rounding at the boundary).
func falling(want int) func(string, int, Bounds) float64 {
	return func(_ string, n int, _ Bounds) float64 { return harnessTarget * (float64(want) - 0.5) / float64(n) }
}

// ceilLog2 is ⌈log₂ n⌉.
func ceilLog2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}

// The bisection finds the smallest node count that meets the target, from
// the capacity bound up to max_nodes, in O(log max_nodes) simulations per
// replica, each count simulated once per replica.
func TestBisectionFindsSmallestFeasibleCount(t *testing.T) {
	for _, tc := range []struct {
		want, maxNodes, replicas int
	}{
		{1, 64, 1}, {2, 64, 1}, {3, 64, 1}, {5, 64, 1}, {17, 64, 1}, {33, 64, 1}, {63, 64, 1}, {64, 64, 1},
		{7, 100, 1}, {100, 100, 1}, {1000, 1000, 1}, {513, 1000, 1},
		{6, 64, 3}, {40, 64, 2},
	} {
		t.Run(fmt.Sprintf("want%d-max%d-replicas%d", tc.want, tc.maxNodes, tc.replicas), func(t *testing.T) {
			h := newHarness(t, harnessPlan(0.1, tc.maxNodes, tc.replicas, `"q4_k_m"`, "0"), falling(tc.want))
			g, b := h.onlyGroup()
			if b.MinNodes != 1 {
				t.Fatalf("capacity bound %d nodes; the test wants a load one node carries", b.MinNodes)
			}
			out, sims, err := h.plan.searchGroup(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			if !out.Feasible || out.Metrics == nil || out.Metrics.Nodes != tc.want {
				t.Fatalf("feasible %v (%s: %s), metrics %+v; want %d nodes", out.Feasible, out.Reason, out.Detail, out.Metrics, tc.want)
			}
			// A passing trial runs every replica; a failing one stops at the
			// first seed that fails, which for this fake is the first. The
			// planner's own count charges every trial all its replicas.
			calls := h.calls[g.key()]
			made := 0
			for _, tr := range out.Trials {
				made++
				if tr.OK {
					made += tc.replicas - 1
				}
			}
			if len(calls) != made || sims != len(out.Trials)*tc.replicas {
				t.Errorf("%d simulations made, want %d; %d counted for %d trials of %d replicas", len(calls), made, sims, len(out.Trials), tc.replicas)
			}
			if limit := (2*ceilLog2(tc.maxNodes) + 1) * tc.replicas; len(calls) > limit {
				t.Errorf("%d simulations for max_nodes %d, want at most %d (2⌈log₂ n⌉ + 1 per replica)", len(calls), tc.maxNodes, limit)
			}
			seen := map[int]bool{}
			for _, tr := range out.Trials {
				if seen[tr.Nodes] {
					t.Errorf("%d nodes tried twice", tr.Nodes)
				}
				seen[tr.Nodes] = true
				if tr.OK != (tr.Nodes >= tc.want) || tr.Nodes < b.MinNodes || tr.Nodes > tc.maxNodes {
					t.Errorf("trial %+v with the target first met at %d nodes, bounds [%d, %d]", tr, tc.want, b.MinNodes, tc.maxNodes)
				}
			}
			if !seen[tc.want] || tc.want > 1 && !seen[tc.want-1] && tc.want-1 >= b.MinNodes {
				t.Errorf("trials %v do not show both %d (passes) and %d (fails)", out.Trials, tc.want, tc.want-1)
			}
		})
	}
}

// The search starts at the capacity bound, never simulates below it, and
// reports a load that needs more than max_nodes as infeasible without
// simulating; a count that never meets the target, or requests that can
// never be served, end the search with the reason.
func TestSearchBoundsAndInfeasible(t *testing.T) {
	constant := func(v float64) func(string, int, Bounds) float64 {
		return func(string, int, Bounds) float64 { return v }
	}
	for _, tc := range []struct {
		name     string
		rate     float64
		maxNodes int
		tpot     func(string, int, Bounds) float64
		rejected func(string, int) int64
		attained func(string, int) float64
		// want: the outcome's reason ("" feasible), a part of its detail,
		// and the node counts simulated.
		reason, detail string
		calls          []int
	}{
		{name: "never below max_nodes", rate: 0.1, maxNodes: 20, tpot: falling(21),
			reason: ReasonSLO, detail: "at max_nodes = 20: qwen3-8b: TPOT p95", calls: []int{1, 2, 4, 8, 16, 20}},
		{name: "doubling does not help", rate: 0.1, maxNodes: 64, tpot: constant(2 * harnessTarget),
			reason: ReasonSLO, detail: "from 1 to 2 nodes the shortfall only went from 2 to 2: more nodes do not help", calls: []int{1, 2}},
		// No request meets the SLO at 1, 2 or 4 nodes (the attainment
		// shortfall pinned at 0.9/1e-6 on each), but the TPOT halves with
		// each doubling: more nodes help, and 8 is the first to pass.
		{name: "no request within the SLO, latency falling", rate: 0.1, maxNodes: 64, tpot: falling(8),
			attained: func(_ string, n int) float64 { return float64(min(n/8, 1)) }, calls: []int{1, 2, 4, 8, 6, 7}},
		{name: "rejected", rate: 0.1, maxNodes: 64, tpot: constant(0.01), rejected: func(string, int) int64 { return 3 },
			reason: ReasonRejected, detail: "qwen3-8b: 3 requests can never be served", calls: []int{1}},
		{name: "capacity", rate: 40, maxNodes: 1, tpot: falling(1),
			reason: ReasonCapacity, detail: "max_nodes is 1"},
		{name: "from the bound", rate: 40, maxNodes: 64, tpot: falling(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessPlan(tc.rate, tc.maxNodes, 1, `"q4_k_m"`, "0"), tc.tpot)
			h.rejected, h.attainment = tc.rejected, tc.attained
			g, b := h.onlyGroup()
			out, _, err := h.plan.searchGroup(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			if out.Reason != tc.reason || !strings.Contains(out.Detail, tc.detail) || out.Feasible != (tc.reason == "") {
				t.Errorf("reason %q, detail %q, feasible %v; want %q, %q", out.Reason, out.Detail, out.Feasible, tc.reason, tc.detail)
			}
			calls := h.calls[g.key()]
			if tc.name == "from the bound" {
				// The bound is above 1 and the fake passes anywhere: the
				// bound itself is the only count tried.
				tc.calls = []int{b.MinNodes}
				if b.MinNodes <= 1 {
					t.Fatalf("capacity bound %d; the test wants a load above one node", b.MinNodes)
				}
			}
			if fmt.Sprint(calls) != fmt.Sprint(tc.calls) && !(len(calls) == 0 && len(tc.calls) == 0) {
				t.Errorf("simulated %v nodes, want %v", calls, tc.calls)
			}
			for _, n := range calls {
				if n < b.MinNodes {
					t.Errorf("simulated %d nodes, below the capacity bound %d", n, b.MinNodes)
				}
			}
		})
	}
}

// TestGuessesOnlyOrderTrials: a failed trial whose fleet fell behind
// sends the search to its count times the arrivals over the served
// requests (and a tenth more); whether that guess is right, short or far
// over, the search still ends on the smallest count that passes, with a
// failure one node below it, and a right guess saves trials.
func TestGuessesOnlyOrderTrials(t *testing.T) {
	const want, maxNodes = 37, 256
	plain := 0
	for _, k := range []float64{0, 1 / guessHeadroom, 0.5, 0.9, 2, 7} { // k: where the fake's pace points, over want
		h := newHarness(t, harnessPlan(0.1, maxNodes, 1, `"q4_k_m"`, "0"), falling(want))
		if k > 0 {
			// Behind by k·want/n below k·want nodes, keeping up above.
			h.served = func(_ string, n int) float64 { return math.Min(1, float64(n)/(k*want)) }
		}
		g, _ := h.onlyGroup()
		out, _, err := h.plan.searchGroup(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		if !out.Feasible || out.Metrics.Nodes != want {
			t.Fatalf("k %g: feasible %v at %v nodes, want %d", k, out.Feasible, out.Metrics, want)
		}
		tried := map[int]bool{}
		for _, tr := range out.Trials {
			tried[tr.Nodes] = true
			if tr.OK != (tr.Nodes >= want) {
				t.Errorf("k %g: trial %+v", k, tr)
			}
		}
		if !tried[want-1] {
			t.Errorf("k %g: no trial at %d, below the answer", k, want-1)
		}
		calls := len(h.calls[g.key()])
		if limit := 3*ceilLog2(maxNodes) + 2; calls > limit {
			t.Errorf("k %g: %d trials, want at most %d", k, calls, limit)
		}
		switch k {
		case 0:
			plain = calls
		case 0.9, 1 / guessHeadroom: // the guess lands on or near the answer
			if calls >= plain {
				t.Errorf("a right guess took %d trials, no fewer than doubling and bisecting's %d", calls, plain)
			}
		}
		t.Logf("k %.2f: %d trials %v", k, calls, h.calls[g.key()])
	}
}
