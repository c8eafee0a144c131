// Package sketch is a quantile sketch with bounded relative error
// (DDSketch: Masson, Rim and Lee, VLDB 2019), for latency percentiles over
// millions of requests in constant memory.
//
// Guarantee: every quantile reported is within relative error α of a value
// whose rank is the requested rank. Values are counted in logarithmic
// buckets, bucket i holding (γ^(i-1), γ^i] with γ = (1+α)/(1-α), and a
// bucket reports 2γ^i/(γ+1), which is within α of everything in it. Memory
// is one float64 per bucket between the smallest and largest value seen:
// log(max/min)/log(γ) buckets, about 2,300 for α = 0.005 over 1 µs..100 ks.
// Integer weights are counted exactly, fractional ones summed in float64.
package sketch

import "math"

// MinValue is the smallest positive value tracked in its own bucket; values
// at or below it (and negative ones, which latencies never are) are counted
// as zero.
const MinValue = 1e-12

// Sketch accumulates weighted values. Create one with New.
type Sketch struct {
	alpha, gamma float64
	table        *indexTable // buckets without a logarithm
	offset       int         // bucket index of counts[0]
	counts       []float64   // weight per bucket
	zero         float64     // weight of values <= MinValue
	count, sum   float64
	min, max     float64
}

// New returns an empty sketch with relative accuracy alpha in (0, 0.5).
func New(alpha float64) *Sketch {
	if !(alpha > 0 && alpha < 0.5) {
		panic("sketch: alpha must be in (0, 0.5)")
	}
	g := (1 + alpha) / (1 - alpha)
	return &Sketch{alpha: alpha, gamma: g, table: tableFor(math.Log(g)), min: math.Inf(1), max: math.Inf(-1)}
}

// Alpha is the sketch's relative accuracy.
func (s *Sketch) Alpha() float64 { return s.alpha }

// Add adds one value.
func (s *Sketch) Add(x float64) { s.AddWeighted(x, 1) }

// AddWeighted adds a value with weight w > 0 (ignored otherwise). NaN is
// ignored. It does not allocate once the sketch spans the value's range.
func (s *Sketch) AddWeighted(x, w float64) {
	if !(w > 0) || math.IsNaN(x) {
		return
	}
	s.count += w
	s.sum += x * w
	// The builtins are math.Min and math.Max (signed zeros, infinities;
	// x is not NaN here), inlined: math's are calls on amd64.
	s.min, s.max = min(s.min, x), max(s.max, x)
	if x <= MinValue {
		s.zero += w
		return
	}
	i := s.index(x)
	if k := i - s.offset; uint(k) < uint(len(s.counts)) { // spanned: no call to grow
		s.counts[k] += w
		return
	}
	s.grow(i)
	s.counts[i-s.offset] += w
}

func (s *Sketch) index(x float64) int { return s.table.index(x) }

// grow extends counts to cover bucket i.
func (s *Sketch) grow(i int) {
	switch {
	case len(s.counts) == 0:
		s.offset = i
		s.counts = make([]float64, 1, 64)
	case i < s.offset:
		n := s.offset - i
		c := make([]float64, len(s.counts)+n, cap(s.counts)+n)
		copy(c[n:], s.counts)
		s.counts, s.offset = c, i
	case i >= s.offset+len(s.counts):
		n := i - s.offset + 1
		if n > cap(s.counts) {
			c := make([]float64, len(s.counts), max(n, 2*cap(s.counts)))
			copy(c, s.counts)
			s.counts = c
		}
		s.counts = s.counts[:n]
	}
}

// value is the estimate bucket i reports.
func (s *Sketch) value(i int) float64 { return 2 * math.Pow(s.gamma, float64(i)) / (s.gamma + 1) }

// Quantile returns an estimate of the q-quantile: the value of the lowest
// bucket whose cumulative weight reaches q × Count. q = 0 and q = 1 give the
// exact Min and Max; an empty sketch gives NaN. Estimates are clamped into
// [Min, Max].
func (s *Sketch) Quantile(q float64) float64 {
	if s.count == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	if q <= 0 {
		return s.min
	}
	if q >= 1 {
		return s.max
	}
	rank := q * s.count
	cum := s.zero
	if cum >= rank {
		return math.Max(s.min, math.Min(0, s.max))
	}
	for k, c := range s.counts {
		cum += c
		if cum >= rank {
			return math.Max(s.min, math.Min(s.max, s.value(k+s.offset)))
		}
	}
	return s.max
}

// CountAbove is the weight of the buckets whose every value is above x: a
// lower bound on the weight added above x, and exact but for the values
// that share x's bucket. Whenever Count − CountAbove(x) is below q × Count,
// Quantile(q) is above x.
func (s *Sketch) CountAbove(x float64) float64 {
	if s.count == 0 {
		return 0
	}
	if x <= MinValue {
		return s.count - s.zero
	}
	var w float64
	for k := max(s.index(x)-s.offset+1, 0); k < len(s.counts); k++ {
		w += s.counts[k]
	}
	return w
}

// Count is the total weight added.
func (s *Sketch) Count() float64 { return s.count }

// Sum is the weighted sum of the values.
func (s *Sketch) Sum() float64 { return s.sum }

// Mean is Sum / Count, NaN when empty.
func (s *Sketch) Mean() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	return s.sum / s.count
}

// Min is the smallest value added, NaN when empty.
func (s *Sketch) Min() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	return s.min
}

// Max is the largest value added, NaN when empty.
func (s *Sketch) Max() float64 {
	if s.count == 0 {
		return math.NaN()
	}
	return s.max
}

// Reset empties the sketch, keeping its buckets' memory.
func (s *Sketch) Reset() {
	clear(s.counts)
	s.counts = s.counts[:0]
	s.zero, s.count, s.sum = 0, 0, 0
	s.min, s.max = math.Inf(1), math.Inf(-1)
}
