package workload

import (
	"errors"
	"math"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Validate reports every problem of the options, each a *FieldError named
// by its scenario key under arrival (trace_format, speedup, rate, ...).
func (o TraceImport) Validate() error { return errors.Join(o.problems()...) }

func (o TraceImport) problems() []error {
	var errs []error
	bad := func(kind tomlcheck.Kind, field, format string, args ...any) {
		errs = append(errs, fieldError(kind, field, format, args...))
	}
	if !o.Format.Valid() {
		bad(tomlcheck.Invalid, "trace_format", "unknown trace format %q; valid: %s (or none: the project's own CSV/JSONL)", o.Format, Join(TraceFormats))
	}
	if o.Speedup != 0 && !(o.Speedup >= 1/MaxSpeedup && o.Speedup <= MaxSpeedup) {
		bad(tomlcheck.OutOfRange, "speedup", "must be between %g and %g (0 or absent: 1), got %v", 1/MaxSpeedup, float64(MaxSpeedup), o.Speedup)
	}
	if !(o.StartS >= 0 && o.StartS <= MaxTraceS) {
		bad(tomlcheck.OutOfRange, "start_s", "must be between 0 and %d s of the trace, got %v", MaxTraceS, o.StartS)
	}
	if !(o.DurationS >= 0 && o.DurationS <= MaxTraceS) {
		bad(tomlcheck.OutOfRange, "duration_s", "must be between 0 (to the end) and %d s of the trace, got %v", MaxTraceS, o.DurationS)
	}
	if o.CharsPerToken != 0 {
		if o.Format != TraceShareGPT {
			bad(tomlcheck.Invalid, "chars_per_token", "only for trace_format \"sharegpt\" (the other formats count tokens)")
		} else if !(o.CharsPerToken > 0 && o.CharsPerToken <= MaxCharsPerToken) {
			bad(tomlcheck.OutOfRange, "chars_per_token", "must be in (0, %d], got %v", MaxCharsPerToken, o.CharsPerToken)
		}
	}
	if o.Model != "" && o.Format != TraceBurstGPT {
		bad(tomlcheck.Invalid, "trace_model", "only for trace_format \"burstgpt\" (the only format with a model column)")
	}
	switch {
	case o.Format == TraceShareGPT:
		if o.Rate == 0 {
			bad(tomlcheck.Missing, "rate", "required for trace_format \"sharegpt\": conversations carry no timestamps, so they arrive as a Poisson process at this rate (requests/s)")
		} else if !(o.Rate > 0 && o.Rate <= MaxRate) || math.IsInf(o.Rate, 0) {
			bad(tomlcheck.OutOfRange, "rate", "must be in (0, %g] requests/s, got %v", float64(MaxRate), o.Rate)
		}
		if !(o.CV >= 0 && o.CV < 100) {
			bad(tomlcheck.OutOfRange, "cv", "must be in [0, 100) (0 or 1: Poisson), got %v", o.CV)
		}
	case o.Format != "":
		if o.Rate != 0 {
			bad(tomlcheck.Invalid, "rate", "the trace's timestamps time its requests: scale them with speedup")
		}
		if o.CV != 0 {
			bad(tomlcheck.Invalid, "cv", "the trace's timestamps time its requests; cv is for sharegpt or the gamma process")
		}
	}
	return errs
}

// traceErrors checks the arrival's trace fields: they need process
// "trace", and then TraceImport's rules.
func (a Arrival) traceErrors() []error {
	var errs []error
	bad := func(kind tomlcheck.Kind, field, format string, args ...any) {
		errs = append(errs, fieldError(kind, "arrival."+field, format, args...))
	}
	if a.Process != Trace {
		for _, f := range []struct {
			set  bool
			name string
		}{
			{a.TraceFormat != "", "trace_format"}, {a.Speedup != 0, "speedup"}, {a.StartS != 0, "start_s"},
			{a.DurationS != 0, "duration_s"}, {a.CharsPerToken != 0, "chars_per_token"}, {a.TraceModel != "", "trace_model"},
		} {
			if f.set {
				bad(tomlcheck.Invalid, f.name, "only for process \"trace\", got process %q", a.Process)
			}
		}
		return errs
	}
	for _, e := range a.TraceImport().problems() {
		fe := e.(*FieldError)
		bad(fe.Kind, fe.Field, "%s", fe.Msg)
	}
	return errs
}
