package engine

import (
	"math"
	"math/rand/v2"
)

// Sampling helpers for common service-time and inter-arrival distributions.
// They take the stream explicitly so that each model component draws from
// its own Streams.Stream and stays reproducible. Convert a draw in seconds
// to Time with FromSeconds.

// Exponential returns a draw with the given mean (that is, rate 1/mean), as
// used for Poisson inter-arrival times.
func Exponential(r *rand.Rand, mean float64) float64 {
	return r.ExpFloat64() * mean
}

// LogNormal returns exp(N), where N is normal with mean mu and standard
// deviation sigma. Use LogNormalParams to specify the draw's own mean and
// standard deviation instead.
func LogNormal(r *rand.Rand, mu, sigma float64) float64 {
	return math.Exp(mu + sigma*r.NormFloat64())
}

// LogNormalParams returns the (mu, sigma) for LogNormal whose draws have the
// given mean and standard deviation. Measured data is usually summarised
// that way, while LogNormal is parameterised by the underlying normal.
func LogNormalParams(mean, stddev float64) (mu, sigma float64) {
	s2 := math.Log1p((stddev / mean) * (stddev / mean))
	return math.Log(mean) - s2/2, math.Sqrt(s2)
}

// Gamma returns a gamma draw with the given shape k and scale θ (mean kθ,
// variance kθ²), using the Marsaglia–Tsang squeeze method, which needs about
// one normal and one uniform per draw. Shapes below 1 use the boost
// Gamma(k) = Gamma(k+1)·U^(1/k). It panics unless shape and scale are
// positive, since the method would otherwise loop forever.
func Gamma(r *rand.Rand, shape, scale float64) float64 {
	if !(shape > 0 && scale > 0) {
		panic("engine: Gamma needs positive shape and scale")
	}
	boost := 1.0
	if shape < 1 {
		boost = math.Pow(1-r.Float64(), 1/shape) // 1-U is in (0, 1]
		shape++
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		var x, v float64
		for {
			x = r.NormFloat64()
			v = 1 + c*x
			if v > 0 {
				break
			}
		}
		v = v * v * v
		u := r.Float64()
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v * scale * boost
		}
	}
}
