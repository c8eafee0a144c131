package planner

import (
	"context"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// earlyDay is the day of a whole search's cheapest feasible candidate,
// simulated while the search settles the rest of the space once no
// candidate left could cost less (every bound left is above its cost):
// the winner's day is the longest run a plan makes, and the search's
// workers leave a core to it at the end of each wave. Finish takes it
// when that candidate wins instead of simulating the day again; the run
// is the one Finish would make, so the result is the same.
type earlyDay struct {
	index int
	done  chan struct{}
	stop  context.CancelFunc // ends the run (the day is not needed) or releases its context
	sc    *scenario.Scenario
	res   *sim.Result
	err   error
}

// startDay simulates o's day in the background, under a context of its
// own that outlives the search.
func (p *Plan) startDay(ctx context.Context, o *Outcome) *earlyDay {
	ctx, stop := context.WithCancel(ctx)
	d := &earlyDay{index: o.Index, done: make(chan struct{}), stop: stop}
	f := p.winnerFile(o, p.File.Seed+verifySeed, true)
	run := p.simulator() // the search's: the day may outlast a change to p.Simulate
	go func() {
		defer close(d.done)
		if d.sc, d.err = scenario.Resolve(f.Name, f, p.cat, p.profiles, p.files); d.err == nil {
			d.res, d.err = run(ctx, d.sc, sim.Options{})
		}
	}()
	return d
}

// settledCheapest is the cheapest of feasible (lowest index among equals)
// when no candidate still to search, viable from next on in order of
// their cost bounds, can cost as little; nil otherwise.
func settledCheapest(outcomes []Outcome, viable []int, next int, feasible []*Outcome) *Outcome {
	var best *Outcome
	for _, f := range feasible {
		if cheaper(f, best) {
			best = f
		}
	}
	if best == nil || next < len(viable) && !(outcomes[viable[next]].Bounds.USDPerHour > best.Metrics.USDPerHour) {
		return nil
	}
	return best
}
