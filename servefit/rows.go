// Package servefit fits the serving terms of a profile (perf.Serving: the
// front end's latency and throughput, the scheduler's CPU time per step)
// and the step model's per-step overhead to published serving
// measurements, with the simulator in the loop: each experiment a row
// describes (a closed loop of clients, a burst of requests) is run in sim
// and its published metrics computed as `vllm bench serve` does.
//
// It sits at floor 4 next to calibrate: it builds scenarios and runs sim.
// Its row reader reads the format of testdata/published/MEASUREMENTS.md for
// the serving kinds only; package measure is the general one.
package servefit

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/perf"
)

// Row is one published serving figure and the conditions it was measured
// under (testdata/published/MEASUREMENTS.md).
type Row struct {
	ID, Hardware, Engine, Model, Quant, KVCache string
	TP                                          int
	Kind                                        string // closed-loop or burst
	Concurrency, Requests                       int
	Input, Output                               int
	Settings                                    map[string]string
	Metric                                      string
	Value                                       float64
	Source                                      string
}

// experiment is the part of a row that says what was run (not which
// figure was read off it): rows with the same key come from one run.
func (r Row) experiment() string {
	return strings.Join([]string{r.Hardware, r.Engine, r.Model, r.Quant, r.KVCache, r.Kind,
		strconv.Itoa(r.Concurrency), strconv.Itoa(r.Requests), strconv.Itoa(r.Input), strconv.Itoa(r.Output),
		settingsKey(r.Settings)}, "|")
}

func settingsKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	return strings.Join(keys, ";")
}

// ReadRows reads the serving rows (kinds closed-loop and burst) of a
// measurement file; other kinds are skipped.
func ReadRows(name string, r io.Reader) ([]Row, error) {
	all, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var data strings.Builder
	for _, l := range strings.SplitAfter(string(all), "\n") {
		if !strings.HasPrefix(l, "#") {
			data.WriteString(l)
		}
	}
	cr := csv.NewReader(strings.NewReader(data.String()))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no header", name)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, c := range []string{"id", "hardware", "engine", "model", "quant", "kind", "metric", "value"} {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: no column %q", name, c)
		}
	}
	get := func(rec []string, c string) string {
		if i, ok := col[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	atoi := func(s string) int {
		n, _ := strconv.Atoi(s)
		return n
	}
	var rows []Row
	for i, rec := range recs[1:] {
		kind := get(rec, "kind")
		if kind != "closed-loop" && kind != "burst" {
			continue
		}
		v, err := strconv.ParseFloat(get(rec, "value"), 64)
		if err != nil {
			return nil, fmt.Errorf("%s: row %d (%s): value: %w", name, i+2, get(rec, "id"), err)
		}
		row := Row{ID: get(rec, "id"), Hardware: get(rec, "hardware"), Engine: perf.NormalizeEngine(get(rec, "engine")),
			Model: get(rec, "model"), Quant: get(rec, "quant"), KVCache: get(rec, "kv_cache"), TP: max(1, atoi(get(rec, "tp"))),
			Kind: kind, Concurrency: atoi(get(rec, "concurrency")), Requests: atoi(get(rec, "requests")),
			Input: atoi(get(rec, "input_tokens")), Output: atoi(get(rec, "output_tokens")),
			Settings: map[string]string{}, Metric: get(rec, "metric"), Value: v, Source: get(rec, "source")}
		for _, kv := range strings.Split(get(rec, "settings"), ";") {
			if k, val, ok := strings.Cut(kv, "="); ok {
				row.Settings[strings.TrimSpace(k)] = strings.TrimSpace(val)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// Usable reports why the twin cannot reproduce a row, or "" if it can:
// speculative decoding and tensor parallelism are not modelled yet.
func (r Row) Usable() string {
	switch {
	case r.Settings["speculative"] != "":
		return "speculative decoding is not modelled"
	case r.TP > 1:
		return "tensor parallelism is not modelled"
	case r.Settings["attention_backend"] != "":
		return "a non-default attention backend is not modelled"
	}
	return ""
}
