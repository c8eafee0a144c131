package calibrate

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
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

// replay simulates one experiment as the run measured it: closed loops of
// the same users for the same span, or the measured arrivals and lengths
// as a trace. The scenario and trace are written under work so a user can
// rerun them with `fleettwin simulate`.
func (r *Run) replay(ctx context.Context, e Experiment, cat *catalog.Catalog, profiles perf.ProfileSet, interference float64, work string) (map[string]*Measured, error) {
	ms := r.Measured[e.ID]
	// All models' traces share one clock: the experiment's first send.
	var start time.Time
	for _, name := range e.Models {
		if m := ms[name]; m != nil && (start.IsZero() || m.Start.Before(start)) {
			start = m.Start
		}
	}
	f := &scenario.File{Name: e.ID, Seed: r.Plan.Seed + 1, Models: map[string]scenario.ServedModel{}}
	chunked := true
	group := scenario.NodeGroup{Name: "box", Hardware: r.Plan.Hardware, Engine: r.Plan.Engine, Count: 1, Memory: "dynamic", Interference: &interference}
	for _, name := range e.Models {
		m := ms[name]
		if m == nil || m.Requests == 0 {
			return nil, fmt.Errorf("experiment %s: no completed requests of %s", e.ID, name)
		}
		// Open loops run on past the last measured end so every request
		// can finish; closed loops run as long as the experiment did.
		if e.Kind == "rate" {
			f.DurationS = max(f.DurationS, 2*(m.End.Sub(start).Seconds())+1)
		} else {
			f.DurationS = max(f.DurationS, m.End.Sub(start).Seconds())
		}
		pm, _ := r.Plan.Model(name)
		spec := workload.Spec{
			Input:  workload.Lengths{Dist: "fixed", Value: int(math.Round(m.PromptTokens))},
			Output: workload.Lengths{Dist: "fixed", Value: int(math.Round(m.OutputTokens))},
		}
		// Open-loop experiments replay their measured arrivals and
		// lengths. Closed loops stay closed loops: their arrivals follow
		// completions, so replaying measured arrivals would feed every
		// small timing error back as a queueing cascade.
		if e.Kind == "rate" {
			trace := filepath.Join(work, fileName(e.ID+"-"+name)+".csv")
			if err := writeTrace(trace, m, start); err != nil {
				return nil, err
			}
			spec.Arrival = workload.Arrival{Process: "trace", Trace: filepath.Base(trace)}
		} else {
			spec.Arrival = workload.Arrival{Process: "closed", Concurrency: e.Concurrency}
		}
		f.Models[name] = scenario.ServedModel{Model: pm.Arch, Workload: spec}
		group.Instances = append(group.Instances, scenario.Instance{
			Model: name, Quant: pm.Format, KVCache: r.Plan.KVCache, MaxSeqs: pm.MaxSeqs, ChunkedPrefill: &chunked,
		})
	}
	f.Nodes = []scenario.NodeGroup{group}
	data, err := f.Encode()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(work, fileName(e.ID)+".toml")
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return nil, err
	}
	sc, err := scenario.Parse(path, data, cat, profiles, os.DirFS(work))
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	// The simulated requests are summarised exactly as the measured ones
	// (same percentile definition, throughput over first arrival to last
	// end), so the two sides differ only by what the twin predicts.
	type lat struct{ ttft, tpot, e2e []float64 }
	sims := map[string]*lat{}
	first, last, tokens := map[string]float64{}, map[string]float64{}, map[string]float64{}
	_, err = sim.Run(ctx, sc, sim.Options{OnRequest: func(q sim.RequestRecord) {
		if q.Rejected {
			return
		}
		l := sims[q.Model]
		if l == nil {
			l = &lat{}
			sims[q.Model] = l
			first[q.Model] = q.ArrivalS
		}
		l.ttft = append(l.ttft, q.TTFTS)
		l.e2e = append(l.e2e, q.E2ES)
		if q.Output > 1 {
			l.tpot = append(l.tpot, q.TPOTS)
		}
		first[q.Model] = min(first[q.Model], q.ArrivalS)
		last[q.Model] = max(last[q.Model], q.ArrivalS+q.E2ES)
		tokens[q.Model] += float64(q.Output)
	}})
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	out := map[string]*Measured{}
	for name, l := range sims {
		m := &Measured{Model: name, Requests: len(l.e2e), TTFT: percentiles(l.ttft), TPOT: percentiles(l.tpot), E2E: percentiles(l.e2e)}
		if span := last[name] - first[name]; span > 0 {
			m.OutputTokPerS = tokens[name] / span
		}
		out[name] = m
	}
	return out, nil
}

func writeTrace(path string, m *Measured, start time.Time) error {
	var b strings.Builder
	b.WriteString("arrival_s,input_tokens,output_tokens\n")
	offset := m.Start.Sub(start).Seconds()
	for i, a := range m.Arrivals {
		fmt.Fprintf(&b, "%.6f,%d,%d\n", a+offset, m.Prompts[i], m.Outputs[i])
	}
	return atomicfile.WriteFile(path, []byte(b.String()), 0o644)
}

// Compare replays every experiment (or only those with heldOut set as
// asked, when only is non-nil) and lists measured against predicted.
func (r *Run) Compare(ctx context.Context, cat *catalog.Catalog, p perf.Profile, only *bool, work string) ([]Comparison, error) {
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		return nil, err
	}
	profiles.Add(p)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	var out []Comparison
	for _, e := range r.Experiments {
		if only != nil && e.HeldOut != *only {
			continue
		}
		if _, ok := r.Measured[e.ID]; !ok || e.Kind == "sustained" {
			continue
		}
		pred, err := r.replay(ctx, e, cat, profiles, p.Interference, work)
		if err != nil {
			return nil, err
		}
		for _, name := range e.Models {
			m, s := r.Measured[e.ID][name], pred[name]
			if s == nil { // nothing finished in the simulated span: no prediction
				s = &Measured{TTFT: percentiles(nil), TPOT: percentiles(nil), E2E: percentiles(nil), OutputTokPerS: math.NaN()}
			}
			add := func(metric string, meas, predicted float64) {
				if meas > 0 && !math.IsNaN(predicted) {
					out = append(out, Comparison{e.ID, e.HeldOut, name, metric, meas, predicted})
				}
			}
			add("ttft_p50", m.TTFT.P50, s.TTFT.P50)
			add("ttft_p90", m.TTFT.P90, s.TTFT.P90)
			add("tpot_p50", m.TPOT.P50, s.TPOT.P50)
			add("tpot_p90", m.TPOT.P90, s.TPOT.P90)
			add("e2e_p50", m.E2E.P50, s.E2E.P50)
			add("e2e_p90", m.E2E.P90, s.E2E.P90)
			add("output_tok_s", m.OutputTokPerS, s.OutputTokPerS)
		}
	}
	return out, nil
}

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
