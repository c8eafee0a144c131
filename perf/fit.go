package perf

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/fleettwin/fleettwin/fit"
)

// Observation is one measurement to fit against: the steps an engine ran and
// the wall time they took. Rate measurements (tokens/s) become one of these
// with Work tokens done in Seconds.
type Observation struct {
	ID      string
	Model   *StepModel // the instance measured; its profile's coefficients are ignored
	Steps   []Batch
	Seconds float64 // measured wall time of Steps
	Work    float64 // tokens the measurement counts, so rate = Work / Seconds
	Unit    string  // unit of the rate, e.g. "tok/s"
}

// Rate is the measured rate (Work per second).
func (o Observation) Rate() float64 { return o.Work / o.Seconds }

// FitResult is a fitted profile and how well it reproduces each observation.
type FitResult struct {
	Profile    Profile
	Rows       []FitRow
	Iterations int
}

// FitProfile fits the coefficients of prior to the observations, keeping the
// prior's value for every coefficient the data cannot inform (for example a
// decode compute efficiency when every decode step measured was memory-bound).
//
// The model max(compute, memory) + overhead is linear in the inverse
// efficiencies and the overheads once each step's regime (compute- or
// memory-bound) is known, so the fit alternates: assign regimes with the
// current coefficients, solve a non-negative least-squares problem on the
// relative errors with every efficiency constrained to at most 1
// (1/eff = 1 + z, z >= 0), repeat until the regimes stop changing.
func FitProfile(prior Profile, obs []Observation) (FitResult, error) {
	return FitProfileFixing(prior, obs, nil)
}

// FitProfileFixing is FitProfile holding the named term coefficients at
// the prior's values (a term the data inform only through rows that
// contradict others, say).
func FitProfileFixing(prior Profile, obs []Observation, fixed []string) (FitResult, error) {
	return FitProfileWith(prior, obs, FitOptions{Fixed: fixed})
}

// FitOptions say which coefficients a fit holds and which shape
// coefficients it searches.
type FitOptions struct {
	// Fixed names term coefficients held at the prior's values.
	Fixed []string
	// With names the optional coefficients to fit beyond the rest: the
	// shape coefficients (serial_fraction, expert_overlap, set by a 1-D
	// search) and the opt-in terms (multi_seq_expert_pass, attention_depth). Those not named
	// keep the prior's value (0 in every prior: the model before them).
	With []string
}

// searchRounds is how many passes of coordinate search the shape
// coefficients and format families get when a fit searches shapes.
const searchRounds = 5

// FitProfileWith is FitProfile with options.
func FitProfileWith(prior Profile, obs []Observation, opts FitOptions) (FitResult, error) {
	fixed := slices.Clone(opts.Fixed)
	for _, f := range fixed {
		if !slices.Contains(termNames[:], f) {
			return FitResult{}, fmt.Errorf("fit: cannot fix %q: not a term; terms: %v", f, termNames)
		}
	}
	optional := slices.Clone(optInTerms)
	var search []string
	for _, sh := range prior.Coefficients.shapes() {
		optional = append(optional, sh.name)
	}
	for _, n := range opts.With {
		if !slices.Contains(optional, n) {
			return FitResult{}, fmt.Errorf("fit: %q is not an optional coefficient; optional: %v", n, optional)
		}
		if !slices.Contains(optInTerms, n) {
			search = append(search, n)
		}
	}
	for _, n := range optInTerms {
		if !slices.Contains(opts.With, n) && !slices.Contains(fixed, n) {
			fixed = append(fixed, n)
		}
	}
	if len(obs) == 0 {
		return FitResult{}, errors.New("fit: no observations")
	}
	for _, o := range obs {
		if !(o.Seconds > 0) || len(o.Steps) == 0 || o.Model == nil {
			return FitResult{}, fmt.Errorf("fit: observation %s has no steps, model or positive time", o.ID)
		}
	}
	if err := prior.Coefficients.validate(); err != nil {
		return FitResult{}, fmt.Errorf("fit: prior: %w", err)
	}
	// The format families' relative compute efficiencies scale whole
	// terms, and the shape coefficients change how terms combine, so none
	// is a linear coefficient: each is set by a 1-D search (golden section,
	// on the logarithm for a family) around the linear fit of everything
	// else, one after the other, in searchRounds passes when shapes are
	// searched (one pass over the families otherwise).
	coef := prior.Coefficients
	score := func(c Coefficients) float64 {
		lf, err := fitLinear(c, rebind(obs, c), fixed)
		if err != nil {
			return math.Inf(1)
		}
		return lf.objective
	}
	rounds := 1
	if len(search) > 0 {
		rounds = searchRounds
	}
	for range rounds {
		for _, fam := range families(obs) {
			lo, hi := math.Log(1/maxComputeRel), math.Log(maxComputeRel)
			f := func(logRel float64) float64 {
				c := coef
				c.setRel(fam, math.Exp(logRel))
				return score(c)
			}
			coef.setRel(fam, round(math.Exp(fit.GoldenSection(f, lo, hi, 40).Mid()), 4))
		}
		for _, sh := range coef.shapes() {
			if !slices.Contains(search, sh.name) {
				continue
			}
			f := func(v float64) float64 {
				c := coef
				c.setShape(sh.name, v)
				return score(c)
			}
			// The bound 0 (the model without it) is a candidate of its
			// own: golden section never lands on an end.
			v := round(fit.GoldenSection(f, 0, sh.hi*(1-1e-3), 40).Mid(), 4)
			if f(0) <= f(v) {
				v = 0
			}
			coef.setShape(sh.name, v)
		}
	}
	lf, err := fitLinear(coef, rebind(obs, coef), fixed)
	if err != nil {
		return FitResult{}, err
	}
	p := prior
	p.Coefficients = coef.withVector(lf.x)
	var se [numTerms]float64
	var fitted []string
	for i := range se {
		if !lf.use[i] {
			continue
		}
		fitted = append(fitted, termNames[i])
		se[i] = lf.stderr[i]
		if isEfficiency(i) { // d(1/x) = dx / x²
			se[i] = lf.stderr[i] / (lf.x[i] * lf.x[i])
		}
	}
	for _, r := range coef.rels() {
		if slices.Contains(families(obs), r.family) {
			fitted = append(fitted, r.name)
		}
	}
	for _, sh := range coef.shapes() {
		if slices.Contains(search, sh.name) {
			fitted = append(fitted, sh.name)
		}
	}
	p.StdErr = coefficientsFrom(se)
	p.Provenance.Method = "fit"
	p.Provenance.Fitted = fitted
	p.Rows = Evaluate(p, obs)
	return FitResult{Profile: p, Rows: p.Rows, Iterations: lf.iterations}, nil
}

// linearFit is the NNLS fit of the term coefficients with the format
// families' relative efficiencies held fixed.
type linearFit struct {
	x          [numTerms]float64 // multipliers: 1/efficiency or the coefficient
	use        [numTerms]bool
	stderr     [numTerms]float64
	objective  float64
	iterations int
}

// fitLinear alternates regime assignment and NNLS from prior's
// coefficients (see FitProfile), keeping the prior where the data say
// nothing.
func fitLinear(prior Coefficients, obs []Observation, fixed []string) (linearFit, error) {
	var mask [numTerms]bool
	for i, n := range termNames {
		mask[i] = slices.Contains(fixed, n)
	}
	best, err := fitLinearFrom(prior, prior.vector(), obs, &mask)
	if err != nil {
		return best, err
	}
	// The regimes are fixed per iteration, so a compute term that starts at
	// 0 can never make a memory-bound step compute-bound: start again from
	// seeds where that term is large enough to, and keep the better fit.
	for i, seed := range fitSeeds {
		if seed == 0 || prior.vector()[i] != 0 || mask[i] {
			continue
		}
		x := prior.vector()
		x[i] = seed
		f, err := fitLinearFrom(prior, x, obs, &mask)
		if err == nil && f.objective < best.objective {
			best = f
		}
	}
	return best, nil
}

// fitSeeds are starting values for the compute terms whose prior is 0: an
// expert GEMM costing 10 µs per touched expert and layer makes a 128-token
// MoE prefill compute-bound on the DGX Spark, as measured.
var fitSeeds = [numTerms]float64{termExpertGEMM: 10e-6, termAttentionDepth: 0.5}

func fitLinearFrom(prior Coefficients, x [numTerms]float64, obs []Observation, fixed *[numTerms]bool) (linearFit, error) {
	best := linearFit{x: x, objective: math.Inf(1)}
	var prevRegimes []bool
	iter := 0
	for iter = 1; iter <= 50; iter++ {
		A, offset, regimes := design(obs, &x, fixed)
		next, use, stderr, err := solve(A, offset)
		if err != nil {
			return linearFit{}, err
		}
		for i := range next {
			if !use[i] {
				next[i] = prior.vector()[i] // keep the prior where the data say nothing
			}
		}
		if o := objective(obs, &next); o < best.objective {
			best = linearFit{x: next, use: use, stderr: stderr, objective: o}
		}
		x = next
		if prevRegimes != nil && equalBools(regimes, prevRegimes) {
			break
		}
		prevRegimes = regimes
	}
	best.iterations = iter
	return best, nil
}

// families lists the non-base weight-format families the observations
// hold, sorted.
func families(obs []Observation) []string {
	var out []string
	for _, o := range obs {
		if f := formatFamily(o.Model.inst.Weights); f != familyBase && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// rebind returns obs with each model's format scale and shape
// coefficients taken from c.
func rebind(obs []Observation, c Coefficients) []Observation {
	out := slices.Clone(obs)
	for i := range out {
		m := *out[i].Model
		m.setFactors(c)
		out[i].Model = &m
	}
	return out
}

// Evaluate predicts every observation with profile p's coefficients and
// returns measured against predicted rates.
func Evaluate(p Profile, obs []Observation) []FitRow {
	rows := make([]FitRow, 0, len(obs))
	for _, o := range obs {
		m := *o.Model
		m.setProfile(p)
		pred := o.Work / m.Run(o.Steps).Seconds
		rows = append(rows, FitRow{
			ID: o.ID, Measured: round(o.Rate(), 2), Predicted: round(pred, 2), Unit: o.Unit,
			ErrorPct: round(100*(pred-o.Rate())/o.Rate(), 2),
		})
	}
	return rows
}

func round(v float64, digits int) float64 {
	s := math.Pow(10, float64(digits))
	return math.Round(v*s) / s
}

// design builds the design matrix of the linearised model: row i is
// observation i's terms summed over its steps, each step contributing its
// compute or memory terms (whichever is larger under x) plus its overhead
// terms, divided by the measured time so that residuals are relative.
//
// A fixed term keeps its coefficient: its part of each row moves to the
// right-hand side (the column stays 0, so solve leaves it out).
func design(obs []Observation, x *[numTerms]float64, fixed *[numTerms]bool) (*mat.Dense, []float64, []bool) {
	A := mat.NewDense(len(obs), numTerms, nil)
	offset := make([]float64, len(obs))
	var regimes []bool
	for i, o := range obs {
		var row [numTerms]float64
		for _, b := range o.Steps {
			t, _, _ := o.Model.terms(b)
			c := combine(&t, x, o.Model.serial)
			memBound := c.Memory >= c.Compute
			regimes = append(regimes, memBound)
			// The larger side counts whole, the smaller its serial fraction.
			wc, wm := 1.0, o.Model.serial
			if memBound {
				wc, wm = wm, wc
			}
			for j := range firstMemoryTerm {
				row[j] += wc * t[j]
			}
			for j := firstMemoryTerm; j < firstOverheadTerm; j++ {
				row[j] += wm * t[j]
			}
			for j := firstOverheadTerm; j < numTerms; j++ {
				row[j] += t[j]
			}
		}
		for j := range row {
			if fixed[j] {
				offset[i] += row[j] * x[j] / o.Seconds
				continue
			}
			A.Set(i, j, row[j]/o.Seconds)
		}
	}
	return A, offset, regimes
}

// solve fits z >= 0 in A·(e + z) ≈ 1 - offset (the fixed terms), where e is 1 on efficiency terms and
// 0 on overheads, over the columns the data touch. It returns the
// coefficient vector x = e + z, the columns used and their standard errors.
func solve(A *mat.Dense, offset []float64) (x [numTerms]float64, use [numTerms]bool, stderr [numTerms]float64, err error) {
	rows := len(offset)
	b := make([]float64, rows)
	var cols []int
	var scale []float64
	for i := range rows {
		b[i] = 1 - offset[i]
	}
	for j := range numTerms {
		var norm float64
		for i := range rows {
			v := A.At(i, j)
			norm += v * v
			if isEfficiency(j) {
				b[i] -= v // the fixed part of 1/eff = 1 + z
			}
		}
		if norm > 0 {
			use[j] = true
			cols = append(cols, j)
			scale = append(scale, math.Sqrt(norm))
		}
	}
	S := mat.NewDense(rows, len(cols), nil)
	for k, j := range cols {
		for i := range rows {
			S.Set(i, k, A.At(i, j)/scale[k])
		}
	}
	z, err := fit.NNLS(S, b)
	if err != nil {
		return x, use, stderr, fmt.Errorf("fit: %w", err)
	}
	// Standard errors over the free coefficients only: one held at its bound
	// (an efficiency of 1, an overhead of 0) is fixed by the constraint, and
	// keeping it would make the normal matrix singular.
	free := make([]bool, len(cols))
	for k := range free {
		free[k] = z[k] > 0
	}
	se := fit.StdErrors(S, b, z, free)
	for k, j := range cols {
		x[j] = z[k] / scale[k]
		stderr[j] = se[k] / scale[k]
		if isEfficiency(j) {
			x[j]++
		}
	}
	return x, use, stderr, nil
}

// objective is the sum of squared relative errors of the full model.
func objective(obs []Observation, x *[numTerms]float64) float64 {
	var s float64
	for _, o := range obs {
		var pred float64
		for _, b := range o.Steps {
			t, _, _ := o.Model.terms(b)
			pred += combine(&t, x, o.Model.serial).Seconds
		}
		r := (pred - o.Seconds) / o.Seconds
		s += r * r
	}
	return s
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ErrorSummary condenses a set of FitRows.
type ErrorSummary struct {
	MedianAbsPct float64
	MeanAbsPct   float64
	MaxAbsPct    float64
	WorstID      string
}

// Summarize returns the median, mean and largest absolute percentage error.
func Summarize(rows []FitRow) ErrorSummary {
	if len(rows) == 0 {
		return ErrorSummary{MedianAbsPct: math.NaN(), MeanAbsPct: math.NaN(), MaxAbsPct: math.NaN()}
	}
	abs := make([]float64, len(rows))
	var s ErrorSummary
	for i, r := range rows {
		abs[i] = math.Abs(r.ErrorPct)
		s.MeanAbsPct += abs[i] / float64(len(rows))
		if abs[i] > s.MaxAbsPct || s.WorstID == "" {
			s.MaxAbsPct, s.WorstID = abs[i], r.ID
		}
	}
	slices.Sort(abs)
	n := len(abs)
	s.MedianAbsPct = abs[n/2]
	if n%2 == 0 {
		s.MedianAbsPct = (abs[n/2-1] + abs[n/2]) / 2
	}
	return s
}
