package calibrate

import (
	"math"
	"testing"
)

func TestRepeatability(t *testing.T) {
	cs := []Comparison{
		{Experiment: "a", Model: "m", Metric: "tpot_p50", Measured: 10},
		{Experiment: "a-pass2", Model: "m", Metric: "tpot_p50", Measured: 12},  // 20%
		{Experiment: "a-pass3", Model: "m", Metric: "tpot_p50", Measured: 9},   // 10%
		{Experiment: "b", Model: "m", Metric: "tpot_p50", Measured: 4},         //
		{Experiment: "b-pass2", Model: "m", Metric: "tpot_p50", Measured: 4.2}, // 5%
		{Experiment: "b-pass2", Model: "m", Metric: "e2e_p50", Measured: 1},    // no first pass
		{Experiment: "c-pass2", Model: "m", Metric: "tpot_p50", Measured: 1},   // no first pass
	}
	for _, tc := range []struct {
		prefix string
		want   float64
		n      int
	}{
		{"tpot", 10, 3},
		{"e2e", math.NaN(), 0},
	} {
		got, n := Repeatability(cs, tc.prefix)
		if n != tc.n || !(math.Abs(got-tc.want) < 1e-9 || math.IsNaN(got) && math.IsNaN(tc.want)) {
			t.Errorf("Repeatability(%q) = %v, %d; want %v, %d", tc.prefix, got, n, tc.want, tc.n)
		}
	}
}
