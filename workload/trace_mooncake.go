package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxHashIDs bounds a Mooncake request's hash ids: one per block of the
// longest prompt MaxTokens allows.
const MaxHashIDs = MaxTokens / MooncakeBlockTokens

// mooncakeRow is one line of a Mooncake trace; pointers tell a missing
// field from a zero.
type mooncakeRow struct {
	Timestamp    *float64 `json:"timestamp"`
	InputLength  *int     `json:"input_length"`
	OutputLength *int     `json:"output_length"`
	HashIDs      []uint64 `json:"hash_ids"`
}

// ParseMooncake reads a Mooncake trace: JSON Lines of {"timestamp" (ms),
// "input_length", "output_length", "hash_ids"}, other keys ignored. Each
// hash id names a block of MooncakeBlockTokens prompt tokens; requests
// that share leading ids share that prefix. Arrivals are seconds after the
// first row.
func ParseMooncake(name string, r io.Reader) ([]TraceRecord, error) {
	br := bufio.NewReader(r)
	skipBOM(br)
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), 4<<20) // a row of MaxHashIDs ids is ~20 KB; leave room
	var out []TraceRecord
	first := 0.0
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var row mooncakeRow
		if err := json.Unmarshal(b, &row); err != nil {
			return nil, jsonLineError(name, line, sc.Bytes(), err)
		}
		bad := func(field, format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s: %s", name, line, field, fmt.Sprintf(format, args...))
		}
		switch {
		case row.Timestamp == nil:
			return nil, bad("timestamp", "required (milliseconds)")
		case !(*row.Timestamp >= 0 && *row.Timestamp <= MaxTraceS*1000):
			return nil, bad("timestamp", "want milliseconds between 0 and %d, got %v", MaxTraceS*1000, *row.Timestamp)
		case row.InputLength == nil:
			return nil, bad("input_length", "required (tokens)")
		case *row.InputLength < 1 || *row.InputLength > MaxTokens:
			return nil, bad("input_length", "want between 1 and %d tokens, got %d", MaxTokens, *row.InputLength)
		case row.OutputLength == nil:
			return nil, bad("output_length", "required (tokens)")
		case *row.OutputLength < 0 || *row.OutputLength > MaxTokens:
			return nil, bad("output_length", "want between 0 and %d tokens, got %d", MaxTokens, *row.OutputLength)
		case len(row.HashIDs) > MaxHashIDs:
			return nil, bad("hash_ids", "at most %d ids (blocks of %d tokens of a %d-token prompt), got %d", MaxHashIDs, MooncakeBlockTokens, MaxTokens, len(row.HashIDs))
		}
		s := *row.Timestamp / 1000
		if len(out) == 0 {
			first = s
		}
		t := TraceRecord{ArrivalS: s - first, InputTokens: *row.InputLength, OutputTokens: max(*row.OutputLength, 1)}
		if len(row.HashIDs) > 0 {
			t.HashIDs, t.HashBlockTokens = row.HashIDs, MooncakeBlockTokens
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

// jsonLineError locates a JSON error in a line: the column of a syntax
// error or of a value of the wrong type, and the field it belongs to.
func jsonLineError(name string, line int, b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%s:%d:%d: %v", name, line, column(b, se.Offset), se)
	case errors.As(err, &te):
		return fmt.Errorf("%s:%d:%d: %s: want %v, got JSON %s", name, line, column(b, te.Offset), te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("%s:%d: %v", name, line, err)
}

// column is the 1-based column of byte offset off of a line, counting a
// leading space trimmed before decoding.
func column(b []byte, off int64) int {
	lead := len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
	return lead + int(max(off, 1))
}
