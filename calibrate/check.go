package calibrate

import (
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
)

// Run is a run directory loaded for analysis.
type Run struct {
	Dir         string
	State       *State
	Plan        *Plan
	Experiments []Experiment
	// Measured holds, per experiment ID, each model's summary of the
	// latest attempt.
	Measured map[string]map[string]*Measured
	Skipped  int // torn lines in requests.jsonl
	records  map[string][]RequestRecord
}

// LoadRun reads a run directory.
func LoadRun(dir string, cat *catalog.Catalog) (*Run, error) {
	st, err := ReadState(dir)
	if err != nil {
		return nil, err
	}
	plan, _, err := LoadRunPlan(dir, cat)
	if err != nil {
		return nil, err
	}
	st.keepModes(plan)
	recs, skipped, err := ReadRequests(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, State: st, Plan: plan, Experiments: plan.Expand(), Measured: map[string]map[string]*Measured{}, Skipped: skipped}
	r.records = Latest(recs)
	for id, rs := range r.records {
		r.Measured[id] = Summarize(rs)
	}
	return r, nil
}

// Comparison is one metric of one model in one experiment, measured and
// simulated.
type Comparison struct {
	Experiment string
	HeldOut    bool
	Model      string
	Metric     string // ttft_p50, tpot_p50, e2e_p50, ..., output_tok_s
	Measured   float64
	Predicted  float64
}

// ErrorPct is (predicted − measured) / measured in percent.
func (c Comparison) ErrorPct() float64 { return 100 * (c.Predicted - c.Measured) / c.Measured }

// MedianAbsErr is the median |error| in percent of the comparisons of one
// metric prefix ("tpot", "e2e", ...), and how many there were.
func MedianAbsErr(cs []Comparison, prefix string) (float64, int) {
	var errs []float64
	for _, c := range cs {
		if strings.HasPrefix(c.Metric, prefix) {
			errs = append(errs, math.Abs(c.ErrorPct()))
		}
	}
	if len(errs) == 0 {
		return math.NaN(), 0
	}
	return percentiles(errs).P50, len(errs)
}

// Repeatability is the measurement's own noise floor: the median relative
// difference in percent, for one metric prefix, between a later pass of an
// experiment and its first pass (the same workload measured again), and how
// many pairs there were. A twin cannot be expected to predict an experiment
// better than the hardware repeats it.
func Repeatability(cs []Comparison, prefix string) (float64, int) {
	type key struct{ exp, model, metric string }
	first := map[key]float64{}
	for _, c := range cs {
		if strings.HasPrefix(c.Metric, prefix) && !strings.Contains(c.Experiment, "-pass") {
			first[key{c.Experiment, c.Model, c.Metric}] = c.Measured
		}
	}
	var diffs []float64
	for _, c := range cs {
		base, _, ok := strings.Cut(c.Experiment, "-pass")
		if !ok || !strings.HasPrefix(c.Metric, prefix) {
			continue
		}
		if m, ok := first[key{base, c.Model, c.Metric}]; ok && m != 0 {
			diffs = append(diffs, 100*math.Abs(c.Measured-m)/m)
		}
	}
	if len(diffs) == 0 {
		return math.NaN(), 0
	}
	return percentiles(diffs).P50, len(diffs)
}

// HeldOutIDs lists the experiments kept out of the fit.
func (r *Run) HeldOutIDs() []string {
	var ids []string
	for _, e := range r.Experiments {
		if e.HeldOut {
			ids = append(ids, e.ID)
		}
	}
	return slices.Clip(ids)
}
