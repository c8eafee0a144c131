package sketch

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactQuantile uses the sketch's rank definition: the smallest value whose
// cumulative count reaches q × n.
func exactQuantile(sorted []float64, q float64) float64 {
	rank := q * float64(len(sorted))
	i := int(math.Ceil(rank)) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

func TestRelativeError(t *testing.T) {
	const alpha = 0.005
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() float64{
		"uniform":     func() float64 { return rng.Float64() * 10 },
		"exponential": func() float64 { return rng.ExpFloat64() },
		"lognormal":   func() float64 { return math.Exp(2 * rng.NormFloat64()) },
		"point":       func() float64 { return 0.25 },
		"wide":        func() float64 { return math.Pow(10, -6+11*rng.Float64()) },
	}
	for name, draw := range dists {
		s := New(alpha)
		xs := make([]float64, 100_000)
		for i := range xs {
			xs[i] = draw()
			s.Add(xs[i])
		}
		slices.Sort(xs)
		for _, q := range []float64{0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999} {
			got, want := s.Quantile(q), exactQuantile(xs, q)
			if math.Abs(got-want) > alpha*want*(1+1e-12) {
				t.Errorf("%s q=%v: sketch %v, exact %v: relative error %.4g > %v", name, q, got, want, math.Abs(got-want)/want, alpha)
			}
		}
		if s.Quantile(0) != xs[0] || s.Quantile(1) != xs[len(xs)-1] {
			t.Errorf("%s: extremes %v %v, want %v %v", name, s.Quantile(0), s.Quantile(1), xs[0], xs[len(xs)-1])
		}
	}
}

func TestWeightsAndStats(t *testing.T) {
	w, u := New(0.01), New(0.01)
	for i, x := range []float64{1, 2, 3, 50} {
		w.AddWeighted(x, float64(i+1))
		for range i + 1 {
			u.Add(x)
		}
	}
	for _, q := range []float64{0.1, 0.3, 0.5, 0.8, 0.95} {
		if w.Quantile(q) != u.Quantile(q) {
			t.Errorf("q=%v: weighted %v, repeated %v", q, w.Quantile(q), u.Quantile(q))
		}
	}
	if w.Count() != 10 || w.Sum() != 1+4+9+200 || w.Min() != 1 || w.Max() != 50 || w.Mean() != 21.4 {
		t.Errorf("count %v sum %v min %v max %v mean %v", w.Count(), w.Sum(), w.Min(), w.Max(), w.Mean())
	}
	e := New(0.01)
	if !math.IsNaN(e.Quantile(0.5)) || !math.IsNaN(e.Mean()) || !math.IsNaN(e.Min()) {
		t.Error("an empty sketch must report NaN")
	}
	e.Add(0)
	e.Add(-3)
	e.Add(2)
	if e.Quantile(0.5) != 0 || e.Quantile(0.9) < 1.98 {
		t.Errorf("zeros: median %v, p90 %v", e.Quantile(0.5), e.Quantile(0.9))
	}
	w.Reset()
	if w.Count() != 0 || !math.IsNaN(w.Quantile(0.5)) {
		t.Error("Reset did not empty the sketch")
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	s := New(0.005)
	s.Add(1e-3)
	s.Add(1e3)
	x := 0.5
	if n := testing.AllocsPerRun(1000, func() { s.Add(x); x *= 1.001 }); n != 0 {
		t.Fatalf("Add allocates %v times", n)
	}
}

func FuzzSketch(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(0.01)
		for len(data) >= 8 {
			bits := uint64(0)
			for _, b := range data[:8] {
				bits = bits<<8 | uint64(b)
			}
			data = data[8:]
			x := math.Float64frombits(bits)
			if math.IsInf(x, 0) || math.Abs(x) > 1e300 {
				continue
			}
			s.Add(x)
		}
		if s.Count() == 0 {
			return
		}
		prev := math.Inf(-1)
		for q := 0.0; q <= 1; q += 0.05 {
			v := s.Quantile(q)
			if v < prev || v < s.Min() || v > s.Max() {
				t.Fatalf("q=%v: %v (previous %v, range [%v, %v])", q, v, prev, s.Min(), s.Max())
			}
			prev = v
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	s := New(0.005)
	x := 1e-3
	for b.Loop() {
		s.Add(x)
		x *= 1.0001
		if x > 1e3 {
			x = 1e-3
		}
	}
}

func BenchmarkQuantile(b *testing.B) {
	s := New(0.005)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 100_000 {
		s.Add(math.Exp(2 * rng.NormFloat64()))
	}
	for b.Loop() {
		s.Quantile(0.99)
	}
}

// TestCountAbove: CountAbove(x) counts only values above x, and misses
// only those sharing x's bucket (within relative error α of x).
func TestCountAbove(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const alpha = 0.01
	for trial := range 200 {
		s := New(alpha)
		var vals []float64
		for range 1 + rng.IntN(300) {
			v := math.Exp(3 * rng.NormFloat64())
			if trial%5 == 0 && rng.IntN(10) == 0 {
				v = 0
			}
			vals = append(vals, v)
			s.Add(v)
		}
		x := math.Exp(3 * rng.NormFloat64())
		var above, near float64
		for _, v := range vals {
			if v > x {
				above++
				if v <= x*(1+2*alpha)/(1-alpha) {
					near++
				}
			}
		}
		got := s.CountAbove(x)
		if got > above || got < above-near {
			t.Fatalf("trial %d: CountAbove(%g) = %g; %g values are above, %g of them within x's bucket", trial, x, got, above, near)
		}
	}
	if got := New(alpha).CountAbove(1); got != 0 {
		t.Fatalf("empty sketch: CountAbove = %g", got)
	}
}
