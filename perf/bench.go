package perf

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
)

// BenchRow is one published benchmark figure, in the layout of
// testdata/published-*.csv: a llama-bench or llama-batched-bench result.
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
	Metric   string
	Value    float64
	Unit     string
	Source   string
}

// Metrics a BenchRow may report.
const (
	MetricPrefill         = "prefill_tps"          // batch × input / prefill time
	MetricDecode          = "decode_tps"           // llama-bench tg: output / decode time
	MetricDecodeAggregate = "decode_tps_aggregate" // llama-batched-bench S_TG: batch × output / decode time
)

var benchColumns = []string{"id", "hardware", "engine", "model", "quant", "batch", "input_tokens",
	"depth_tokens", "output_tokens", "metric", "value", "unit", "source"}

// ReadBenchCSV reads benchmark rows. Lines starting with # are comments.
// Errors name the file, line and column.
func ReadBenchCSV(name string, r io.Reader) ([]BenchRow, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = len(benchColumns)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	for i, c := range benchColumns {
		if strings.TrimSpace(header[i]) != c {
			line, _ := cr.FieldPos(i)
			return nil, fmt.Errorf("%s:%d: column %d is %q, want %q", name, line, i+1, header[i], c)
		}
	}
	var rows []BenchRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		row, col, err := parseBenchRecord(rec)
		if err != nil {
			line, _ := cr.FieldPos(col)
			return nil, fmt.Errorf("%s:%d: %s: %w", name, line, benchColumns[col], err)
		}
		rows = append(rows, row)
	}
}

func parseBenchRecord(rec []string) (BenchRow, int, error) {
	r := BenchRow{ID: rec[0], Hardware: rec[1], Engine: rec[2], Model: rec[3], Quant: rec[4],
		Metric: rec[9], Unit: rec[11], Source: rec[12]}
	ints := []*int{&r.Batch, &r.Input, &r.Depth, &r.Output}
	for i, p := range ints {
		v, err := strconv.Atoi(strings.TrimSpace(rec[5+i]))
		if err != nil || v < 0 || v > MaxTokens {
			return r, 5 + i, fmt.Errorf("want a non-negative integer of at most %d, got %q", MaxTokens, rec[5+i])
		}
		*p = v
	}
	if r.Batch < 1 {
		return r, 5, fmt.Errorf("want at least 1, got %d", r.Batch)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(rec[10]), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return r, 10, fmt.Errorf("want a positive number, got %q", rec[10])
	}
	r.Value = v
	switch r.Metric {
	case MetricPrefill:
		if r.Input == 0 {
			return r, 6, errors.New("a prefill rate needs input_tokens > 0")
		}
	case MetricDecode, MetricDecodeAggregate:
		if r.Output == 0 {
			return r, 8, errors.New("a decode rate needs output_tokens > 0")
		}
	default:
		return r, 9, fmt.Errorf("unknown metric %q; valid: %s, %s, %s", r.Metric, MetricPrefill, MetricDecode, MetricDecodeAggregate)
	}
	if r.ID == "" {
		return r, 0, errors.New("empty id")
	}
	return r, 0, nil
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
	format, err := cat.Format(r.Quant)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	kvt, err := cat.KVType(kv)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	sm, err := NewStepModel(hw, Instance{Model: model, Weights: format, KV: kvt}, p)
	if err != nil {
		return Observation{}, fmt.Errorf("row %s: %w", r.ID, err)
	}
	o := Observation{ID: r.ID, Model: sm, Unit: r.Unit}
	switch r.Metric {
	case MetricPrefill:
		o.Steps = PrefillSteps(r.Batch, r.Input, r.Depth, p.PrefillChunk)
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
