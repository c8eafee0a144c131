package power

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDecayOver: the series agrees with math.Expm1 to within two ulps
// wherever it is used, and the two meet at seriesMax.
func TestDecayOver(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	check := func(x float64) {
		want := -math.Expm1(-x)
		got := decayOver(x)
		ulp := math.Nextafter(want, math.Inf(1)) - want
		if d := math.Abs(got-want) / ulp; d > worst {
			worst = d
		}
	}
	for range 200000 {
		// Log-uniform over [2⁻⁴⁰, 2⁻⁸): the spans of a run.
		check(math.Ldexp(1+rng.Float64(), -8-rng.IntN(33)))
	}
	for _, x := range []float64{0, math.SmallestNonzeroFloat64, 1e-300, math.Nextafter(seriesMax, 0), seriesMax, 0.5, 3, 800} {
		check(x)
	}
	t.Logf("worst difference %.2f ulp", worst)
	if worst > 2 {
		t.Errorf("decayOver is %.2f ulps from math.Expm1, want at most 2", worst)
	}
	if decayOver(0) != 0 {
		t.Errorf("decayOver(0) = %v, want 0", decayOver(0))
	}
}

func BenchmarkRCAdvance(b *testing.B) {
	rc := RC{ResistanceCPerW: 0.08, CapacityJPerC: 2500, AmbientC: 25}
	temp, sum := 40.0, 0.0
	for i := 0; b.Loop(); i++ {
		var s float64
		temp, s = rc.Advance(temp, 300+float64(i&63), 0.004)
		sum += s
	}
	if math.IsNaN(sum) {
		b.Fatal(sum)
	}
}
