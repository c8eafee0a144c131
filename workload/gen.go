package workload

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fleettwin/fleettwin/engine"
)

// LengthSampler draws token counts from a Lengths distribution.
type LengthSampler struct {
	l         Lengths
	lo, hi    int // clamp bounds; hi 0 means none
	mu, sigma float64
	p         float64   // geometric success probability
	values    []float64 // empirical
	cum       []float64 // cumulative weights, empirical
}

// NewLengthSampler prepares a sampler; empirical is the distribution read
// from l.File (ignored for other dists).
func NewLengthSampler(l Lengths, empirical []WeightedValue) (*LengthSampler, error) {
	if errs := l.validate("lengths"); len(errs) > 0 {
		return nil, errs[0]
	}
	s := &LengthSampler{l: l, lo: max(1, l.Min), hi: l.Max}
	switch l.Dist {
	case Lognormal:
		s.mu, s.sigma = engine.LogNormalParams(l.Mean, l.Stddev)
	case Exponential:
		s.p = 1 / l.Mean
	case Empirical:
		if len(empirical) == 0 {
			return nil, fmt.Errorf("empirical lengths: no values")
		}
		total := 0.0
		for _, v := range empirical {
			total += v.Weight
			s.values = append(s.values, v.Value)
			s.cum = append(s.cum, total)
		}
	}
	return s, nil
}

// Sample draws one length.
func (s *LengthSampler) Sample(r *rand.Rand) int {
	var x float64
	switch s.l.Dist {
	case Fixed:
		x = float64(s.l.Value)
	case Uniform:
		return s.lo + r.IntN(s.hi-s.lo+1)
	case Lognormal:
		x = engine.LogNormal(r, s.mu, s.sigma)
	case Exponential:
		// Geometric on {1, 2, ...} with mean 1/p: the discrete exponential,
		// exact mean, memoryless like the continuous one.
		if s.p >= 1 {
			return s.clamp(1)
		}
		u := 1 - r.Float64() // (0, 1]
		x = math.Ceil(math.Log(u) / math.Log1p(-s.p))
	case Empirical:
		i, _ := slices.BinarySearch(s.cum, r.Float64()*s.cum[len(s.cum)-1])
		x = s.values[min(i, len(s.values)-1)]
	}
	return s.clamp(math.Round(x))
}

func (s *LengthSampler) clamp(x float64) int {
	// The builtins are math.Max and math.Min (NaN, signed zeros), inlined:
	// math's are calls on amd64.
	x = max(x, float64(s.lo))
	if s.hi > 0 {
		x = min(x, float64(s.hi))
	}
	if x > math.MaxInt32 {
		x = math.MaxInt32
	}
	return int(x)
}

// ArrivalProcess generates open-loop arrival times.
type ArrivalProcess interface {
	// Next returns the first arrival after now, or false when there are no
	// more.
	Next(r *rand.Rand, now engine.Time) (engine.Time, bool)
}

// NewArrivalProcess builds a poisson or gamma process (closed loops and
// traces are driven by the simulator itself).
func NewArrivalProcess(a Arrival, _ []TraceRecord) (ArrivalProcess, error) {
	if errs := a.validate(); len(errs) > 0 {
		return nil, errs[0]
	}
	switch a.Process {
	case Poisson:
		p := &poisson{rate: a.Rate, diurnal: a.Diurnal}
		for _, m := range a.Diurnal {
			p.peak = math.Max(p.peak, m)
		}
		return p, nil
	case Gamma:
		return &gamma{rate: a.Rate, shape: 1 / (a.CV * a.CV), diurnal: a.Diurnal}, nil
	}
	return nil, fmt.Errorf("arrival process %q is not open-loop", a.Process)
}

// hourly returns the diurnal multiplier at t (1 without a profile).
func hourly(diurnal []float64, t engine.Time) float64 {
	if len(diurnal) == 0 {
		return 1
	}
	return diurnal[int(t/engine.Hour)%24]
}

type poisson struct {
	rate    float64
	diurnal []float64
	peak    float64
}

// Next draws exponential gaps; with a diurnal profile it thins a process
// at the peak rate (Lewis and Shedler), which follows the profile exactly.
func (p *poisson) Next(r *rand.Rand, now engine.Time) (engine.Time, bool) {
	if len(p.diurnal) == 0 {
		return now + engine.FromSeconds(engine.Exponential(r, 1/p.rate)), true
	}
	t := now
	for {
		t += engine.FromSeconds(engine.Exponential(r, 1/(p.rate*p.peak)))
		if r.Float64()*p.peak < hourly(p.diurnal, t) {
			return t, true
		}
	}
}

type gamma struct {
	rate, shape float64
	diurnal     []float64
}

// Next draws a gamma gap with mean 1/(rate × the current hour's multiplier).
func (g *gamma) Next(r *rand.Rand, now engine.Time) (engine.Time, bool) {
	m := hourly(g.diurnal, now)
	for m == 0 { // skip silent hours
		now = (now/engine.Hour + 1) * engine.Hour
		m = hourly(g.diurnal, now)
	}
	mean := 1 / (g.rate * m)
	return now + engine.FromSeconds(engine.Gamma(r, g.shape, mean/g.shape)), true
}

// ClassPicker assigns requests to priority classes by share.
type ClassPicker struct {
	cum []float64
}

// NewClassPicker prepares a picker over Normalize(classes).
func NewClassPicker(classes []Class) (*ClassPicker, error) {
	cs := Normalize(classes)
	p := &ClassPicker{}
	total := 0.0
	for _, c := range cs {
		if !(c.Share > 0) {
			return nil, fmt.Errorf("class %q: share must be positive, got %v", c.Name, c.Share)
		}
		total += c.Share
		p.cum = append(p.cum, total)
	}
	if math.Abs(total-1) > 1e-9 {
		return nil, fmt.Errorf("class shares sum to %v, want 1", total)
	}
	return p, nil
}

// Pick returns a class index. With one class it draws nothing, so adding
// classes to one model never shifts another stream.
func (p *ClassPicker) Pick(r *rand.Rand) int {
	if len(p.cum) == 1 {
		return 0
	}
	i, _ := slices.BinarySearch(p.cum, r.Float64()*p.cum[len(p.cum)-1])
	return min(i, len(p.cum)-1)
}
