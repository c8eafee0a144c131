package measure

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Columns are the header of a measurement file, in order.
var Columns = []string{"id", "hardware", "engine", "model", "quant", "kv_cache", "tp", "kind",
	"concurrency", "requests", "rate_rps", "input_tokens", "output_tokens", "depth_tokens",
	"length_cv", "settings", "metric", "value", "unit", "source", "notes"}

// Column indexes, in Columns' order.
const (
	colID = iota
	colHardware
	colEngine
	colModel
	colQuant
	colKV
	colTP
	colKind
	colConcurrency
	colRequests
	colRate
	colInput
	colOutput
	colDepth
	colCV
	colSettings
	colMetric
	colValue
	colUnit
	colSource
	colNotes
)

// Bounds on a row, far beyond any published benchmark, so that reproducing
// one is bounded work.
const (
	MaxTokens      = 1 << 20 // input, output or depth tokens per request
	MaxConcurrency = 1 << 16 // sequences or clients
	MaxRequests    = 1 << 20 // requests in a serving run
	MaxTP          = 64      // tensor-parallel degree
	MaxRateRPS     = 1e6     // Poisson arrival rate
	MaxLengthCV    = 10      // coefficient of variation of lengths
)

// Read reads measurement rows; name is used in errors. It stops at the
// first problem, with an error naming the file, line and column.
func Read(name string, r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = len(Columns)
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: no header: want the columns %s", name, strings.Join(Columns, ","))
		}
		return nil, csvError(name, "header", err)
	}
	for i, c := range Columns {
		if strings.TrimSpace(header[i]) != c {
			line, _ := cr.FieldPos(i)
			return nil, fmt.Errorf("%s:%d: header column %d is %q, want %q (the columns are %s)",
				name, line, i+1, header[i], c, strings.Join(Columns, ","))
		}
	}
	var rows []Row
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, csvError(name, "row", err)
		}
		line, _ := cr.FieldPos(0)
		row, col, err := parseRecord(rec)
		if err == nil {
			if first, dup := seen[row.ID]; dup {
				col, err = colID, fmt.Errorf("id %q is already used on line %d", row.ID, first)
			}
		}
		if err != nil {
			l, _ := cr.FieldPos(col)
			return nil, fmt.Errorf("%s:%d: column %s: %w", name, l, Columns[col], err)
		}
		row.File, row.Line = name, line
		seen[row.ID] = line
		rows = append(rows, row)
	}
}

// csvError reports a CSV syntax error with its file, line and column.
func csvError(name, what string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("%s:%d: %s has the wrong number of fields: want %d (%s)", name, pe.Line, what,
				len(Columns), strings.Join(Columns, ","))
		}
		return fmt.Errorf("%s:%d:%d: %s: %w", name, pe.Line, pe.Column, what, pe.Err)
	}
	return fmt.Errorf("%s: %s: %w", name, what, err)
}

// parseRecord parses one record; on error it returns the column at fault.
func parseRecord(rec []string) (Row, int, error) {
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	r := Row{ID: rec[colID], Hardware: rec[colHardware], Model: rec[colModel], Quant: rec[colQuant],
		KVCache: rec[colKV], Kind: Kind(rec[colKind]), Metric: Metric(rec[colMetric]), Unit: rec[colUnit],
		Source: rec[colSource], Notes: rec[colNotes]}
	for _, c := range []int{colID, colHardware, colModel, colQuant, colKV} {
		if strings.ContainsAny(rec[c], " \t;=") {
			return r, c, fmt.Errorf("%q must be one name, without spaces, ';' or '='", rec[c])
		}
	}
	for _, c := range []int{colID, colHardware, colEngine, colModel, colQuant, colKind, colMetric, colValue, colUnit} {
		if rec[c] == "" {
			return r, c, errors.New("is blank: every row needs one")
		}
	}
	var ok bool
	if r.Engine, ok = NormalizeEngine(rec[colEngine]); !ok {
		return r, colEngine, fmt.Errorf("unknown engine %q; valid: %s (trtllm is read as tensorrt-llm)",
			rec[colEngine], strings.Join(Engines, ", "))
	}
	if !r.Kind.Valid() {
		return r, colKind, fmt.Errorf("unknown kind %q; valid: %s", rec[colKind], join(Kinds))
	}
	ints := []struct {
		col int
		dst *int
		max int
	}{{colTP, &r.TP, MaxTP}, {colConcurrency, &r.Concurrency, MaxConcurrency}, {colRequests, &r.Requests, MaxRequests},
		{colInput, &r.InputTokens, MaxTokens}, {colOutput, &r.OutputTokens, MaxTokens}, {colDepth, &r.DepthTokens, MaxTokens}}
	for _, f := range ints {
		v, err := parseInt(rec[f.col], f.max)
		if err != nil {
			return r, f.col, err
		}
		*f.dst = v
	}
	if rec[colTP] == "" {
		r.TP = 1
	} else if r.TP < 1 {
		return r, colTP, fmt.Errorf("want at least 1 (blank = 1), got %d", r.TP)
	}
	var err error
	if r.RateRPS, err = parseFloat(rec[colRate], MaxRateRPS); err != nil {
		return r, colRate, err
	}
	if r.LengthCV, err = parseFloat(rec[colCV], MaxLengthCV); err != nil {
		return r, colCV, err
	}
	if r.Settings, err = ParseSettings(rec[colSettings]); err != nil {
		return r, colSettings, err
	}
	if !r.Metric.Valid() {
		return r, colMetric, fmt.Errorf("unknown metric %q; valid: %s", rec[colMetric], join(Metrics))
	}
	if r.Value, err = parseFloat(rec[colValue], math.MaxFloat64); err != nil || r.Value == 0 {
		return r, colValue, fmt.Errorf("want a positive number, got %q", rec[colValue])
	}
	if want := r.Metric.Unit(); r.Unit != want {
		return r, colUnit, fmt.Errorf("%s is in %s, got %q", r.Metric, want, r.Unit)
	}
	if col, err := r.checkKind(); err != nil {
		return r, col, err
	}
	return r, 0, nil
}

// checkKind checks that the row has what its kind needs and nothing that
// only another kind has; it returns the column at fault.
func (r *Row) checkKind() (int, error) {
	k := r.Kind
	if !contains(k.Metrics(), r.Metric) {
		return colMetric, fmt.Errorf("a %s row reports one of %s, not %s", k, join(k.Metrics()), r.Metric)
	}
	need := func(col, v int, what string) (int, error) {
		if v < 1 {
			return col, fmt.Errorf("a %s row needs %s (at least 1)", k, what)
		}
		return 0, nil
	}
	none := func(col int, set bool, why string) (int, error) {
		if set {
			return col, fmt.Errorf("must be blank for a %s row: %s", k, why)
		}
		return 0, nil
	}
	checks := []func() (int, error){
		func() (int, error) {
			return none(colRate, r.RateRPS != 0 && k != Poisson, "only poisson rows have a rate")
		},
	}
	switch k {
	case ColocatedRatio:
		checks = append(checks,
			func() (int, error) {
				return none(colRequests, r.Requests != 0, "the load behind a ratio is described in settings and notes")
			},
			func() (int, error) {
				return none(colDepth, r.DepthTokens != 0, "depth_tokens is for bench kinds")
			})
	case BenchPrefill, BenchDecode:
		checks = append(checks,
			func() (int, error) {
				return none(colConcurrency, r.Concurrency > 1, "llama-bench runs one sequence (blank or 1)")
			},
			func() (int, error) { return none(colRequests, r.Requests != 0, "a bench sends no requests") },
			func() (int, error) { return none(colCV, r.LengthCV != 0, "a bench has fixed lengths (0)") })
		if k == BenchPrefill {
			checks = append(checks, func() (int, error) { return need(colInput, r.InputTokens, "input_tokens") })
		} else {
			checks = append(checks, func() (int, error) { return need(colOutput, r.OutputTokens, "output_tokens") })
		}
		if r.Concurrency == 0 {
			r.Concurrency = 1
		}
	case BatchedBench:
		checks = append(checks,
			func() (int, error) { return need(colConcurrency, r.Concurrency, "concurrency (the batch)") },
			func() (int, error) { return none(colRequests, r.Requests != 0, "a bench sends no requests") },
			func() (int, error) { return none(colCV, r.LengthCV != 0, "a bench has fixed lengths (0)") },
			func() (int, error) { return need(colInput, r.InputTokens, "input_tokens") })
		if r.Metric == DecodeTPSAggregate {
			checks = append(checks, func() (int, error) { return need(colOutput, r.OutputTokens, "output_tokens") })
		}
	case ClosedLoop, Burst, Poisson:
		switch k {
		case ClosedLoop:
			checks = append(checks, func() (int, error) { return need(colConcurrency, r.Concurrency, "concurrency (clients)") })
		case Burst:
			checks = append(checks, func() (int, error) {
				return none(colConcurrency, r.Concurrency != 0, "all requests arrive at once (with a concurrency limit it is closed-loop)")
			})
		case Poisson:
			checks = append(checks,
				func() (int, error) {
					return none(colConcurrency, r.Concurrency != 0, "arrivals are open-loop (with a concurrency limit it is closed-loop)")
				},
				func() (int, error) {
					if !(r.RateRPS > 0) {
						return colRate, errors.New("a poisson row needs rate_rps (> 0)")
					}
					return 0, nil
				})
		}
		checks = append(checks,
			func() (int, error) { return need(colRequests, r.Requests, "requests") },
			func() (int, error) { return need(colInput, r.InputTokens, "input_tokens") },
			func() (int, error) { return need(colOutput, r.OutputTokens, "output_tokens") },
			func() (int, error) {
				return none(colDepth, r.DepthTokens != 0, "depth_tokens is for bench kinds")
			},
			func() (int, error) {
				if (r.Metric == TPOTMean || r.Metric == ITLMean) && r.OutputTokens < 2 {
					return colOutput, fmt.Errorf("%s needs output_tokens of at least 2, got %d", r.Metric, r.OutputTokens)
				}
				return 0, nil
			})
	}
	for _, c := range checks {
		if col, err := c(); err != nil {
			return col, err
		}
	}
	return 0, nil
}

// parseInt parses a non-negative integer of at most max; blank is 0.
func parseInt(s string, max int) (int, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > max {
		return 0, fmt.Errorf("want a whole number from 0 to %d (or blank), got %q", max, s)
	}
	return v, nil
}

// parseFloat parses a finite non-negative number of at most max; blank is 0.
func parseFloat(s string, max float64) (float64, error) {
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || v > max {
		return 0, fmt.Errorf("want a finite number from 0 to %g (or blank), got %q", max, s)
	}
	return v, nil
}
