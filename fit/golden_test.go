package fit

import (
	"math"
	"testing"
)

func TestGoldenSection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		f      func(float64) float64
		lo, hi float64
		want   float64
	}{
		{"parabola", func(x float64) float64 { return (x - 0.3) * (x - 0.3) }, 0, 1, 0.3},
		{"at the low edge", func(x float64) float64 { return x }, 0, 1, 0},
		{"at the high edge", func(x float64) float64 { return -x }, 0, 1, 1},
		{"log-space", func(x float64) float64 { return math.Abs(math.Exp(x) - 2) }, -3, 3, math.Log(2)},
	} {
		evals := 0
		f := func(x float64) float64 { evals++; return tc.f(x) }
		b := GoldenSection(f, tc.lo, tc.hi, 40)
		if math.Abs(b.Mid()-tc.want) > 1e-6 || math.Abs(b.Best()-tc.want) > 1e-6 {
			t.Errorf("%s: Mid %v, Best %v, want %v", tc.name, b.Mid(), b.Best(), tc.want)
		}
		if evals != 42 {
			t.Errorf("%s: %d evaluations, want 42", tc.name, evals)
		}
		if !(b.Lo <= b.C && b.C <= b.D && b.D <= b.Hi) {
			t.Errorf("%s: bracket out of order: %+v", tc.name, b)
		}
	}
}
