package servefit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/fit"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

// Speculative decoding's coefficients (perf.SpeculativeCoefficients: the
// head's cost per draft step in layers of the target, the fixed cost per
// round) are fitted apart from the serving terms, on the published runs
// with speculative decoding of one device and engine, with the serving
// terms and step efficiencies held at the profile's: the speculative rows
// are what these two coefficients alone explain. Each run's acceptance is
// its own (validate reads the accepted tokens per round off its ITL over
// its TPOT), so the fit prices the rounds, not the drafts' quality.

// specMetrics are the metrics the speculative fit scores: those a round's
// cost sets. TTFT is left out: the prefill is the profile's, and its error
// (the FP8 TTFT of the non-speculative H100 SGLang run is 55% short in the
// twin) is no speculative coefficient's to absorb.
var specMetrics = []measure.Metric{measure.TPOTMean, measure.ITLMean, measure.E2EMean,
	measure.OutputTPSAggregate, measure.RequestRPS}

// SpecTerms are the speculative coefficients fitted, with their search
// ranges.
var SpecTerms = []Term{
	{"head_cost", 0.05, 200, func(p *perf.Profile) float64 { return p.Speculative.HeadCost },
		func(p *perf.Profile, v float64) { p.Speculative.HeadCost = v }},
	{"round_s", 1e-5, 0.05, func(p *perf.Profile) float64 { return p.Speculative.RoundS },
		func(p *perf.Profile, v float64) { p.Speculative.RoundS = v }},
}

// IsSpeculative reports whether a row runs speculative decoding.
func IsSpeculative(r *measure.Row) bool {
	_, ok := r.Settings.Get("speculative")
	return ok
}

// SplitSpeculative returns an engine's speculative serving experiments on
// a device, fitted and held out (every third, HeldOut), and the rows that
// could not be used with why.
func SplitSpeculative(rows []measure.Row, hardware, engine string) (fitted, held []Experiment, skipped []string) {
	var use []measure.Row
	for _, r := range rows {
		if !r.Kind.Serving() || r.Hardware != hardware || r.Engine != perf.NormalizeEngine(engine) || !IsSpeculative(&r) {
			continue
		}
		if err := validate.Runnable(&r); err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (%v)", r.ID, err))
			continue
		}
		use = append(use, r)
	}
	for i, g := range validate.Group(use) {
		e := Experiment{}
		for _, j := range g {
			e.Rows = append(e.Rows, use[j])
		}
		if HeldOut(i) {
			held = append(held, e)
		} else {
			fitted = append(fitted, e)
		}
	}
	return fitted, held, skipped
}

// specResiduals are a profile's log errors on the scored rows (uncapped),
// with the rows as FitRows.
func (ev evaluator) specScore(ctx context.Context, p perf.Profile) (Score, []float64, error) {
	set := perf.ProfileSet{}
	set.Add(p)
	res, err := ev.x.Reproduce(ctx, validate.Env{Catalog: ev.cat, Profiles: set})
	if err != nil {
		return Score{}, nil, err
	}
	var s Score
	var apes, logs []float64
	for _, r := range res {
		if r.Err != nil {
			return Score{}, nil, fmt.Errorf("experiment %s: %w", r.ID, r.Err)
		}
		pred := r.Predicted
		if !slices.Contains(specMetrics, r.Metric) || !(pred > 0) {
			continue
		}
		le := math.Log(pred / r.Value)
		logs = append(logs, le)
		s.Loss += min(le*le, maxRowLoss)
		apes = append(apes, r.APE())
		s.Results = append(s.Results, perf.FitRow{ID: r.ID, Measured: r.Value, Predicted: sig(pred), Unit: r.Metric.Unit(),
			ErrorPct: math.Round(1000*(pred-r.Value)/r.Value) / 10})
	}
	s.Rows = len(apes)
	if len(apes) > 0 {
		slices.Sort(apes)
		s.MedianAPE = median(apes)
		s.MaxAPE = apes[len(apes)-1]
	}
	return s, logs, nil
}

// EvaluateSpeculative scores profile p on speculative experiments (the
// metrics of specMetrics).
func EvaluateSpeculative(ctx context.Context, cat *catalog.Catalog, p perf.Profile, exps []Experiment) (Score, error) {
	s, _, err := prepare(cat, exps).specScore(ctx, p)
	return s, err
}

// SpecFit is the result of FitSpeculative.
type SpecFit struct {
	Profile perf.Profile // with its fitted [speculative] table
	Score   Score        // on the fitted experiments
	// HeadCostStdErr and RoundSStdErr are Gauss-Newton standard errors
	// (residual variance over rows − 2 degrees of freedom).
	HeadCostStdErr, RoundSStdErr float64
}

// FitSpeculative searches the speculative coefficients of p, one at a
// time in log space (golden section, up to sweeps passes, ending after a
// pass that moves neither), from the priors (DefaultSpeculative, whatever
// table p has, so that a refit writes the same values), minimising the
// capped squared log errors of specMetrics over exps; every other term
// stays p's. Deterministic.
func FitSpeculative(ctx context.Context, cat *catalog.Catalog, p perf.Profile, exps []Experiment, sweeps int) (SpecFit, error) {
	sc := perf.DefaultSpeculative()
	p.Speculative = &sc
	ev := prepare(cat, exps)
	loss := func(q perf.Profile) float64 {
		s, _, err := ev.specScore(ctx, q)
		if err != nil {
			return math.Inf(1)
		}
		return s.Loss
	}
	for range sweeps {
		moved := false
		for _, t := range SpecTerms {
			f := func(x float64) float64 {
				q := cloneSpec(p)
				t.set(&q, math.Exp(x))
				return loss(q)
			}
			x := fit.GoldenSection(f, math.Log(t.Lo), math.Log(t.Hi), 18).Best()
			if cur := t.get(&p); cur > 0 && f(math.Log(cur)) <= f(x) {
				continue
			}
			if v := sig(math.Exp(x)); v != t.get(&p) {
				t.set(&p, v)
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	s, logs, err := ev.specScore(ctx, p)
	if err != nil {
		return SpecFit{}, err
	}
	if err := ctx.Err(); err != nil {
		return SpecFit{}, err
	}
	se, err := ev.specStdErr(ctx, p, logs)
	if err != nil {
		return SpecFit{}, err
	}
	return SpecFit{Profile: p, Score: s, HeadCostStdErr: se[0], RoundSStdErr: se[1]}, nil
}

// specStdErr is the Gauss-Newton standard error of each SpecTerm at p:
// s²(JᵀJ)⁻¹ with J the log errors' derivatives by central differences
// (±5%: the simulator's events make smaller steps noisy) and s² the
// residual variance over n − 2 degrees of freedom.
func (ev evaluator) specStdErr(ctx context.Context, p perf.Profile, logs []float64) ([2]float64, error) {
	n := len(logs)
	nan := [2]float64{math.NaN(), math.NaN()}
	if n <= len(SpecTerms) {
		return nan, nil
	}
	var jac [2][]float64
	for i, t := range SpecTerms {
		v := t.get(&p)
		h := 0.05 * v
		at := func(x float64) ([]float64, error) {
			q := cloneSpec(p)
			t.set(&q, x)
			_, l, err := ev.specScore(ctx, q)
			return l, err
		}
		up, err := at(v + h)
		if err != nil {
			return nan, err
		}
		down, err := at(v - h)
		if err != nil {
			return nan, err
		}
		if len(up) != n || len(down) != n {
			return nan, nil // a row stopped predicting: no derivative
		}
		jac[i] = make([]float64, n)
		for r := range n {
			jac[i][r] = (up[r] - down[r]) / (2 * h)
		}
	}
	var a, b, c, ssr float64 // JᵀJ = [[a, b], [b, c]]
	for r := range n {
		a += jac[0][r] * jac[0][r]
		b += jac[0][r] * jac[1][r]
		c += jac[1][r] * jac[1][r]
		ssr += logs[r] * logs[r]
	}
	det := a*c - b*b
	if !(det > 0) {
		return [2]float64{math.Inf(1), math.Inf(1)}, nil
	}
	s2 := ssr / float64(n-len(SpecTerms))
	return [2]float64{math.Sqrt(s2 * c / det), math.Sqrt(s2 * a / det)}, nil
}

func cloneSpec(p perf.Profile) perf.Profile {
	p = clone(p)
	if p.Speculative != nil {
		s := *p.Speculative
		p.Speculative = &s
	}
	return p
}

// DescribeSpeculative is the [speculative] table's source: what it was
// fitted on and its error there and on the held-out experiments.
func DescribeSpeculative(f SpecFit, held Score, fitted, heldOut []Experiment, data string) string {
	names := func(exps []Experiment) string {
		var ids []string
		for _, e := range exps {
			id := e.Rows[0].ID // <experiment>-<metric>, as the published files name rows
			if i := strings.LastIndex(id, "-"); i > 0 {
				id = id[:i]
			}
			ids = append(ids, id)
		}
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("fitted by `fleettwin profile fit-speculative` (package servefit, simulator in the loop) on %d speculative experiments of %s "+
		"(%d rows of TPOT, ITL, E2E, output and request rate; each run's acceptance read from its ITL over its TPOT), median error %.1f%%, max %.1f%%; "+
		"held out every third experiment (%s): %d rows, median %.1f%%, max %.1f%%; serving terms and step efficiencies are the profile's",
		len(fitted), data, f.Score.Rows, f.Score.MedianAPE, f.Score.MaxAPE, names(heldOut), held.Rows, held.MedianAPE, held.MaxAPE)
}
