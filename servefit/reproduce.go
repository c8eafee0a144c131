package servefit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
)

// Experiment is one published run: the rows read off it share its
// conditions.
type Experiment struct {
	Key  string
	Rows []Row
}

// Group gathers rows into experiments, in the order their first rows come.
func Group(rows []Row) []Experiment {
	var out []Experiment
	at := map[string]int{}
	for _, r := range rows {
		k := r.experiment()
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Experiment{Key: k})
		}
		out[i].Rows = append(out[i].Rows, r)
	}
	return out
}

// Metrics are what `vllm bench serve` reports for a run, by metric name.
type Metrics map[string]float64

// maxSimS bounds a reproduced run in simulated seconds.
const maxSimS = 4 * 3600

// Run reproduces an experiment with profile p on the catalog and returns
// its metrics: a closed loop of Concurrency clients until Requests have
// completed, or a burst of Requests all sent at time 0.
func Run(ctx context.Context, cat *catalog.Catalog, p perf.Profile, e Experiment) (Metrics, error) {
	r := e.Rows[0]
	sc, err := scenarioFor(cat, p, r)
	if err != nil {
		return nil, fmt.Errorf("experiment %s: %w", r.ID, err)
	}
	n := max(r.Requests, 1)
	var recs []sim.RequestRecord
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err = sim.Run(ctx, sc, sim.Options{SnapshotEvery: sc.Duration, OnRequest: func(rec sim.RequestRecord) {
		if !rec.Rejected && len(recs) < n {
			recs = append(recs, rec)
			if len(recs) == n {
				cancel()
			}
		}
	}})
	if err != nil && len(recs) < n {
		if ctx.Err() == nil || len(recs) == 0 {
			return nil, fmt.Errorf("experiment %s: %w", r.ID, err)
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("experiment %s: no request completed in %d simulated seconds", r.ID, maxSimS)
	}
	return metricsOf(recs), nil
}

// scenarioFor builds the scenario of a row's experiment: one node of its
// hardware running its engine and model with its settings.
func scenarioFor(cat *catalog.Catalog, p perf.Profile, r Row) (*scenario.Scenario, error) {
	in := scenario.Instance{Model: "m", Quant: r.Quant, KVCache: r.KVCache}
	for k, v := range r.Settings {
		n, _ := strconv.Atoi(v)
		switch k {
		case "max_seqs":
			in.MaxSeqs = n
		case "max_batched_tokens":
			in.MaxBatchedTokens = n
		case "chunked_prefill":
			b := n != 0
			in.ChunkedPrefill = &b
		}
	}
	spec := workload.Spec{
		Arrival: workload.Arrival{Process: workload.Closed, Concurrency: max(r.Concurrency, 1)},
		Input:   workload.Lengths{Dist: workload.Fixed, Value: max(r.Input, 1)},
		Output:  workload.Lengths{Dist: workload.Fixed, Value: max(r.Output, 1)},
	}
	f := &scenario.File{Name: r.ID, Seed: 1, DurationS: maxSimS,
		Models: map[string]scenario.ServedModel{"m": {Model: r.Model, Workload: spec}},
		Nodes:  []scenario.NodeGroup{{Name: "n", Hardware: r.Hardware, Engine: r.Engine, Count: 1, Instances: []scenario.Instance{in}}}}
	set := perf.ProfileSet{}
	set.Add(p)
	sc, err := scenario.Resolve(r.ID, f, cat, set, nil)
	if err != nil {
		return nil, err
	}
	if r.Kind == "burst" {
		m := &sc.Models[0]
		m.Workload.Arrival = workload.Arrival{Process: workload.Trace}
		m.Trace = make([]workload.TraceRecord, r.Requests)
		for i := range m.Trace {
			m.Trace[i] = workload.TraceRecord{InputTokens: r.Input, OutputTokens: r.Output}
		}
	}
	return sc, nil
}

// metricsOf computes the published metrics of a run's completed requests
// as `vllm bench serve` does: the duration runs from the first request
// sent to the last completed; TPOT is per request, then averaged; ITL is
// averaged over every gap between tokens.
func metricsOf(recs []sim.RequestRecord) Metrics {
	var first, last float64 = math.Inf(1), 0
	var out, ttft, e2e, tpot, gaps, gapSum float64
	var tpotN int
	ttfts := make([]float64, 0, len(recs))
	for _, r := range recs {
		first = min(first, r.ArrivalS)
		last = max(last, r.ArrivalS+r.E2ES)
		out += float64(r.Output)
		ttft += r.TTFTS
		e2e += r.E2ES
		ttfts = append(ttfts, r.TTFTS)
		if r.Output > 1 {
			tpot += (r.E2ES - r.TTFTS) / float64(r.Output-1)
			tpotN++
			gapSum += r.E2ES - r.TTFTS
			gaps += float64(r.Output - 1)
		}
	}
	n := float64(len(recs))
	dur := last - first
	slices.Sort(ttfts)
	m := Metrics{
		"ttft_ms_mean": 1e3 * ttft / n, "ttft_ms_p99": 1e3 * quantile(ttfts, 0.99), "e2e_ms_mean": 1e3 * e2e / n,
		"output_tps_aggregate": out / dur, "request_rps": n / dur,
	}
	if tpotN > 0 {
		m["tpot_ms_mean"] = 1e3 * tpot / float64(tpotN)
		m["itl_ms_mean"] = 1e3 * gapSum / gaps
	}
	return m
}

// quantile of sorted values, linear between ranks (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	x := q * float64(len(sorted)-1)
	i := int(x)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (x-float64(i))*(sorted[i+1]-sorted[i])
}
