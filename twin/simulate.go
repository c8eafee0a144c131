package twin

import (
	"context"
	"time"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
)

// Simulation is a run's result: the simulation, what throttling cost it
// (if it throttled and ran to its end) and what it costs. It is what
// `fleettwin simulate --json` writes, what the dashboard keeps as a run's
// result.json, and what `fleettwin report` renders.
type Simulation struct {
	*sim.Result
	Throttling []sim.ThrottleCost `json:"throttling,omitempty"`
	Cost       *tco.Report        `json:"cost"`
	// Profiles says where the numbers come from: the provenance of each
	// profile the scenario uses (Profiles). Results written before it have
	// none.
	Profiles []perf.ProvenanceInfo `json:"profiles,omitempty"`
}

// Options are what the callers of Simulate differ in.
type Options struct {
	// SnapshotEvery is the simulated time between snapshots (0: sim's
	// default, a hundredth of the duration).
	SnapshotEvery engine.Time
	// OnSnapshot, if set, receives every snapshot (progress, live series).
	OnSnapshot func(sim.Snapshot)
	// OnRequest, if set, receives every request finished after warm-up.
	OnRequest func(sim.RequestRecord)
	// Pace holds the run to this multiple of real time from the call
	// (simulated seconds per real second); 0 runs as fast as possible.
	Pace float64
	// NoSeries skips the per-device time series (sim.Options.NoSeries):
	// for a caller that does not write or show them.
	NoSeries bool
	// Run simulates; nil is sim.Run. Tests replace it (a panicking job).
	Run func(context.Context, *scenario.Scenario, sim.Options) (*sim.Result, error)
}

// PricingError is Simulate's error when the run completed but pricing its
// throttling did not (the context ended during the rerun at full clock).
// The Simulation comes with it, costed, without Throttling.
type PricingError struct{ Err error }

func (e *PricingError) Error() string { return "pricing throttling: " + e.Err.Error() }
func (e *PricingError) Unwrap() error { return e.Err }

// CostError is Simulate's error when the result cannot be costed (a
// scenario that validation should have refused). The Simulation comes
// with it, without Cost. Its message is tco's.
type CostError struct{ Err error }

func (e *CostError) Error() string { return e.Err.Error() }
func (e *CostError) Unwrap() error { return e.Err }

// Simulate runs the scenario, prices its throttling when it throttled and
// ran to its end, and costs it.
//
// A run that ends early (the context ended, or an error) still returns
// what it simulated, costed but not priced, with the run's error, which
// callers tell apart with errors.Is (context.Canceled: stopped). Only a
// run that produced nothing returns a nil Simulation. A completed run
// returns a *PricingError or a *CostError if those steps fail.
func Simulate(ctx context.Context, sc *scenario.Scenario, opt Options) (*Simulation, error) {
	run := opt.Run
	if run == nil {
		run = sim.Run
	}
	so := sim.Options{SnapshotEvery: opt.SnapshotEvery, OnSnapshot: opt.OnSnapshot, OnRequest: opt.OnRequest, NoSeries: opt.NoSeries}
	if opt.Pace > 0 {
		so.Pacer = &wallPacer{start: time.Now(), speed: opt.Pace}
	}
	res, runErr := run(ctx, sc, so)
	if res == nil {
		return nil, runErr
	}
	out := &Simulation{Result: res, Profiles: Profiles(sc)}
	var err error
	if runErr == nil && res.Throttled() {
		var perr error
		if out.Throttling, perr = sim.PriceThrottling(ctx, sc, res); perr != nil {
			err = &PricingError{Err: perr}
		}
	}
	cost, cerr := tco.Evaluate(sc, res)
	out.Cost = cost
	switch {
	case runErr != nil:
		return out, runErr
	case err != nil:
		return out, err
	case cerr != nil:
		out.Cost = nil
		return out, &CostError{Err: cerr}
	}
	return out, nil
}
