package calibrate

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// Limits on what a calibration plan may ask for. Each is far beyond any
// real calibration and low enough that nothing derived from it overflows
// (a duration in nanoseconds, a ticker interval, a slice of experiments).
const (
	week = 7 * 24 * 3600.0

	// MaxTimeoutS bounds timeout_s, stall_s and sustained_s: a week.
	MaxTimeoutS = week
	// MinTimeoutS is the shortest timeout_s or stall_s: below a
	// millisecond a duration rounds to "no bound" or fails every request.
	MinTimeoutS = 0.001
	// MinTelemetryHz and MaxTelemetryHz bound telemetry_hz: one sample a
	// hundred seconds to one a millisecond (NVML updates at most every
	// few milliseconds).
	MinTelemetryHz = 0.01
	MaxTelemetryHz = 1000
	// MaxConcurrency bounds concurrency and sustained_concurrency: users
	// per model, each a goroutine and a connection.
	MaxConcurrency = 4096
	// MaxSeqs bounds max_seqs (vLLM's max_num_seqs defaults to 256), and
	// MaxTokens inputs and outputs: the scenario's bounds, since every
	// experiment is replayed as a scenario.
	MaxSeqs   = scenario.MaxSeqs
	MaxTokens = workload.MaxTokens
	// MaxRequests bounds requests and rate_requests per model per point.
	MaxRequests = 1 << 20
	// MinRate and MaxRate bound rates in requests per second per model.
	MinRate = 0.0001
	MaxRate = 100000
	// MaxHoldoutEvery bounds holdout_every.
	MaxHoldoutEvery = 1000
	// MaxPasses bounds passes.
	MaxPasses = 100
	// MaxListLen bounds each list of the grid (concurrency, inputs,
	// outputs, rates) and the models.
	MaxListLen = 256
	// MaxExperiments bounds the expanded grid, all passes together.
	MaxExperiments = 100000
	// MaxNameLen bounds the plan's name (part of the run folder's name)
	// and MaxFieldLen every other string of a plan.
	MaxNameLen  = 64
	MaxFieldLen = 1024
)

// checkNumbers checks every number a plan decoded, after defaults are
// applied, reporting each as out of range.
func (p *Plan) checkNumbers(errs *tomlcheck.Errors) {
	add := func(key []string, format string, args ...any) {
		errs.AddKind(tomlcheck.OutOfRange, key, format, args...)
	}
	num := func(key []string, msg string) {
		if msg != "" {
			add(key, "%s", msg)
		}
	}
	num([]string{"timeout_s"}, tomlcheck.Number(p.TimeoutS, MinTimeoutS, MaxTimeoutS))
	num([]string{"stall_s"}, tomlcheck.Number(p.StallS, MinTimeoutS, MaxTimeoutS))
	num([]string{"telemetry_hz"}, tomlcheck.Number(p.TelemetryHz, MinTelemetryHz, MaxTelemetryHz))
	if len(p.Models) > MaxListLen {
		add([]string{"models"}, "lists %d models; at most %d", len(p.Models), MaxListLen)
	}
	e := &p.Experiments
	list := func(key string, n int) bool {
		if n > MaxListLen {
			add([]string{"experiments", key}, "has %d entries; at most %d", n, MaxListLen)
			return false
		}
		return true
	}
	entries := func(key string, vals []int, lo, hi int) {
		if !list(key, len(vals)) {
			return
		}
		for i, v := range vals {
			if v < lo {
				add([]string{"experiments", key}, "entry %d must be at least %d, got %d", i+1, lo, v)
			} else if msg := tomlcheck.Int(v, lo, hi); msg != "" {
				add([]string{"experiments", key}, "entry %d %s", i+1, msg)
			}
		}
	}
	entries("concurrency", e.Concurrency, 1, MaxConcurrency)
	entries("inputs", e.Inputs, 1, MaxTokens)
	entries("outputs", e.Outputs, 1, MaxTokens)
	if list("rates", len(e.Rates)) {
		for i, r := range e.Rates {
			if r <= 0 {
				add([]string{"experiments", "rates"}, "entry %d must be positive, got %v", i+1, r)
			} else if msg := tomlcheck.Number(r, MinRate, MaxRate); msg != "" {
				add([]string{"experiments", "rates"}, "entry %d %s", i+1, msg)
			}
		}
	}
	num([]string{"experiments", "requests"}, tomlcheck.Int(e.Requests, 0, MaxRequests))
	num([]string{"experiments", "rate_requests"}, tomlcheck.Int(e.RateRequests, 0, MaxRequests))
	num([]string{"experiments", "sustained_s"}, tomlcheck.Number(e.SustainedS, 0, MaxTimeoutS))
	num([]string{"experiments", "sustained_concurrency"}, tomlcheck.Int(e.SustainedConcurrency, 0, MaxConcurrency))
	num([]string{"experiments", "holdout_every"}, tomlcheck.Int(e.HoldoutEvery, 0, MaxHoldoutEvery))
	num([]string{"experiments", "passes"}, tomlcheck.Int(e.Passes, 1, MaxPasses))
	// Every factor is bounded above, so the product cannot overflow.
	if n := p.experimentCount(); n > MaxExperiments {
		add([]string{"experiments"}, "the grid expands to %d experiments; at most %d", n, MaxExperiments)
	}
}

// experimentCount is len(p.Expand()) without building it.
func (p *Plan) experimentCount() int {
	e := p.Experiments
	m := len(p.Models)
	groups := 0
	if e.Alone == nil || *e.Alone {
		groups += m
	}
	if m > 1 && (e.Together == nil || *e.Together) {
		groups++
	}
	grid := groups * len(e.Inputs) * len(e.Outputs) * len(e.Concurrency)
	n := grid + m*len(e.Rates) // the first mode runs the rates and the sustained phase too
	if e.SustainedS > 0 {
		n++
	}
	n += (len(p.Modes()) - 1) * grid
	return n * max(e.Passes, 1)
}

// checkString bounds a plan's string field and rejects control
// characters, which would garble logs and file names.
func checkString(v string) string {
	if len(v) > MaxFieldLen {
		return fmt.Sprintf("is %d bytes long; at most %d", len(v), MaxFieldLen)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return fmt.Sprintf("contains a control character (%q at byte %d)", v[i:i+1], i)
	}
	return ""
}

// CheckRunName says what is wrong with a run name or run ID, or "": it
// becomes a folder name under the runs root, so it is restricted to
// [A-Za-z0-9._-], must not start with '.', and is at most max bytes.
func CheckRunName(v string, max int) string {
	switch {
	case v == "":
		return "is required (it names the run folder)"
	case len(v) > max:
		return fmt.Sprintf("is %d bytes long; at most %d", len(v), max)
	case v[0] == '.':
		return fmt.Sprintf("%q must not start with '.'", v)
	}
	for i := range len(v) {
		if !safeByte(v[i]) {
			return fmt.Sprintf("%q may hold only letters, digits, '.', '_' and '-' (it names the run folder); %q at byte %d is not allowed", v, v[i:i+1], i)
		}
	}
	return ""
}

func safeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// fileName makes s safe as one file name inside a folder: bytes outside
// [A-Za-z0-9._-] become '_', and a leading '.' does too. Experiment IDs
// carry served model names, which are often "org/model".
func fileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !safeByte(c) || (i == 0 && c == '.') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
