package planner

import (
	"context"
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/sim"
)

// trial simulates the group on n nodes with every replica seed and says
// whether it met every target.
func (p *Plan) trial(ctx context.Context, g group, nodes int) (Trial, *Metrics, error) {
	t := Trial{Nodes: nodes, OK: true}
	var first *Metrics
	for r := range p.File.Replicas {
		// One goroutine a trial: the search runs trials in parallel
		// already. The arrivals are the plan's, whatever the nodes.
		// A run stops once its miss is certain: only a pass needs the
		// whole window.
		m, v, err := p.simulateAndJudge(ctx, p.designFile(g, nodes, p.File.Seed+uint64(r)), sim.Options{Workers: 1, Tapes: p.tapes, StopWhenMissed: true})
		if err != nil {
			return t, nil, err
		}
		if first == nil {
			first = m
		}
		t.Shortfall = math.Max(t.Shortfall, v.shortfall)
		if v.reason != "" && t.OK {
			t.OK, t.Reason, t.Detail, t.figures = false, v.reason, v.detail, v.figures
			if r > 0 {
				t.Detail += fmt.Sprintf(" (seed %d)", p.File.Seed+uint64(r))
			}
			if m.StoppedS > 0 {
				t.StoppedS = m.StoppedS
				t.Detail += fmt.Sprintf(" (stopped at %.0f s of %.0f, the miss certain)", m.StoppedS, p.File.WarmupS+p.File.WindowS)
			}
			break
		}
	}
	return t, first, nil
}

// stallShare: doubling the nodes must cut a figure a trial misses to this
// share of what it was, or the search stops (helped).
const stallShare = 0.95

// helped reports whether going from failed trial prev to failed trial t,
// on twice the nodes, moved toward the targets: t's run lasted an eighth
// of the window longer before its miss was certain, or a figure t misses
// is at most stallShare of what it was. Figures are compared one by one:
// the worst alone is pinned at its ceiling when no request met the SLO on
// either count (an attainment shortfall of 0.9/1e-6) however much the
// latencies fell.
func (p *Plan) helped(prev, t Trial) bool {
	full := p.File.WarmupS + p.File.WindowS
	lasted := func(t Trial) float64 {
		if t.StoppedS > 0 {
			return t.StoppedS
		}
		return full
	}
	if lasted(t) >= lasted(prev)+p.File.WindowS/8 {
		return true
	}
	for i, x := range t.figures {
		if x > 1 && i < len(prev.figures) && x <= stallShare*prev.figures[i] {
			return true
		}
	}
	return false
}

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
		if t.Reason == ReasonRejected || prev.Nodes > 0 && !p.helped(prev, t) {
			out.Reason = t.Reason
			out.Detail = fmt.Sprintf("%s; from %d to %d nodes the shortfall only went from %.3g to %.3g: more nodes do not help", t.Detail, prev.Nodes, n, prev.Shortfall, t.Shortfall)
			if t.Reason == ReasonRejected {
				out.Detail = t.Detail
			}
			out.Metrics, out.Pools = results[n], p.pools(g, n)
			return out, sims, nil
		}
	}
	if good == 0 {
		out.Reason, out.Detail = last.Reason, fmt.Sprintf("at max_nodes = %d: %s", maxN, last.Detail)
		out.Metrics, out.Pools = results[maxN], p.pools(g, maxN)
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
	out.Metrics, out.Pools = results[good], p.pools(g, good)
	return out, sims, nil
}
