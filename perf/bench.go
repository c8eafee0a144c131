package perf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
)

// BenchRow is one published benchmark figure: a llama-bench or
// llama-batched-bench result, read from measurement rows (package measure,
// the format of testdata/published/MEASUREMENTS.md) by BenchRows.
type BenchRow struct {
	ID       string
	Hardware string
	Engine   string
	Model    string
	Quant    string
	Batch    int
	Input    int // prompt tokens per sequence
	Depth    int // tokens in the KV cache before the prompt
	Output   int // generated tokens per sequence
	// Chunk is the engine's prefill chunk for this row (llama.cpp
	// n_ubatch, the row's ubatch setting); 0 = the profile's.
	Chunk  int
	Metric string
	Value  float64
	Unit   string
	Source string
	// Outlier is why the row is set apart from the checks (the text after
	// "outlier:" in its notes); "" for every ordinary row. An outlier is
	// still predicted and printed, but counted on its own: a figure the
	// source's own neighbouring numbers contradict (docs/performance-model.md).
	Outlier string
}

// OutlierPrefix starts the notes of a measurement row set apart from the
// checks, followed by the reason.
const OutlierPrefix = "outlier:"

// Metrics a BenchRow may report.
const (
	MetricPrefill         = string(measure.PrefillTPS)         // batch × input / prefill time
	MetricDecode          = string(measure.DecodeTPS)          // llama-bench tg: output / decode time
	MetricDecodeAggregate = string(measure.DecodeTPSAggregate) // llama-batched-bench S_TG: batch × output / decode time
)

// BenchRows turns the bench rows (bench-prefill, bench-decode,
// batched-bench) of hardware and engine among rows into BenchRows; rows of
// other pairs and serving kinds are not theirs and are left out. A
// batched-bench prefill row prefills only (its decode is a row of its own).
func BenchRows(rows []measure.Row, hardware, engine string) ([]BenchRow, error) {
	var out []BenchRow
	for _, r := range rows {
		if r.Hardware != hardware || r.Engine != engine || r.Kind.Serving() {
			continue
		}
		b := BenchRow{ID: r.ID, Hardware: r.Hardware, Engine: r.Engine, Model: r.Model, Quant: r.Quant,
			Batch: max(r.Concurrency, 1), Input: r.InputTokens, Depth: r.DepthTokens, Output: r.OutputTokens,
			Metric: string(r.Metric), Value: r.Value, Unit: r.Unit, Source: r.Source}
		if rest, ok := strings.CutPrefix(strings.TrimSpace(r.Notes), OutlierPrefix); ok {
			b.Outlier = strings.TrimSpace(rest)
			if b.Outlier == "" {
				return nil, fmt.Errorf("%s: row %s: an outlier needs its reason after %q", r.Pos(), r.ID, OutlierPrefix)
			}
		}
		if r.TP > 1 {
			return nil, fmt.Errorf("%s: row %s: tensor parallelism (tp %d) is not in the step model", r.Pos(), r.ID, r.TP)
		}
		if v, ok := r.Settings.Get("ubatch"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxTokens {
				return nil, fmt.Errorf("%s: row %s: ubatch %q is not a token count in [1, %d]", r.Pos(), r.ID, v, MaxTokens)
			}
			b.Chunk = n
		}
		switch {
		case r.Metric == measure.PrefillTPS && r.InputTokens > 0:
			b.Output = 0
		case (r.Metric == measure.DecodeTPS || r.Metric == measure.DecodeTPSAggregate) && r.OutputTokens > 0:
		default:
			return nil, fmt.Errorf("%s: row %s: metric %s of a %s row is not a bench rate the step model reproduces", r.Pos(), r.ID, r.Metric, r.Kind)
		}
		out = append(out, b)
	}
	return out, nil
}

// Observation turns a row into the steps the benchmark ran and the time they
// took, for the instance built from the row's model and quant with the KV
// type kv. A prefill rate covers the prefill of batch prompts; a decode rate
// covers output decode steps starting at context depth + input (llama-bench
// tg runs after the depth is cached; llama-batched-bench decodes after the
// prompts).
func (r BenchRow) Observation(cat *catalog.Catalog, hw catalog.Hardware, kv string, p Profile) (Observation, error) {
	model, err := cat.Model(r.Model)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	format, experts, err := cat.WeightFormats(model, r.Quant, p.Engine)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	kvt, err := cat.KVType(kv)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	sm, err := NewStepModel(hw, Instance{Model: model, Weights: format, Experts: experts, KV: kvt}, p)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	o := Observation{ID: r.ID, Model: sm, Unit: r.Unit}
	switch r.Metric {
	case MetricPrefill:
		chunk := p.PrefillChunk
		if r.Chunk > 0 {
			chunk = r.Chunk
		}
		o.Steps = PrefillSteps(r.Batch, r.Input, r.Depth, chunk)
		o.Work = float64(r.Batch * r.Input)
	default:
		o.Steps = DecodeSteps(r.Batch, r.Output, r.Depth+r.Input)
		o.Work = float64(r.Batch * r.Output)
	}
	// llama-batched-bench feeds every sequence the same tokens, so routing
	// is identical across the batch; llama.cpp's small-batch MoE kernels
	// still read experts per (token, expert) pair, which the uniform
	// distinct-expert estimate matches better than identical routing does
	// (tried: fit and held-out errors grew several-fold). See docs/performance-model.md.
	o.Seconds = o.Work / r.Value
	return o, nil
}

// BenchObservations turns rows into observations for profile p on hw. Every
// row must be for hw and p's engine: fitting one device's profile to
// another's measurements is a mistake worth stopping.
func BenchObservations(cat *catalog.Catalog, hw catalog.Hardware, kv string, p Profile, rows []BenchRow) ([]Observation, error) {
	obs := make([]Observation, 0, len(rows))
	for _, r := range rows {
		if r.Hardware != hw.Name || r.Engine != p.Engine {
			return nil, fmt.Errorf("row %s is for %s/%s, not %s/%s", r.ID, r.Hardware, r.Engine, hw.Name, p.Engine)
		}
		o, err := r.Observation(cat, hw, kv, p)
		if err != nil {
			return nil, err
		}
		obs = append(obs, o)
	}
	return obs, nil
}
