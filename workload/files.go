package workload

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// TraceRecord is one request of a replayed trace.
type TraceRecord struct {
	ArrivalS     float64 `json:"arrival_s"`
	InputTokens  int     `json:"input_tokens"`
	OutputTokens int     `json:"output_tokens"`
	Class        string  `json:"class,omitempty"`
	// HashIDs identify the prompt's leading blocks of HashBlockTokens
	// tokens each, as Mooncake's hash_ids do: equal ids mean an equal
	// prefix up to and including that block. Nil: nothing shared.
	HashIDs         []uint64 `json:"hash_ids,omitempty"`
	HashBlockTokens int      `json:"hash_block_tokens,omitempty"`
}

// WeightedValue is one point of an empirical distribution.
type WeightedValue struct {
	Value, Weight float64
}

// ReadTrace reads a trace: CSV with the header
// arrival_s,input_tokens,output_tokens[,class], or JSON Lines with those
// keys (detected by a leading '{'). Arrivals must not decrease. Errors name
// the file and line.
func ReadTrace(name string, r io.Reader) ([]TraceRecord, error) {
	br := bufio.NewReader(r)
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, fmt.Errorf("%s: empty trace", name)
		}
		if b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r' {
			br.ReadByte()
			continue
		}
		if b[0] == '{' {
			return readJSONL(name, br)
		}
		return readTraceCSV(name, br)
	}
}

func readTraceCSV(name string, r io.Reader) ([]TraceRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	want := []string{"arrival_s", "input_tokens", "output_tokens"}
	if len(header) < 3 || len(header) > 4 {
		return nil, fmt.Errorf("%s:1: want columns arrival_s,input_tokens,output_tokens[,class], got %d columns", name, len(header))
	}
	for i, w := range want {
		if strings.TrimSpace(header[i]) != w {
			return nil, fmt.Errorf("%s:1: column %d is %q, want %q", name, i+1, header[i], w)
		}
	}
	if len(header) == 4 && strings.TrimSpace(header[3]) != "class" {
		return nil, fmt.Errorf("%s:1: column 4 is %q, want \"class\"", name, header[3])
	}
	var out []TraceRecord
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: want %d fields, got %d", name, line, len(header), len(rec))
		}
		t := TraceRecord{}
		if t.ArrivalS, err = strconv.ParseFloat(strings.TrimSpace(rec[0]), 64); err != nil || !(t.ArrivalS >= 0) || math.IsInf(t.ArrivalS, 0) {
			return nil, fmt.Errorf("%s:%d: arrival_s: want a number >= 0, got %q", name, line, rec[0])
		}
		for i, p := range []*int{&t.InputTokens, &t.OutputTokens} {
			v, err := strconv.Atoi(strings.TrimSpace(rec[1+i]))
			if err != nil || v < 1 {
				return nil, fmt.Errorf("%s:%d: %s: want an integer >= 1, got %q", name, line, want[1+i], rec[1+i])
			}
			if v > MaxTokens {
				return nil, fmt.Errorf("%s:%d: %s: at most %d tokens, got %d", name, line, want[1+i], MaxTokens, v)
			}
			*p = v
		}
		if len(rec) == 4 {
			t.Class = strings.TrimSpace(rec[3])
		}
		if n := len(out); n > 0 && t.ArrivalS < out[n-1].ArrivalS {
			return nil, fmt.Errorf("%s:%d: arrival_s %v is before the previous record's %v: sort the trace", name, line, t.ArrivalS, out[n-1].ArrivalS)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return out, nil
}

func readJSONL(name string, r io.Reader) ([]TraceRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []TraceRecord
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var t TraceRecord
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		switch {
		case !(t.ArrivalS >= 0) || math.IsInf(t.ArrivalS, 0):
			return nil, fmt.Errorf("%s:%d: arrival_s: want a number >= 0, got %v", name, line, t.ArrivalS)
		case t.InputTokens < 1:
			return nil, fmt.Errorf("%s:%d: input_tokens: want an integer >= 1, got %d", name, line, t.InputTokens)
		case t.OutputTokens < 1:
			return nil, fmt.Errorf("%s:%d: output_tokens: want an integer >= 1, got %d", name, line, t.OutputTokens)
		case t.InputTokens > MaxTokens || t.OutputTokens > MaxTokens:
			return nil, fmt.Errorf("%s:%d: input_tokens, output_tokens: at most %d tokens, got %d and %d", name, line, MaxTokens, t.InputTokens, t.OutputTokens)
		}
		if n := len(out); n > 0 && t.ArrivalS < out[n-1].ArrivalS {
			return nil, fmt.Errorf("%s:%d: arrival_s %v is before the previous record's %v: sort the trace", name, line, t.ArrivalS, out[n-1].ArrivalS)
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return out, nil
}

// ReadEmpirical reads an empirical distribution: one value per line, or
// value,weight; blank lines and # comments are skipped.
func ReadEmpirical(name string, r io.Reader) ([]WeightedValue, error) {
	sc := bufio.NewScanner(r)
	var out []WeightedValue
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if s == "" {
			continue
		}
		v, w, hasW := strings.Cut(s, ",")
		wv := WeightedValue{Weight: 1}
		var err error
		if wv.Value, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil || !(wv.Value >= 1 && wv.Value <= MaxTokens) {
			return nil, fmt.Errorf("%s:%d: value: want a number >= 1 and <= %d, got %q", name, line, MaxTokens, v)
		}
		if hasW {
			if wv.Weight, err = strconv.ParseFloat(strings.TrimSpace(w), 64); err != nil || !(wv.Weight > 0) || math.IsInf(wv.Weight, 0) {
				return nil, fmt.Errorf("%s:%d: weight: want a positive number, got %q", name, line, w)
			}
		}
		out = append(out, wv)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no values", name)
	}
	return out, nil
}
