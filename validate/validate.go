package validate

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
)

// Env is what rows are reproduced against.
type Env struct {
	Catalog  *catalog.Catalog
	Profiles perf.ProfileSet
	// Workers is how many experiments run at once; 0 means GOMAXPROCS.
	// The results do not depend on it.
	Workers int
	// Progress, if set, is called after each experiment with how many of
	// them are done; calls do not overlap.
	Progress func(done, total int)
}

// Result is one row reproduced in the twin.
type Result struct {
	measure.Row
	// Predicted is the twin's figure for the row's metric, in its unit;
	// NaN when the row was not run.
	Predicted float64
	// Err says why the row was not run (nil when it was).
	Err error
	// Basis is what the prediction rests on (provenance.go); zero when
	// the row was not run.
	Basis Basis
}

// Ran reports whether the row was reproduced.
func (r Result) Ran() bool { return r.Err == nil }

// ErrorPct is the signed error of the prediction, 100 × (predicted −
// published) / published; NaN when the row was not run.
func (r Result) ErrorPct() float64 {
	if r.Err != nil {
		return math.NaN()
	}
	return 100 * (r.Predicted - r.Value) / r.Value
}

// APE is the absolute percentage error, |ErrorPct|.
func (r Result) APE() float64 { return math.Abs(r.ErrorPct()) }

// Reproduce runs every row's experiment in the twin and returns one Result
// per row, in the rows' order. Rows of one experiment (measure.Experiment)
// are simulated once. A row that cannot be run has its reason in
// Result.Err; Reproduce itself fails only when ctx ends.
func Reproduce(ctx context.Context, env Env, rows []measure.Row) ([]Result, error) {
	return Prepare(rows).Reproduce(ctx, env)
}

// Group gathers rows into their experiments (measure.Row.Experiment): the
// indexes of each experiment's rows, in the rows' order, the experiments in
// the order of their first rows.
func Group(rows []measure.Row) [][]int {
	index := map[measure.Experiment]int{}
	var groups [][]int
	for i := range rows {
		e := rows[i].Experiment()
		g, ok := index[e]
		if !ok {
			g = len(groups)
			index[e] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// Experiments are rows grouped into their experiments (Group), each serving
// experiment's generated scenario built once: what does not depend on the
// profile (the settings mapped, the traffic, a burst's or a Poisson stream's
// trace). A fitter prepares its rows once and reproduces them against each
// candidate profile in Env.Profiles; the results are those of Reproduce on
// the same rows. An Experiments may be reproduced from several goroutines
// at once.
type Experiments struct {
	rows   []measure.Row
	groups [][]int
	plans  []plan // per group
}

// Prepare groups rows into experiments and builds their scenarios. Rows
// that cannot be run are kept: Reproduce reports why.
func Prepare(rows []measure.Row) *Experiments {
	x := &Experiments{rows: slices.Clone(rows), groups: Group(rows)}
	x.plans = make([]plan, len(x.groups))
	for g, idx := range x.groups {
		if r := &x.rows[idx[0]]; r.Kind.Serving() {
			x.plans[g] = servingPlan(r, acceptedLength(x.rows, idx))
		}
	}
	return x
}

// Len is the number of experiments.
func (x *Experiments) Len() int { return len(x.groups) }

// Reproduce runs every experiment against env and returns one Result per
// row, in the order of the rows given to Prepare (see the function
// Reproduce).
func (x *Experiments) Reproduce(ctx context.Context, env Env) ([]Result, error) {
	out := make([]Result, len(x.rows))
	for i := range x.rows {
		out[i] = Result{Row: x.rows[i], Predicted: math.NaN()}
	}
	workers := env.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(x.groups))
	next := make(chan int)
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf records
			for g := range next {
				reproduceGroup(ctx, env, out, x.groups[g], &x.plans[g], &buf)
				if env.Progress != nil {
					mu.Lock()
					done++
					env.Progress(done, len(x.groups))
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for g := range x.groups {
		select {
		case next <- g:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// reproduceGroup runs one experiment and fills its rows' results.
func reproduceGroup(ctx context.Context, env Env, out []Result, g []int, pl *plan, buf *records) {
	r := &out[g[0]].Row
	var err error
	switch {
	case r.Kind.Serving():
		var m servingMetrics
		var b Basis
		m, b, err = serve(ctx, env, r, pl, buf)
		if err == nil {
			for _, i := range g {
				out[i].Predicted, out[i].Basis = m.value(out[i].Metric), b
			}
		}
	default:
		for _, i := range g {
			var v float64
			var b Basis
			if v, b, err = bench(env, &out[i].Row); err != nil {
				break
			}
			out[i].Predicted, out[i].Basis = v, b
		}
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return // Reproduce reports the context's error
		}
		for _, i := range g {
			out[i].Predicted, out[i].Err, out[i].Basis = math.NaN(), err, Basis{}
		}
	}
}

// seed is the experiment's random seed: a hash of its conditions, so that
// it does not depend on the order or the company a row is read in.
func seed(e measure.Experiment) uint64 {
	h := fnv.New64a()
	for _, s := range []string{e.Hardware, e.Engine, e.Model, e.Quant, e.KVCache, strconv.Itoa(e.TP), string(e.Kind),
		strconv.Itoa(e.Concurrency), strconv.Itoa(e.Requests), strconv.FormatFloat(e.RateRPS, 'g', -1, 64),
		strconv.Itoa(e.InputTokens), strconv.Itoa(e.OutputTokens), strconv.Itoa(e.DepthTokens),
		strconv.FormatFloat(e.LengthCV, 'g', -1, 64), e.Settings} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// Summary condenses results.
type Summary struct {
	N         int     // rows
	Failed    int     // rows not run
	MedianAPE float64 // median absolute percentage error over the rows run; NaN when none ran
	MaxAPE    float64 // largest absolute percentage error over the rows run; NaN when none ran
	WorstID   string  // the row with MaxAPE
}

// Summarize counts the rows and their errors.
func Summarize(results []Result) Summary {
	s := Summary{N: len(results), MedianAPE: math.NaN(), MaxAPE: math.NaN()}
	apes := make([]float64, 0, len(results))
	for _, r := range results {
		if !r.Ran() {
			s.Failed++
			continue
		}
		a := r.APE()
		if len(apes) == 0 || a > s.MaxAPE {
			s.MaxAPE, s.WorstID = a, r.ID
		}
		apes = append(apes, a)
	}
	if n := len(apes); n > 0 {
		slices.Sort(apes)
		s.MedianAPE = apes[n/2]
		if n%2 == 0 {
			s.MedianAPE = (apes[n/2-1] + apes[n/2]) / 2
		}
	}
	return s
}
