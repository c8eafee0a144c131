package workload

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fleettwin/fleettwin/engine"
)

// TraceFormat is the format of a replayed trace file.
type TraceFormat string

// The trace formats ReadTrace's callers accept; empty is the project's own.
const (
	TraceAzure    TraceFormat = "azure"
	TraceBurstGPT TraceFormat = "burstgpt"
	TraceMooncake TraceFormat = "mooncake"
	TraceShareGPT TraceFormat = "sharegpt"
)

// TraceFormats lists the named formats.
var TraceFormats = []TraceFormat{TraceAzure, TraceBurstGPT, TraceMooncake, TraceShareGPT}

// Valid reports whether f is empty (the project's own format) or one of
// TraceFormats.
func (f TraceFormat) Valid() bool { return f == "" || slices.Contains(TraceFormats, f) }

// MooncakeBlockTokens is the number of prompt tokens one Mooncake hash id
// stands for in the published Mooncake traces.
const MooncakeBlockTokens = 512

// Bounds on the reshaping of a trace.
const (
	// MaxSpeedup bounds speedup either way: a week replayed in a tenth of a
	// second, or a minute stretched over two years, is a mistake.
	MaxSpeedup = 1e6
	// MaxTraceS bounds start_s and duration_s: ten years of seconds.
	MaxTraceS = 10 * 365 * 86400
	// MaxCharsPerToken bounds chars_per_token (English text runs at about
	// 4 characters per token; no tokenizer comes near 100).
	MaxCharsPerToken = 100
)

// TraceImport says how a trace file is read and reshaped: its format, the
// slice of it kept, the time scale, and what each format needs besides the
// file. A scenario's Arrival carries it (Arrival.TraceImport).
type TraceImport struct {
	Format TraceFormat
	// Speedup divides every arrival time (0 means 1): 2 replays the trace
	// at twice its rate.
	Speedup float64
	// StartS and DurationS keep the requests that arrive in [StartS,
	// StartS+DurationS) seconds of the trace's own clock, before Speedup,
	// counted from its first kept row; DurationS 0 keeps the rest.
	StartS, DurationS float64
	// CharsPerToken turns ShareGPT turns given only as text into tokens.
	CharsPerToken float64
	// Model keeps only BurstGPT rows of this model (empty: all).
	Model string
	// Rate and CV time ShareGPT conversations, which carry no timestamps:
	// a Poisson process at Rate requests/s, or gamma with this CV.
	Rate, CV float64
}

// TraceImport returns how the arrival's trace is to be read.
func (a Arrival) TraceImport() TraceImport {
	return TraceImport{Format: a.TraceFormat, Speedup: a.Speedup, StartS: a.StartS, DurationS: a.DurationS,
		CharsPerToken: a.CharsPerToken, Model: a.TraceModel, Rate: a.Rate, CV: a.CV}
}

// ReadTraceAs reads a trace in the given format and reshapes it: arrivals
// relative to the first kept row, sorted (stably: rows of one instant keep
// the file's order), sliced to [StartS, StartS+DurationS) and divided by
// Speedup. The empty format is the project's own (ReadTrace). Errors name
// the file, the line and, for CSV, the column.
func ReadTraceAs(name string, r io.Reader, opt TraceImport) ([]TraceRecord, error) {
	if !opt.Format.Valid() {
		return nil, fmt.Errorf("%s: unknown trace format %q; valid: %s", name, opt.Format, Join(TraceFormats))
	}
	var recs []TraceRecord
	var err error
	switch opt.Format {
	case "":
		recs, err = ReadTrace(name, r)
	case TraceAzure:
		recs, err = ParseAzure(name, r)
	case TraceBurstGPT:
		recs, err = ParseBurstGPT(name, r, opt.Model)
	case TraceMooncake:
		recs, err = ParseMooncake(name, r)
	case TraceShareGPT:
		recs, err = ParseShareGPT(name, r, opt.CharsPerToken)
		if err == nil {
			err = TimeConversations(recs, opt.Rate, opt.CV)
		}
	}
	if err != nil {
		return nil, err
	}
	out := Reshape(recs, opt)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no requests in [%g s, %s) of the trace's %d", name, opt.StartS, endOf(opt), len(recs))
	}
	return out, nil
}

func endOf(opt TraceImport) string {
	if opt.DurationS == 0 {
		return "its end"
	}
	return fmt.Sprintf("%g s", opt.StartS+opt.DurationS)
}

// Reshape sorts records by arrival (stably), makes arrivals relative to
// the first, keeps those in [StartS, StartS+DurationS) counted from there,
// and divides by Speedup. It does not modify recs.
func Reshape(recs []TraceRecord, opt TraceImport) []TraceRecord {
	if len(recs) == 0 {
		return nil
	}
	sorted := slices.Clone(recs)
	slices.SortStableFunc(sorted, func(a, b TraceRecord) int {
		switch {
		case a.ArrivalS < b.ArrivalS:
			return -1
		case a.ArrivalS > b.ArrivalS:
			return 1
		}
		return 0
	})
	first := sorted[0].ArrivalS
	speed := opt.Speedup
	if speed == 0 {
		speed = 1
	}
	end := math.Inf(1)
	if opt.DurationS > 0 {
		end = opt.StartS + opt.DurationS
	}
	out := sorted[:0]
	for _, t := range sorted {
		rel := t.ArrivalS - first
		if rel < opt.StartS || rel >= end {
			continue
		}
		t.ArrivalS = (rel - opt.StartS) / speed
		out = append(out, t)
	}
	return slices.Clip(out)
}

// conversationSeed fixes the stream that times ShareGPT conversations, so
// a trace replays the same arrivals under every scenario seed, as a timed
// trace does.
const conversationSeed = 0x5ea6e7

// TimeConversations gives untimed records (ShareGPT's) arrival times: a
// Poisson process at rate requests/s from time 0, or a gamma process with
// coefficient of variation cv (0 or 1: Poisson), drawn from a fixed stream.
func TimeConversations(recs []TraceRecord, rate, cv float64) error {
	if !(rate > 0 && rate <= MaxRate) {
		return fmt.Errorf("sharegpt conversations carry no timestamps: set a rate in (0, %g] requests/s, got %v", float64(MaxRate), rate)
	}
	if !(cv >= 0 && cv < 100) {
		return fmt.Errorf("cv: must be in [0, 100), got %v", cv)
	}
	r := rand.New(rand.NewPCG(conversationSeed, uint64(len(recs))))
	t := 0.0
	for i := range recs {
		recs[i].ArrivalS = t
		if cv == 0 || cv == 1 {
			t += engine.Exponential(r, 1/rate)
		} else {
			shape := 1 / (cv * cv)
			t += engine.Gamma(r, shape, 1/rate/shape)
		}
	}
	return nil
}

// skipBOM drops a UTF-8 byte-order mark, which spreadsheet exports put
// before a CSV header.
func skipBOM(br *bufio.Reader) {
	if b, err := br.Peek(3); err == nil && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		br.Discard(3)
	}
}
