package workload

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// csvTrace reads a trace CSV whose columns are found by their header
// names (case and surrounding spaces ignored), so releases that add
// columns (BurstGPT's session id, Azure's image count) still parse.
type csvTrace struct {
	name   string
	cr     *csv.Reader
	header []string
	col    []int // the wanted columns' indexes, in the order asked
}

// openCSV reads the header and locates the wanted columns; optional ones
// not there get index -1.
func openCSV(name string, r io.Reader, want []string, optional ...string) (*csvTrace, error) {
	br := bufio.NewReader(r)
	skipBOM(br)
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty trace", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	c := &csvTrace{name: name, cr: cr, header: slices.Clone(header)}
	find := func(w string) int {
		return slices.IndexFunc(c.header, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), w) })
	}
	var missing []string
	for _, w := range want {
		i := find(w)
		if i < 0 {
			missing = append(missing, w)
		}
		c.col = append(c.col, i)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: header lacks column %s (want %s; got %s)", name, strings.Join(missing, ", "), strings.Join(want, ","), strings.Join(c.header, ","))
	}
	for _, o := range optional {
		c.col = append(c.col, find(o))
	}
	return c, nil
}

// next returns the next row, or nil at the end. A row must have every
// column the header has.
func (c *csvTrace) next() ([]string, error) {
	rec, err := c.cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, csvError(c.name, err)
	}
	if len(rec) != len(c.header) {
		line, _ := c.cr.FieldPos(0)
		return nil, fmt.Errorf("%s:%d: want %d fields as the header has, got %d", c.name, line, len(c.header), len(rec))
	}
	return rec, nil
}

// errorf is a problem of field i of the current row: file:line:column,
// then the column's header name.
func (c *csvTrace) errorf(i int, format string, args ...any) error {
	line, col := c.cr.FieldPos(i)
	return fmt.Errorf("%s:%d:%d: %s: %s", c.name, line, col, strings.TrimSpace(c.header[i]), fmt.Sprintf(format, args...))
}

// tokens parses field i as a token count in [0, MaxTokens].
func (c *csvTrace) tokens(rec []string, i int) (int, error) {
	s := strings.TrimSpace(rec[i])
	v, err := strconv.Atoi(s)
	if err != nil {
		// Some exports write counts as floats ("12.0").
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, c.errorf(i, "want a whole number of tokens, got %q", rec[i])
		}
		v = int(max(min(f, math.MaxInt32), math.MinInt32))
	}
	if v < 0 || v > MaxTokens {
		return 0, c.errorf(i, "want between 0 and %d tokens, got %d", MaxTokens, v)
	}
	return v, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s:%d:%d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// azureLayouts are the TIMESTAMP spellings of the Azure LLM inference
// traces: 2023's "2023-11-16 18:15:46.6805900" and the same with a zone
// offset or a T; time.Parse accepts any fraction of a second after the
// seconds.
var azureLayouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05Z07:00"}

func parseAzureTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range azureLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ParseAzure reads an Azure LLM inference trace (2023 or 2024): CSV with
// the columns TIMESTAMP (a date and time), ContextTokens and
// GeneratedTokens, in any order and among others. Arrivals are seconds
// after the first row; a count of 0 tokens is read as 1, since the request
// still took a prefill or a step.
func ParseAzure(name string, r io.Reader) ([]TraceRecord, error) {
	c, err := openCSV(name, r, []string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"})
	if err != nil {
		return nil, err
	}
	var out []TraceRecord
	var first time.Time
	for {
		rec, err := c.next()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		ts, ok := parseAzureTime(rec[c.col[0]])
		if !ok {
			return nil, c.errorf(c.col[0], "want a date and time like 2023-11-16 18:15:46.6805900, got %q", rec[c.col[0]])
		}
		if len(out) == 0 {
			first = ts
		}
		in, err := c.tokens(rec, c.col[1])
		if err != nil {
			return nil, err
		}
		outTok, err := c.tokens(rec, c.col[2])
		if err != nil {
			return nil, err
		}
		rel := ts.Sub(first).Seconds()
		if math.Abs(rel) > MaxTraceS {
			return nil, c.errorf(c.col[0], "%s is more than %d s from the first row's %s", rec[c.col[0]], MaxTraceS, first.Format("2006-01-02 15:04:05"))
		}
		out = append(out, TraceRecord{ArrivalS: rel, InputTokens: max(in, 1), OutputTokens: max(outTok, 1)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return out, nil
}

// ParseBurstGPT reads a BurstGPT trace: CSV with the columns Timestamp
// (seconds), Model, Request tokens and Response tokens (the 6- and
// 8-column releases both parse). model, when set, keeps only that model's
// rows (case ignored). Rows with 0 response tokens are the requests that
// failed in BurstGPT and are dropped: they were not served, so replaying
// them would add a load the trace never carried.
func ParseBurstGPT(name string, r io.Reader, model string) ([]TraceRecord, error) {
	c, err := openCSV(name, r, []string{"Timestamp", "Request tokens", "Response tokens"}, "Model")
	if err != nil {
		return nil, err
	}
	mcol := c.col[3]
	if model != "" && mcol < 0 {
		return nil, fmt.Errorf("%s:1: trace_model %q needs a Model column; got %s", name, model, strings.Join(c.header, ","))
	}
	var out []TraceRecord
	var seen []string
	rows, failed := 0, 0
	for {
		rec, err := c.next()
		if err != nil {
			return nil, err
		}
		if rec == nil {
			break
		}
		rows++
		ts, err := strconv.ParseFloat(strings.TrimSpace(rec[c.col[0]]), 64)
		if err != nil || !(ts >= 0 && ts <= MaxTraceS) {
			return nil, c.errorf(c.col[0], "want seconds between 0 and %d, got %q", MaxTraceS, rec[c.col[0]])
		}
		in, err := c.tokens(rec, c.col[1])
		if err != nil {
			return nil, err
		}
		resp, err := c.tokens(rec, c.col[2])
		if err != nil {
			return nil, err
		}
		if mcol >= 0 {
			m := strings.TrimSpace(rec[mcol])
			if !slices.Contains(seen, m) && len(seen) < 16 {
				seen = append(seen, m)
			}
			if model != "" && !strings.EqualFold(m, model) {
				continue
			}
		}
		if resp == 0 {
			failed++
			continue
		}
		out = append(out, TraceRecord{ArrivalS: ts, InputTokens: max(in, 1), OutputTokens: resp})
	}
	if len(out) == 0 {
		switch {
		case rows == 0:
			return nil, fmt.Errorf("%s: no records", name)
		case model != "" && failed == 0:
			return nil, fmt.Errorf("%s: no rows of model %q (models: %s)", name, model, strings.Join(seen, ", "))
		}
		return nil, fmt.Errorf("%s: all %d rows kept failed (0 response tokens)", name, failed)
	}
	return out, nil
}
