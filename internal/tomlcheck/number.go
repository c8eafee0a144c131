package tomlcheck

import (
	"math"
	"strconv"
)

// Number checks a decoded float: it returns "" when v is finite and within
// [lo, hi], else a message for a FieldError that says what is allowed and
// what was given. TOML accepts nan and inf as floats, and 1e300 is a valid
// float too; either would otherwise reach arithmetic that overflows a
// duration, a slice length or a loop count.
func Number(v, lo, hi float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "must be a finite number between " + Format(lo) + " and " + Format(hi) + ", not " + Format(v)
	}
	if v < lo || v > hi {
		return "must be between " + Format(lo) + " and " + Format(hi) + ", not " + Format(v)
	}
	return ""
}

// Int checks a decoded integer against [lo, hi].
func Int(v, lo, hi int) string {
	if v < lo || v > hi {
		return "must be between " + strconv.Itoa(lo) + " and " + strconv.Itoa(hi) + ", not " + strconv.Itoa(v)
	}
	return ""
}

// Format writes a bound the way people write it: 0.5, 4096, 1e+06, NaN.
func Format(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
