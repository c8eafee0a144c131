package calibrate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/fit"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// sharingCoefficient is the coefficient of perf.Sharing that the together
// experiments of one sharing mode fit, and the range it is searched in.
type sharingCoefficient struct {
	mode   scenario.Sharing
	name   string // its key in the profile's [sharing] table
	lo, hi func(perf.Sharing) float64
	get    func(perf.Sharing) float64
	set    func(s *perf.Sharing, v, stderr float64)
	// acts says when the simulator's replays depend on it: why a run's
	// together experiments may leave it unidentified.
	acts string
}

// sharingCoefficients are the modes with a coefficient of their own: under
// MPS the kernels of both servers run at once and their memory demands
// add up by mps_memory_contention; under time-slicing each switch of
// context costs switch_s (time_slice_s is a driver setting, read only as
// switch_s / time_slice_s, so switch_s is what a fit sets). One-process
// has none: its steps alternate, which the simulator needs no coefficient
// for, and what remains is interference's.
var sharingCoefficients = []sharingCoefficient{
	{mode: scenario.MPS, name: "mps_memory_contention",
		lo:  func(perf.Sharing) float64 { return 0 },
		hi:  func(perf.Sharing) float64 { return 1 },
		get: func(s perf.Sharing) float64 { return s.MPSMemoryContention },
		set: func(s *perf.Sharing, v, se float64) {
			s.MPSMemoryContention, s.MPSMemoryContentionStdErr = v, se
		}, acts: "it acts only while the instances computing at once ask for more memory bandwidth than the device has"},
	{mode: scenario.TimeSlice, name: "switch_s",
		lo:  func(perf.Sharing) float64 { return 0 },
		hi:  func(s perf.Sharing) float64 { return 0.9 * s.TimeSliceS },
		get: func(s perf.Sharing) float64 { return s.SwitchS },
		set: func(s *perf.Sharing, v, se float64) {
			s.SwitchS, s.SwitchSStdErr = v, se
		}, acts: "it acts only while two instances want the GPU at once"},
}

// fitSharing fits, for each sharing mode the run measured that has a
// coefficient of its own (sharingCoefficients), that coefficient to the
// mode's together experiments not held out, and writes it, with its
// standard error and a source, into the profile's [sharing] table; the
// other coefficients keep the prior's (perf.DefaultSharing), and a mode
// whose replays do not move with its coefficient keeps the prior's too,
// saying so.
//
// The search is golden-section on the coefficient's range, with the
// replays' cost the mean squared log error of their median TPOT and E2E
// (as the interference fit's), interference held at 0: the sharing
// explains what it can first, and the interference fit that follows
// takes what it leaves (interference is what slows co-located instances
// beyond the sharing of compute and bandwidth), so where a mode has no
// coefficient, interference is fitted as before.
//
// The standard error is from the curvature of that cost at the optimum,
// the Gauss-Newton approximation of least squares: with S(x) the sum of
// the n squared log errors, σ² = S(x̂)/(n−1) and Var(x̂) ≈ 2σ²/S″(x̂),
// S″ by a second difference 5% of the range wide. It is NaN where the
// cost does not curve up (the coefficient is not identified there), and
// at a bound of the range it understates the uncertainty on the far side.
// The held-out error in the source is the median |error| of the median
// TPOT and E2E of the mode's held-out together experiments, replayed at
// the fitted value.
func (r *Run) fitSharing(ctx context.Context, cat *catalog.Catalog, p *perf.Profile, rep *FitReport) error {
	sh := p.Sharing.OrDefault()
	var sources []string
	for _, c := range sharingCoefficients {
		var on, held []Experiment
		for _, e := range r.Experiments {
			if e.Kind != Together || e.Sharing != c.mode || r.Measured[e.ID] == nil {
				continue
			}
			if e.HeldOut {
				held = append(held, e)
			} else {
				on = append(on, e)
			}
		}
		if len(on) == 0 {
			continue
		}
		q := *p
		q.Interference = 0
		sub := &Run{Dir: r.Dir, State: r.State, Plan: r.Plan, Experiments: on, Measured: r.Measured}
		var ferr error
		n := 0
		cost := func(x float64) float64 {
			s := sh
			c.set(&s, x, 0)
			q.Sharing = &s
			v, k, err := sub.replayCost(ctx, cat, q)
			if err != nil && ferr == nil {
				ferr = err
			}
			n = k
			return v
		}
		lo, hi := c.lo(sh), c.hi(sh)
		b := fit.GoldenSection(cost, lo, hi, 18)
		x, fx := b.Best(), min(b.FC, b.FD)
		flo, fhi := cost(lo), cost(hi)
		if flo <= fx {
			x, fx = lo, flo
		}
		if fhi < fx {
			x, fx = hi, fhi
		}
		if ferr != nil {
			return fmt.Errorf("fit %s: %w", c.name, ferr)
		}
		what := fmt.Sprintf("%s of run %s (%s)", plural(len(on), "together experiment"), r.State.ID, c.mode)
		if spread := math.Max(math.Max(flo, fhi), fx) - fx; !(spread > 1e-12) {
			sources = append(sources, fmt.Sprintf("%s prior kept: the replays of %s do not move with it (%s)", c.name, what, c.acts))
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s not fitted: the replays of %s do not move with it (%s); interference takes the co-location slowdown", c.name, what, c.acts))
			continue
		}
		x = sig(x, 4)
		se := sig(curvatureStdErr(cost, x, fx, lo, hi, n), 2)
		if !(se > 0) || math.IsInf(se, 0) {
			// The error does not curve up at the optimum (it is flat, or
			// still falling at a bound): the replays do not pin a value,
			// and a number without an uncertainty would claim they do.
			sources = append(sources, fmt.Sprintf("%s prior kept: the replays of %s do not identify it (their error does not curve up at %.4g)", c.name, what, x))
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s not fitted: the replays of %s do not identify it (best %.4g on [%.4g, %.4g], no curvature there); interference takes the co-location slowdown", c.name, what, x, lo, hi))
			continue
		}
		c.set(&sh, x, se)
		heldErr := "no together experiment held out"
		if len(held) > 0 {
			q.Sharing = &sh
			hsub := &Run{Dir: r.Dir, State: r.State, Plan: r.Plan, Experiments: held, Measured: r.Measured}
			if med, k, err := hsub.medianErr(ctx, cat, q); err != nil {
				return fmt.Errorf("fit %s: held-out replays: %w", c.name, err)
			} else if k > 0 {
				heldErr = fmt.Sprintf("held-out error %.1f%% (median |error| of TPOT and E2E p50 over %s)", med, plural(len(held), "held-out experiment"))
			}
		}
		sources = append(sources, fmt.Sprintf("%s fitted on %s, %s", c.name, what, heldErr))
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s %.4g ± %.2g on %s (rms log error %.3f); %s", c.name, x, se, what, math.Sqrt(fx), heldErr))
	}
	if len(sources) == 0 {
		modes := slices.Collect(func(yield func(string) bool) {
			for _, c := range sharingCoefficients {
				if !yield(string(c.mode)) {
					return
				}
			}
		})
		rep.Notes = append(rep.Notes, fmt.Sprintf("sharing coefficients not fitted: no together experiments of a mode with one (%s)", strings.Join(modes, ", ")))
		return nil
	}
	sh.Source = strings.Join(sources, "; ")
	p.Sharing = &sh
	return nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// sig rounds x to n significant digits, so a profile says what a fit
// resolves and no more.
func sig(x float64, n int) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', n, 64), 64)
	return v
}

// curvatureStdErr is the standard error of a least-squares optimum x of
// f = S/n (see fitSharing) from f's second difference at x, one-sided at
// a bound of [lo, hi]; NaN where f does not curve up there.
func curvatureStdErr(f func(float64) float64, x, fx, lo, hi float64, n int) float64 {
	h := 0.05 * (hi - lo)
	if n < 2 || !(h > 0) {
		return math.NaN()
	}
	var d2 float64
	switch {
	case x-h >= lo && x+h <= hi:
		d2 = (f(x+h) - 2*fx + f(x-h)) / (h * h)
	case x-h < lo:
		d2 = (f(x+2*h) - 2*f(x+h) + fx) / (h * h)
	default:
		d2 = (fx - 2*f(x-h) + f(x-2*h)) / (h * h)
	}
	if !(d2 > 0) {
		return math.NaN()
	}
	// S = n·f, σ² = S(x)/(n−1), Var = 2σ²/S″ = 2·f(x)/((n−1)·f″).
	return math.Sqrt(2 * fx / (float64(n-1) * d2))
}

// replayCost replays the run's experiments with p and returns the mean
// squared log error of their median TPOT and E2E, a model with no
// simulated completion counting as off by e^3 (as the interference fit
// does), and how many comparisons it averaged.
func (r *Run) replayCost(ctx context.Context, cat *catalog.Catalog, p perf.Profile) (float64, int, error) {
	no := false
	cs, err := r.Compare(ctx, cat, p, &no, ReplayOptions{})
	if err != nil {
		return 0, 0, err
	}
	var s float64
	var n int
	for _, c := range cs {
		if c.Metric == "tpot_p50" || c.Metric == "e2e_p50" {
			d := math.Log(c.Predicted / c.Measured)
			s += d * d
			n++
		}
	}
	want := 0
	for _, e := range r.Experiments {
		want += 2 * len(e.Models)
	}
	s += 9 * float64(max(want-n, 0))
	return s / float64(max(want, 1)), max(want, n), nil
}

// medianErr replays the run's (held-out) experiments with p: the median
// |error| in percent of their median TPOT and E2E, and how many there were.
func (r *Run) medianErr(ctx context.Context, cat *catalog.Catalog, p perf.Profile) (float64, int, error) {
	yes := true
	cs, err := r.Compare(ctx, cat, p, &yes, ReplayOptions{})
	if err != nil {
		return 0, 0, err
	}
	var errs []float64
	for _, c := range cs {
		if c.Metric == "tpot_p50" || c.Metric == "e2e_p50" {
			errs = append(errs, math.Abs(c.ErrorPct()))
		}
	}
	if len(errs) == 0 {
		return math.NaN(), 0, nil
	}
	return percentiles(errs).P50, len(errs), nil
}
