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
		func(p *perf.Profile, v float64) { p.Speculative.HeadCost = v }, nil},
	{"round_s", 1e-5, 0.05, func(p *perf.Profile) float64 { return p.Speculative.RoundS },
		func(p *perf.Profile, v float64) { p.Speculative.RoundS = v }, nil},
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
	fitted, held = splitExperiments(use)
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

// FitSpeculative searches the speculative coefficients of p in log space
// from the priors (DefaultSpeculative, whatever table p has, so that a
// refit writes the same values), minimising the capped squared log errors
// of specMetrics over exps; every other term stays p's. Two sweeps of
// golden sections, one coefficient at a time over its whole range, find
// the basin; Levenberg-Marquardt steps on the log errors (derivatives by
// central differences) then follow its valley to the bottom: head_cost and
// round_s trade off along it (a slower head and a cheaper round price the
// runs' rounds alike), where coordinates alone crawl. Deterministic.
func FitSpeculative(ctx context.Context, cat *catalog.Catalog, p perf.Profile, exps []Experiment, sweeps int) (SpecFit, error) {
	sc := perf.DefaultSpeculative()
	p.Speculative = &sc
	ev := prepare(cat, exps)
	n := len(SpecTerms)
	lo, hi := make([]float64, n), make([]float64, n)
	x := make([]float64, n)
	for i, t := range SpecTerms {
		lo[i], hi[i] = math.Log(t.Lo), math.Log(t.Hi)
		x[i] = math.Log(min(max(t.get(&p), t.Lo), t.Hi))
	}
	at := func(x []float64) perf.Profile {
		q := cloneSpec(p)
		for i, t := range SpecTerms {
			t.set(&q, math.Exp(x[i]))
		}
		return q
	}
	eval := func(x []float64) (float64, []float64) {
		s, logs, err := ev.specScore(ctx, at(x))
		if err != nil {
			return math.Inf(1), nil
		}
		return s.Loss, logs
	}
	cur, _ := eval(x)
	for range min(sweeps, 2) {
		for i := range n {
			y := slices.Clone(x)
			f := func(v float64) float64 { y[i] = v; l, _ := eval(y); return l }
			if v := fit.GoldenSection(f, lo[i], hi[i], 18).Best(); f(v) < cur {
				x[i], cur = v, f(v)
			}
		}
	}
	x, _ = ev.levenbergMarquardt(eval, x, cur, lo, hi, 10*sweeps)
	p = at(x)
	for _, t := range SpecTerms {
		t.set(&p, sig(t.get(&p)))
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

// levenbergMarquardt minimises eval's loss from x (loss cur) within
// [lo, hi], over the rows whose squared log error is under the cap, in at
// most iters steps: each solves (JᵀJ + λ·diag(JᵀJ)) δ = −Jᵀr for the log
// errors r and their derivatives J (central differences, ±1% in log space),
// taking δ when the loss falls (λ shrinks) and raising λ when it does not.
func (ev evaluator) levenbergMarquardt(eval func([]float64) (float64, []float64), x []float64, cur float64, lo, hi []float64, iters int) ([]float64, float64) {
	const h = 0.01
	n := len(x)
	lambda := 1e-3
	clamp := func(y []float64) {
		for i := range y {
			y[i] = min(max(y[i], lo[i]), hi[i])
		}
	}
	for range iters {
		_, r := eval(x)
		if r == nil {
			break
		}
		jac := make([][]float64, n)
		for i := range n {
			up, down := slices.Clone(x), slices.Clone(x)
			up[i] += h
			down[i] -= h
			_, ru := eval(up)
			_, rd := eval(down)
			if len(ru) != len(r) || len(rd) != len(r) {
				return x, cur
			}
			jac[i] = make([]float64, len(r))
			for k := range r {
				jac[i][k] = (ru[k] - rd[k]) / (2 * h)
			}
		}
		var a [2][2]float64
		var g [2]float64
		for k := range r {
			if r[k]*r[k] >= maxRowLoss {
				continue // capped: the loss does not move with it
			}
			for i := range n {
				g[i] += jac[i][k] * r[k]
				for j := range n {
					a[i][j] += jac[i][k] * jac[j][k]
				}
			}
		}
		moved := false
		for lambda < 1e8 {
			m00, m11, m01 := a[0][0]*(1+lambda), a[1][1]*(1+lambda), a[0][1]
			det := m00*m11 - m01*m01
			if !(det > 0) {
				lambda *= 4
				continue
			}
			y := []float64{x[0] - (m11*g[0]-m01*g[1])/det, x[1] - (m00*g[1]-m01*g[0])/det}
			clamp(y)
			if l, _ := eval(y); l < cur {
				step := math.Hypot(y[0]-x[0], y[1]-x[1])
				x, cur, moved = y, l, true
				lambda = max(lambda/3, 1e-7)
				if step < 1e-5 {
					return x, cur
				}
				break
			}
			lambda *= 4
		}
		if !moved {
			break
		}
	}
	return x, cur
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
