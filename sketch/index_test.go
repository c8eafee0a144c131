package sketch

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTableIndexMatchesLog: the table gives logIndex's bucket, bit for
// bit, for every value it is asked about: each float64 within a few
// hundred ulps of every bucket boundary (where a rounding could differ),
// the first values of every slice and their predecessors, random values
// over the whole positive range, and the extremes. Before the table,
// index was logIndex.
func TestTableIndexMatchesLog(t *testing.T) {
	for _, tc := range []struct {
		alpha float64
		ulps  int // checked each side of every boundary
	}{
		{0.005, 400}, // the simulator's sim.SketchAlpha
		{0.01, 400},
		{0.001, 40},
		{0.1, 400},
		{0.49, 400},
		{0.0001, 0}, // too fine for a table: the logarithm itself
	} {
		s := New(tc.alpha)
		tb := s.table
		lg := tb.logGamma
		bad := 0
		check := func(x float64) {
			if got, want := s.index(x), logIndex(x, lg); got != want && bad < 10 {
				bad++
				t.Errorf("alpha %v: index(%v = %#x) = %d, logIndex %d", tc.alpha, x, math.Float64bits(x), got, want)
			}
		}
		if tc.alpha == 0.0001 && len(tb.first) != 0 {
			t.Errorf("alpha %v: a table of %d buckets, want none", tc.alpha, len(tb.lowest))
		}
		if tc.alpha != 0.0001 && len(tb.first) == 0 {
			t.Fatalf("alpha %v: no table", tc.alpha)
		}
		for _, b := range tb.lowest {
			for d := -tc.ulps; d <= tc.ulps; d++ {
				check(math.Float64frombits(uint64(int64(math.Float64bits(b)) + int64(d))))
			}
		}
		for k := keyLo; k <= keyHi; k++ {
			x := math.Float64frombits(uint64(k) << (52 - sliceBits))
			check(x)
			check(math.Nextafter(x, 0))
			check(math.Nextafter(x, math.Inf(1)))
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for range 200_000 {
			check(math.Exp(math.Log(MinValue) + rng.Float64()*(40*math.Ln2-math.Log(MinValue)))) // in the table
			if x := math.Float64frombits(rng.Uint64() >> 1); x > MinValue && !math.IsNaN(x) {
				check(x) // anywhere
			}
		}
		for _, x := range []float64{math.Nextafter(MinValue, 1), 1e-9, 1e-6, 1e-3, 0.5, 1, 2, 3600, 86400, 1e12, 1e15, 1e300, math.MaxFloat64, math.Inf(1)} {
			check(x)
		}
	}
}

// TestTableShared: sketches of one α share one table, built once.
func TestTableShared(t *testing.T) {
	if a, b := New(0.005), New(0.005); a.table != b.table {
		t.Error("two sketches of α 0.005 built two tables")
	}
	if a, b := New(0.005), New(0.01); a.table == b.table {
		t.Error("α 0.005 and 0.01 share a table")
	}
}

// TestSpecialValues: zero, negative and subnormal values count as zero,
// NaN is ignored, as before the table; min and max keep math.Min's and
// math.Max's signed zeros.
func TestSpecialValues(t *testing.T) {
	s := New(0.005)
	for _, x := range []float64{0, math.Copysign(0, -1), -3, 5e-324, MinValue, math.NaN(), 2} {
		s.Add(x)
	}
	if s.Count() != 6 || s.zero != 5 {
		t.Errorf("count %v, zero bucket %v; want 6 and 5", s.Count(), s.zero)
	}
	z := New(0.005)
	z.Add(0)
	z.Add(math.Copysign(0, -1))
	if !math.Signbit(z.Min()) || math.Signbit(z.Max()) {
		t.Errorf("min %v max %v: want -0 and +0", z.Min(), z.Max())
	}
	z = New(0.005)
	z.Add(math.Copysign(0, -1))
	z.Add(0)
	if !math.Signbit(z.Min()) || math.Signbit(z.Max()) {
		t.Errorf("min %v max %v: want -0 and +0", z.Min(), z.Max())
	}
}

// TestBuiltinMinMax: the builtin min and max that AddWeighted uses are
// math.Min and math.Max on every pair of values a sketch can hold, signed
// zeros and infinities included.
func TestBuiltinMinMax(t *testing.T) {
	negZero := math.Copysign(0, -1)
	vals := []float64{math.Inf(-1), -1, negZero, 0, 5e-324, 1, math.Inf(1)} // never NaN: with NaN they differ
	for _, m := range vals {
		for _, x := range vals {
			if got, want := min(m, x), math.Min(m, x); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("min(%v, %v) = %v, math.Min %v", m, x, got, want)
			}
			if got, want := max(m, x), math.Max(m, x); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("max(%v, %v) = %v, math.Max %v", m, x, got, want)
			}
		}
	}
}
