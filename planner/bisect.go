package planner

import (
	"context"
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/sim"
)

// trial simulates the group on n nodes with every replica seed and says
// whether it met every target. Its runs stop once their miss is certain
// (only a pass needs the whole window), unless whole is set.
func (p *Plan) trial(ctx context.Context, g group, nodes int, whole bool) (Trial, *Metrics, error) {
	t := Trial{Nodes: nodes, OK: true}
	var first *Metrics
	for r := range p.File.Replicas {
		// One goroutine a trial: the search runs trials in parallel
		// already. The arrivals are the plan's, whatever the nodes.
		m, v, err := p.simulateAndJudge(ctx, p.designFile(g, nodes, p.File.Seed+uint64(r)), sim.Options{Workers: 1, Tapes: p.tapes, StopWhenMissed: !whole, NoSeries: true})
		if err != nil {
			return t, nil, err
		}
		if first == nil {
			first = m
		}
		t.Shortfall = math.Max(t.Shortfall, v.shortfall)
		if v.reason != "" && t.OK {
			t.OK, t.Reason, t.Detail, t.figures, t.behind = false, v.reason, v.detail, v.figures, m.behind
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
// on more nodes, moved toward the targets: a figure prev missed is now at
// most stallShare of what it was. Figures are compared one by one: the
// worst alone is pinned at its ceiling when no request met the SLO on
// either count (an attainment shortfall of 0.9/1e-6) however much the
// latencies fell. Whenever the worst fell to stallShare, the figure that
// was worst did too: this helps wherever comparing the worst alone did.
func helped(prev, t Trial) bool {
	for i, x := range prev.figures {
		if x > 1 && i < len(t.figures) && t.figures[i] <= stallShare*x && !math.IsInf(t.figures[i], 1) {
			return true
		}
	}
	return false
}

// guessHeadroom is how far above the count that just keeps up with the
// arrivals a guess looks: the latency targets need some slack.
const guessHeadroom = 1.1

// fellBehind is the ratio of arrivals to requests served above which a
// fleet fell behind: below it are the requests a run that keeps up still
// holds at its end.
const fellBehind = 1.05

// guess is the node count a failed trial points to when its fleet fell
// behind its arrivals: its count times the ratio of arrivals to requests
// served (Metrics.behind), and a tenth more. 0 when the trial does not
// say (it kept up, or served nothing). It only orders the trials: the
// answer is still bracketed by a failure and a pass one node apart.
func guess(t Trial) int {
	if t.OK || !(t.behind > fellBehind) || math.IsInf(t.behind, 0) {
		return 0
	}
	return int(math.Ceil(guessHeadroom * float64(t.Nodes) * t.behind))
}

// next is the doubling's next count after failure t: the guess when it
// is higher than t's count, else double; at most maxN.
func next(t Trial, maxN int) int {
	if g := guess(t); g > t.Nodes {
		return min(g, maxN)
	}
	return min(2*t.Nodes, maxN)
}

// searchGroup finds the smallest node count that meets every target:
// from the capacity bound, doubling (or jumping to where a fleet that
// fell behind points, guess) until a count passes (or max_nodes fails),
// then bisecting between the last failure and the first pass. It
// assumes more nodes never hurt, which holds for the routers the
// simulator has; the trials are kept so that a reader can check.
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
		t, m, err := p.trial(ctx, g, n, false)
		sims += p.File.Replicas
		if err != nil {
			return t, err
		}
		out.Trials = append(out.Trials, t)
		results[n] = m
		return t, nil
	}
	// whole runs a stopped trial again to the end of its window, in its
	// place in the trials.
	whole := func(t Trial) (Trial, error) {
		if t.StoppedS == 0 {
			return t, nil
		}
		w, m, err := p.trial(ctx, g, t.Nodes, true)
		sims += p.File.Replicas
		if err != nil {
			return t, err
		}
		for i := range out.Trials {
			if out.Trials[i].Nodes == t.Nodes {
				out.Trials[i] = w
			}
		}
		results[t.Nodes] = m
		return w, nil
	}
	maxN := p.File.Search.MaxNodes
	bad, good := b.MinNodes-1, 0
	var last Trial
	for n := b.MinNodes; ; n = next(last, maxN) {
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
		stalled := t.Reason != ReasonRejected && prev.Nodes > 0 && !helped(prev, t)
		if stalled && (prev.StoppedS > 0 || t.StoppedS > 0) {
			// A stopped run is judged on the part of its window before
			// its miss was certain, which differs between the two:
			// compare whole runs before giving up.
			if prev, err = whole(prev); err == nil {
				t, err = whole(t)
			}
			if err != nil {
				return out, sims, err
			}
			last = t
			stalled = !helped(prev, t)
		}
		if t.Reason == ReasonRejected || stalled {
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
		// Halving: guesses inside the bracket saved 0.4% of the simulated
		// time on two fleet-day shards, and a probe just under a pass
		// cost 3% more (a probe above the answer passes, and a pass runs
		// the whole window, where a failure mostly stops early).
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
