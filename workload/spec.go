// Package workload describes and generates the request streams of an
// LLM-serving simulation: when requests arrive (Poisson, Gamma with a chosen
// burstiness, a closed loop of users, a diurnal rate profile, or a replayed
// trace), how long their prompts and outputs are (fixed, uniform,
// lognormal, geometric, or an empirical distribution), and which priority
// class each belongs to.
//
// The spec types decode from a scenario's TOML; the generators are pure and
// draw from a *rand.Rand the caller owns, so a seeded stream reproduces a
// run exactly. Parsers for trace and distribution files take an io.Reader.
package workload

import (
	"errors"
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Spec is one served model's traffic.
type Spec struct {
	Arrival Arrival `toml:"arrival"`
	Input   Lengths `toml:"input"`
	Output  Lengths `toml:"output"`
	Classes []Class `toml:"classes,omitempty"`
	// Prefix, Sessions and Thinking shape what requests share and how long
	// they answer (traffic.go); nil means none.
	Prefix   *SharedPrefix `toml:"prefix,omitempty"`
	Sessions *Sessions     `toml:"sessions,omitempty"`
	Thinking *Thinking     `toml:"thinking,omitempty"`
}

// Arrival says when requests arrive.
type Arrival struct {
	// Process is poisson, gamma, closed (a fixed number of users, each
	// sending its next request when the previous completes) or trace.
	Process Process `toml:"process"`
	Rate    float64 `toml:"rate,omitempty"` // requests/s (poisson, gamma)
	// CV is the coefficient of variation of gamma inter-arrival times:
	// 1 is Poisson, above 1 burstier.
	CV          float64 `toml:"cv,omitempty"`
	Concurrency int     `toml:"concurrency,omitempty"` // closed: users
	ThinkS      float64 `toml:"think_s,omitempty"`     // closed: mean exponential think time
	// Diurnal holds 24 hourly multipliers of Rate; simulated time 0 is
	// midnight. Poisson arrivals follow it exactly (thinning); gamma ones
	// take the multiplier of the hour each gap starts in.
	Diurnal []float64 `toml:"diurnal,omitempty"`
	Trace   string    `toml:"trace,omitempty"` // trace: CSV or JSONL file
	// TraceFormat names the trace's format (one of TraceFormats; empty:
	// the project's own CSV/JSONL); Speedup, StartS and DurationS scale
	// and slice it (trace_import.go).
	TraceFormat   TraceFormat `toml:"trace_format,omitempty"`
	Speedup       float64     `toml:"speedup,omitempty"`
	StartS        float64     `toml:"start_s,omitempty"`
	DurationS     float64     `toml:"duration_s,omitempty"`
	CharsPerToken float64     `toml:"chars_per_token,omitempty"` // sharegpt turns given as text
	TraceModel    string      `toml:"trace_model,omitempty"`     // burstgpt: keep only this model's rows
}

// Lengths is a distribution of token counts. Samples are rounded and then
// clamped to [max(1, Min), Max] (Max 0: no cap).
type Lengths struct {
	Dist   Dist    `toml:"dist"`             // one of Dists
	Value  int     `toml:"value,omitempty"`  // fixed
	Min    int     `toml:"min,omitempty"`    // uniform lower bound; a floor for any dist
	Max    int     `toml:"max,omitempty"`    // uniform upper bound; a cap for any dist
	Mean   float64 `toml:"mean,omitempty"`   // lognormal, exponential (geometric on 1, 2, ...)
	Stddev float64 `toml:"stddev,omitempty"` // lognormal
	File   string  `toml:"file,omitempty"`   // empirical: values, or value,weight lines
}

// Class is a priority class of requests.
type Class struct {
	Name     string  `toml:"name"`
	Priority int     `toml:"priority"` // lower is more urgent
	Share    float64 `toml:"share"`    // of the model's requests; shares sum to 1
}

// Normalize returns the classes to use: the given ones, or a single class
// "default" when there are none.
func Normalize(classes []Class) []Class {
	if len(classes) == 0 {
		return []Class{{Name: "default", Share: 1}}
	}
	return classes
}

// Bounds on what a spec may ask for. Each is far beyond real serving traffic
// and keeps the simulator's arithmetic (32-bit token counts, event counts,
// memory per request) safe: a prompt of 2³² tokens would wrap a counter and
// a rate of 10⁹ requests/s would exhaust memory in seconds.
const (
	// MaxTokens bounds any prompt or output length: 1,048,576 tokens, 8×
	// the longest context of any catalog model.
	MaxTokens = 1 << 20
	// MaxRate bounds a model's mean arrival rate, in requests/s.
	MaxRate = 1e6
	// MaxConcurrency bounds a closed loop's users.
	MaxConcurrency = 1_000_000
	// MaxThinkS bounds a closed loop's mean think time: a day.
	MaxThinkS = 86400
	// MaxDiurnal bounds one hourly multiplier of the rate.
	MaxDiurnal = 1000
)

// FieldError is one problem of a spec: the dotted field under the spec
// (arrival.rate, classes.0.share), what kind of problem it is and what is
// wrong. It prints as "field: message"; a reader of the spec's file (the
// scenario) locates it under its own key and keeps the kind, so callers
// test a kind rather than a message.
type FieldError struct {
	Field string
	Kind  tomlcheck.Kind
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// fieldError is a FieldError with a formatted message.
func fieldError(kind tomlcheck.Kind, field, format string, args ...any) error {
	return &FieldError{Field: field, Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Validate reports every problem in the spec, each a *FieldError joined
// with errors.Join.
func (s Spec) Validate() error {
	errs := s.Arrival.validate()
	errs = append(errs, s.Input.validate("input")...)
	errs = append(errs, s.Output.validate("output")...)
	errs = append(errs, s.validateTraffic()...) // traffic.go
	if len(s.Classes) > 0 {
		sum := 0.0
		names := map[string]bool{}
		for i, c := range s.Classes {
			if c.Name == "" {
				errs = append(errs, fieldError(tomlcheck.Missing, fmt.Sprintf("classes.%d.name", i), "required field is missing"))
			} else if names[c.Name] {
				errs = append(errs, fieldError(tomlcheck.Invalid, fmt.Sprintf("classes.%d.name", i), "duplicate class %q", c.Name))
			}
			names[c.Name] = true
			if !(c.Share > 0 && c.Share <= 1) {
				errs = append(errs, fieldError(tomlcheck.OutOfRange, fmt.Sprintf("classes.%d.share", i), "must be in (0, 1], got %v", c.Share))
			}
			sum += c.Share
		}
		if math.Abs(sum-1) > 1e-9 {
			errs = append(errs, fieldError(tomlcheck.OutOfRange, "classes", "shares must sum to 1, got %v", sum))
		}
	}
	return errors.Join(errs...)
}

func (a Arrival) validate() []error {
	var errs []error
	bad := func(kind tomlcheck.Kind, field, format string, args ...any) {
		errs = append(errs, fieldError(kind, "arrival."+field, format, args...))
	}
	if !a.Process.Valid() {
		bad(tomlcheck.Invalid, "process", "unknown process %q; valid: %s", a.Process, Join(Processes))
		return errs
	}
	switch a.Process {
	case Poisson, Gamma:
		if !(a.Rate > 0) || math.IsInf(a.Rate, 0) {
			bad(tomlcheck.OutOfRange, "rate", "must be positive for process %q, got %v", a.Process, a.Rate)
		} else if a.Rate > MaxRate {
			bad(tomlcheck.OutOfRange, "rate", "must be at most %g requests/s (a limit on the work one simulation may ask for), got %v", float64(MaxRate), a.Rate)
		}
		if a.Process == Gamma && !(a.CV > 0 && a.CV < 100) {
			bad(tomlcheck.OutOfRange, "cv", "must be in (0, 100) for process \"gamma\", got %v", a.CV)
		}
		if len(a.Diurnal) > 0 {
			if len(a.Diurnal) != 24 {
				bad(tomlcheck.Invalid, "diurnal", "want 24 hourly multipliers, got %d", len(a.Diurnal))
			}
			peak := 0.0
			for i, m := range a.Diurnal {
				if !(m >= 0) || math.IsInf(m, 0) {
					bad(tomlcheck.OutOfRange, "diurnal", "multiplier %d must not be negative, got %v", i, m)
				} else if m > MaxDiurnal {
					bad(tomlcheck.OutOfRange, "diurnal", "multiplier %d must be at most %d, got %v", i, MaxDiurnal, m)
				}
				peak = math.Max(peak, m)
			}
			if peak == 0 {
				bad(tomlcheck.OutOfRange, "diurnal", "at least one multiplier must be positive")
			}
		}
	case Closed:
		if a.Concurrency < 1 || a.Concurrency > MaxConcurrency {
			bad(tomlcheck.OutOfRange, "concurrency", "must be between 1 and %d for process \"closed\", got %d", MaxConcurrency, a.Concurrency)
		}
		if !(a.ThinkS >= 0 && a.ThinkS <= MaxThinkS) {
			bad(tomlcheck.OutOfRange, "think_s", "must be between 0 and %d s, got %v", MaxThinkS, a.ThinkS)
		}
	case Trace:
		if a.Trace == "" {
			bad(tomlcheck.Missing, "trace", "required for process \"trace\"")
		}
	}
	errs = append(errs, a.traceErrors()...) // trace_import.go
	return errs
}

func (l Lengths) validate(field string) []error {
	var errs []error
	bad := func(kind tomlcheck.Kind, f, format string, args ...any) {
		errs = append(errs, fieldError(kind, field+"."+f, format, args...))
	}
	if l.Min < 0 || l.Min > MaxTokens {
		bad(tomlcheck.OutOfRange, "min", "must be between 0 and %d tokens, got %d", MaxTokens, l.Min)
	}
	if l.Max > MaxTokens {
		bad(tomlcheck.OutOfRange, "max", "must be at most %d tokens, got %d", MaxTokens, l.Max)
	}
	if l.Max < 0 || l.Max > 0 && l.Max < l.Min {
		bad(tomlcheck.OutOfRange, "max", "must be 0 (no cap) or at least min (%d), got %d", l.Min, l.Max)
	}
	if !l.Dist.Valid() {
		bad(tomlcheck.Invalid, "dist", "unknown distribution %q; valid: %s", l.Dist, Join(Dists))
		return errs
	}
	switch l.Dist {
	case Fixed:
		if l.Value < 1 || l.Value > MaxTokens {
			bad(tomlcheck.OutOfRange, "value", "must be between 1 and %d tokens, got %d", MaxTokens, l.Value)
		}
	case Uniform:
		if l.Max < 1 {
			bad(tomlcheck.Missing, "max", "required for dist \"uniform\"")
		}
	case Lognormal:
		if !(l.Mean > 0) || !(l.Stddev > 0) {
			bad(tomlcheck.OutOfRange, "mean", "lognormal needs mean > 0 and stddev > 0, got %v and %v", l.Mean, l.Stddev)
		} else if !(l.Mean <= MaxTokens && l.Stddev <= MaxTokens) {
			bad(tomlcheck.OutOfRange, "mean", "lognormal mean and stddev must be at most %d tokens, got %v and %v", MaxTokens, l.Mean, l.Stddev)
		}
	case Exponential:
		if !(l.Mean >= 1 && l.Mean <= MaxTokens) {
			bad(tomlcheck.OutOfRange, "mean", "must be between 1 and %d tokens, got %v", MaxTokens, l.Mean)
		}
	case Empirical:
		if l.File == "" {
			bad(tomlcheck.Missing, "file", "required for dist \"empirical\"")
		}
	}
	return errs
}
