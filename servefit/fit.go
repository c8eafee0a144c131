// Package servefit fits the serving terms of a profile (perf.Serving: the
// front end's latency and throughput, the scheduler's CPU time per step)
// and the step model's efficiencies to published serving measurements, with
// the simulator in the loop: each experiment the rows describe (a closed
// loop of clients, a burst of requests) is reproduced by package validate
// (validate.Prepare, Experiments.Reproduce: the generated scenario run in
// sim, the metrics computed as `vllm bench serve` does), the same
// reproduction `fleettwin validate` scores, and the terms are searched to
// minimise its error.
//
// It sits at floor 4 next to calibrate: it runs validate, which builds
// scenarios and runs sim. Rows are read with measure.Read.
package servefit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/fit"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

// Fitted metrics: the means and aggregates. p99 rows are reproduced but
// not fitted (one long tail can pull the terms away from the bulk).
var fittedMetrics = []measure.Metric{measure.TTFTMean, measure.TPOTMean, measure.ITLMean, measure.E2EMean,
	measure.OutputTPSAggregate, measure.RequestRPS}

// maxRowLoss caps one row's squared log error (a factor of e^0.5, 65%).
const maxRowLoss = 0.25

// HeldOut reports whether the fit leaves an experiment out: every third
// experiment of the engine, in file order (the 3rd, 6th, ...), so the
// profile's error is measured on experiments it never saw.
func HeldOut(index int) bool { return index%3 == 2 }

// Term is one fitted parameter: where it lives in the profile and the
// range the search keeps it in.
type Term struct {
	Name   string
	Lo, Hi float64
	get    func(*perf.Profile) float64
	set    func(*perf.Profile, float64)
	// applies reports whether rows can identify the term; nil: always.
	// A term they cannot is not searched (its loss is flat) and not
	// listed as fitted.
	applies func(cat *catalog.Catalog, rows []measure.Row) bool
}

// Terms are the parameters fitted: the front end's latency and
// throughput, the scheduler's CPU time per step and per sequence, and the
// step model's weight-streaming efficiency (decode of these dense models
// is bandwidth-bound, so it sets TPOT at low concurrency), prefill GEMM and
// attention efficiencies (long prompts under bursts), and FP8 weights'
// GEMM efficiency relative to bf16's (fp8_compute_rel), where experiments
// of both formats tell them apart.
var Terms = []Term{
	{"request_s", 1e-3, 0.2, func(p *perf.Profile) float64 { return p.Serving.RequestS }, func(p *perf.Profile, v float64) { p.Serving.RequestS = v }, nil},
	{"frontend_rps", 5, 500, func(p *perf.Profile) float64 { return p.Serving.FrontendRPS }, func(p *perf.Profile, v float64) { p.Serving.FrontendRPS = v }, nil},
	{"step_s", 1e-5, 0.01, func(p *perf.Profile) float64 { return p.Serving.StepS }, func(p *perf.Profile, v float64) { p.Serving.StepS = v }, nil},
	{"step_per_seq_s", 1e-7, 0.005, func(p *perf.Profile) float64 { return p.Serving.StepPerSeqS }, func(p *perf.Profile, v float64) { p.Serving.StepPerSeqS = v }, nil},
	{"weight_bandwidth_eff", 0.5, 1, func(p *perf.Profile) float64 { return p.Coefficients.WeightBandwidthEff },
		func(p *perf.Profile, v float64) { p.Coefficients.WeightBandwidthEff = v }, nil},
	{"prefill_compute_eff", 0.2, 1, func(p *perf.Profile) float64 { return p.Coefficients.PrefillComputeEff },
		func(p *perf.Profile, v float64) { p.Coefficients.PrefillComputeEff = v }, nil},
	{"attention_compute_eff", 0.05, 1, func(p *perf.Profile) float64 { return p.Coefficients.AttentionComputeEff },
		func(p *perf.Profile, v float64) { p.Coefficients.AttentionComputeEff = v }, nil},
	{"fp8_compute_rel", 0.25, 2, func(p *perf.Profile) float64 { return p.Coefficients.FP8ComputeRel },
		func(p *perf.Profile, v float64) { p.Coefficients.FP8ComputeRel = v }, hasFP8Weights},
}

// hasFP8Weights reports whether rows run both FP8 weights and weights of
// another format: with FP8 alone, fp8_compute_rel and the base
// efficiencies are one product and the split is arbitrary.
func hasFP8Weights(cat *catalog.Catalog, rows []measure.Row) bool {
	var fp8, other bool
	for _, r := range rows {
		f, err := cat.Format(r.Quant)
		if err != nil {
			continue
		}
		if f.Compute == "fp8" {
			fp8 = true
		} else {
			other = true
		}
	}
	return fp8 && other
}

// Score is a profile's error on a set of experiments.
type Score struct {
	Loss      float64 // Σ squared log errors over the fitted metrics, each capped at maxRowLoss
	Rows      int     // rows scored
	MedianAPE float64 // %
	MaxAPE    float64 // %
	Results   []perf.FitRow
	// Held are the step-model efficiencies Fit kept at their datasheet
	// prior because the search put them on a bound of their range: the
	// experiments do not pin them down (Fit's doc).
	Held []string
	// Fitted are the terms Fit set: Terms less those held and those the
	// experiments cannot identify (Term.applies).
	Fitted []string
}

// Experiment is one published run: the rows read off it share its
// conditions (measure.Experiment).
type Experiment struct {
	Rows []measure.Row
}

// Evaluate runs every experiment with profile p and scores the rows whose
// metric is fitted.
func Evaluate(ctx context.Context, cat *catalog.Catalog, p perf.Profile, exps []Experiment) (Score, error) {
	return prepare(cat, exps).score(ctx, p)
}

// evaluator is a set of experiments prepared once (validate.Prepare) and
// scored against each candidate profile.
type evaluator struct {
	cat  *catalog.Catalog
	rows []measure.Row // every experiment's
	x    *validate.Experiments
}

func prepare(cat *catalog.Catalog, exps []Experiment) evaluator {
	var rows []measure.Row
	for _, e := range exps {
		rows = append(rows, e.Rows...)
	}
	return evaluator{cat: cat, rows: rows, x: validate.Prepare(rows)}
}

// score reproduces the experiments with p alone in the profile set.
func (ev evaluator) score(ctx context.Context, p perf.Profile) (Score, error) {
	set := perf.ProfileSet{}
	set.Add(p)
	res, err := ev.x.Reproduce(ctx, validate.Env{Catalog: ev.cat, Profiles: set})
	if err != nil {
		return Score{}, err
	}
	var s Score
	var apes []float64
	for _, r := range res {
		if r.Err != nil {
			return Score{}, fmt.Errorf("experiment %s: %w", r.ID, r.Err)
		}
		pred := r.Predicted
		if !slices.Contains(fittedMetrics, r.Metric) || !(pred > 0) {
			continue
		}
		// Squared log error, capped: a row the model cannot follow (the
		// 4-token bursts' TPOT, set by the API server's streaming) must
		// not pull every term towards itself.
		le := math.Log(pred / r.Value)
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
	return s, nil
}

// Fit searches the terms, one at a time in log space (golden-section on
// each, up to sweeps passes, ending early after a pass that moves no term),
// minimising the loss over exps. Each candidate is scored by reproducing
// the experiments, prepared once, with package validate. It is
// deterministic: the same profile and experiments give the same terms.
//
// A step-model efficiency that ends on a bound of its range is not
// identified by the experiments: the search pushed it there to absorb
// another term's error (SGLang's three experiments, all of short prompts,
// drove attention_compute_eff to 0.05, the floor, and the held-out burst
// of long prompts off by 21%). Such a term goes back to its datasheet
// prior, is named in Score.Held, and the others are searched again.
func Fit(ctx context.Context, cat *catalog.Catalog, p perf.Profile, exps []Experiment, sweeps int) (perf.Profile, Score, error) {
	p = clone(p) // the search sets terms through p.Serving: leave the caller's alone
	if p.Serving == nil {
		p.Serving = &perf.Serving{}
	}
	ev := prepare(cat, exps)
	start := clone(p)
	held := map[string]bool{}
	for _, t := range Terms {
		if t.applies != nil && !t.applies(cat, ev.rows) {
			held[t.Name] = true
		}
	}
	var heldNames []string
	for {
		p = search(ctx, ev, p, sweeps, held)
		bound := false
		for _, t := range Terms {
			v := t.get(&p)
			if held[t.Name] || !stepTerm(t.Name) || !(v <= t.Lo*1.01 || v >= t.Hi*0.99) {
				continue
			}
			t.set(&p, t.get(&start))
			held[t.Name], bound = true, true
			heldNames = append(heldNames, t.Name)
		}
		if !bound {
			break
		}
	}
	s, err := ev.score(ctx, p)
	s.Held = heldNames
	for _, t := range Terms {
		if !held[t.Name] {
			s.Fitted = append(s.Fitted, t.Name)
		}
	}
	return p, s, err
}

// stepTerm reports whether a term is one of the step model's
// efficiencies, which go back to their prior when left on a bound.
func stepTerm(name string) bool {
	return strings.HasSuffix(name, "_eff") || strings.HasSuffix(name, "_rel")
}

// search is Fit's coordinate search over the terms not held.
func search(ctx context.Context, ev evaluator, p perf.Profile, sweeps int, held map[string]bool) perf.Profile {
	loss := func(q perf.Profile) float64 {
		s, err := ev.score(ctx, q)
		if err != nil {
			return math.Inf(1)
		}
		return s.Loss
	}
	for range sweeps {
		moved := false
		for _, t := range Terms {
			if held[t.Name] {
				continue
			}
			lo, hi := math.Log(t.Lo), math.Log(t.Hi)
			f := func(x float64) float64 {
				q := clone(p)
				t.set(&q, math.Exp(x))
				return loss(q)
			}
			x := fit.GoldenSection(f, lo, hi, 18).Best()
			if cur := t.get(&p); cur > 0 && f(math.Log(cur)) <= f(x) {
				continue
			}
			if v := sig(math.Exp(x)); v != t.get(&p) {
				t.set(&p, v)
				moved = true
			}
		}
		if !moved {
			break // a sweep that moves nothing repeats itself: the rest would too
		}
	}
	return p
}

func clone(p perf.Profile) perf.Profile {
	if p.Serving != nil {
		s := *p.Serving
		p.Serving = &s
	}
	return p
}

// sig rounds to 4 significant digits, so profiles read well and refits
// that move nothing write the same bytes.
func sig(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 4, 64), 64)
	return r
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// Split returns an engine's usable serving experiments on a device, fitted
// and held out (HeldOut), and the rows that could not be used with why.
func Split(rows []measure.Row, hardware, engine string) (fit, held []Experiment, skipped []string) {
	var use []measure.Row
	for _, r := range rows {
		if !r.Kind.Serving() || r.Hardware != hardware || r.Engine != perf.NormalizeEngine(engine) {
			continue
		}
		if why := Usable(&r); why != "" {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", r.ID, why))
			continue
		}
		use = append(use, r)
	}
	fit, held = splitExperiments(use)
	return fit, held, skipped
}

// splitExperiments groups rows into experiments (validate.Group) and holds
// out every third (HeldOut).
func splitExperiments(use []measure.Row) (fit, held []Experiment) {
	for i, g := range validate.Group(use) {
		e := Experiment{}
		for _, j := range g {
			e.Rows = append(e.Rows, use[j])
		}
		if HeldOut(i) {
			held = append(held, e)
		} else {
			fit = append(fit, e)
		}
	}
	return fit, held
}

// Usable reports why the fit does not use a row, or "" if it does: the
// twin cannot reproduce it yet (validate.Runnable: speculative decoding,
// tensor parallelism, ...), or it names a non-default attention backend,
// which validate runs as the default one but which would pull the
// default's efficiencies.
func Usable(r *measure.Row) string {
	if err := validate.Runnable(r); err != nil {
		return err.Error()
	}
	if _, ok := r.Settings.Get("attention_backend"); ok {
		return "a non-default attention backend is not modelled"
	}
	if _, ok := r.Settings.Get("speculative"); ok {
		return "speculative decoding: fitted apart (FitSpeculative, profile fit-speculative)"
	}
	return ""
}
