package engine

import (
	"math"
	"testing"
)

func TestFromSeconds(t *testing.T) {
	tests := []struct {
		in   float64
		want Time
	}{
		{0, 0},
		{1, Second},
		{1.5, 1500 * Millisecond},
		{-2, -2 * Second},
		{1e-9, Nanosecond},
		{0.4e-9, 0},            // rounds to nearest
		{0.6e-9, Nanosecond},   // rounds to nearest
		{3600, Hour},           // exact for whole seconds
		{1e300, Never},         // saturates
		{math.Inf(1), Never},   // saturates
		{math.Inf(-1), -Never}, // saturates
	}
	for _, tt := range tests {
		if got := FromSeconds(tt.in); got != tt.want {
			t.Errorf("FromSeconds(%g) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestFromSecondsNaN(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("FromSeconds(NaN) did not panic")
		}
	}()
	FromSeconds(math.NaN())
}

func TestTimeSeconds(t *testing.T) {
	tests := []struct {
		in   Time
		want float64
	}{
		{0, 0},
		{Second, 1},
		{1500 * Millisecond, 1.5},
		{-250 * Millisecond, -0.25},
		{Nanosecond, 1e-9},
		{Never, 9223372036.854775807},
	}
	for _, tt := range tests {
		if got := tt.in.Seconds(); got != tt.want {
			t.Errorf("Time(%d).Seconds() = %v, want %v", int64(tt.in), got, tt.want)
		}
	}
}

func TestTimeString(t *testing.T) {
	tests := []struct {
		in   Time
		want string
	}{
		{0, "0s"},
		{1500 * Millisecond, "1.5s"},
		{250 * Microsecond, "250µs"},
		{90 * Minute, "1h30m0s"},
		{-3 * Nanosecond, "-3ns"},
		{Never, "never"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Time(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
	}
}
