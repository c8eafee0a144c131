package engine

import (
	"math"
	"time"
)

// Time is a simulated instant, or a span between instants, in integer
// nanoseconds since the start of the simulation. It has the same unit as
// time.Duration, so Time(d) and time.Duration(t) convert exactly.
type Time int64

// Common spans, for writing delays such as 250*engine.Millisecond.
const (
	Nanosecond  Time = 1
	Microsecond      = 1000 * Nanosecond
	Millisecond      = 1000 * Microsecond
	Second           = 1000 * Millisecond
	Minute           = 60 * Second
	Hour             = 60 * Minute
)

// Never is the largest Time. It is used as "no deadline": RunUntil(Never)
// runs until the queue is empty, and After saturates to Never instead of
// overflowing.
const Never Time = math.MaxInt64

// FromSeconds converts seconds, as produced by a float-valued model or a
// random draw, to the nearest nanosecond. Values beyond the range of Time
// saturate to Never or -Never rather than wrapping, because Go leaves
// out-of-range float-to-int conversions implementation-defined. It panics on
// NaN, which always indicates a bug in the caller's model.
func FromSeconds(s float64) Time {
	ns := math.Round(s * 1e9)
	switch {
	case ns != ns:
		panic("engine: FromSeconds(NaN)")
	case ns >= 1<<63:
		return Never
	case ns <= -(1 << 63):
		return -Never
	}
	return Time(ns)
}

// Seconds returns t in seconds, for reporting and for float-valued models.
func (t Time) Seconds() float64 {
	if -1<<53 <= t && t <= 1<<53 {
		// t is exact as a float64 (every scenario's times are: a month
		// is 2.6e15 ns), so one division gives the double nearest t/1e9,
		// in a few cycles: the simulator converts a time at every event.
		return float64(t) / 1e9
	}
	// Split to keep full precision for large t, as time.Duration does.
	sec := t / Second
	nsec := t % Second
	return float64(sec) + float64(nsec)/1e9
}

// String formats t like time.Duration ("1.5s", "250ms"), or "never" for Never.
func (t Time) String() string {
	if t == Never {
		return "never"
	}
	return time.Duration(t).String()
}
