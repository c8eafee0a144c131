package engine

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDistMoments checks the sample mean and variance of each sampler
// against the exact values. The tolerance is 5 standard errors, derived
// from the distribution's own variance and fourth central moment
// (Var(s²) ≈ (μ₄ - σ⁴)/n), so the check is as tight as the sample size
// allows yet does not fail by chance; the seed is fixed regardless.
func TestDistMoments(t *testing.T) {
	const n = 400000
	lnMu, lnSigma := LogNormalParams(2.0, 1.0)
	tests := []struct {
		name     string
		draw     func(r *rand.Rand) float64
		mean     float64
		variance float64
		kurtosis float64 // μ₄/σ⁴
		min      float64 // lower bound of the support
	}{
		{"Exponential(mean 2.5)", func(r *rand.Rand) float64 { return Exponential(r, 2.5) }, 2.5, 6.25, 9, 0},
		{"Gamma(0.3, 2)", func(r *rand.Rand) float64 { return Gamma(r, 0.3, 2) }, 0.6, 1.2, 3 + 6/0.3, 0},
		{"Gamma(1, 1)", func(r *rand.Rand) float64 { return Gamma(r, 1, 1) }, 1, 1, 9, 0},
		{"Gamma(2.5, 0.5)", func(r *rand.Rand) float64 { return Gamma(r, 2.5, 0.5) }, 1.25, 0.625, 3 + 6/2.5, 0},
		{"Gamma(40, 0.1)", func(r *rand.Rand) float64 { return Gamma(r, 40, 0.1) }, 4, 0.4, 3 + 6/40.0, 0},
		{"LogNormal(0, 0.5)", func(r *rand.Rand) float64 { return LogNormal(r, 0, 0.5) },
			math.Exp(0.125), (math.Exp(0.25) - 1) * math.Exp(0.25), lnKurtosis(0.5), 0},
		{"LogNormal(mean 2, sd 1)", func(r *rand.Rand) float64 { return LogNormal(r, lnMu, lnSigma) },
			2, 1, lnKurtosis(lnSigma), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewStreams(1).Stream(tt.name)
			var sum, sumSq float64
			lo := math.Inf(1)
			for range n {
				x := tt.draw(r)
				sum += x
				sumSq += x * x
				lo = min(lo, x)
			}
			mean := sum / n
			variance := (sumSq - n*mean*mean) / (n - 1)

			seMean := math.Sqrt(tt.variance / n)
			if d := math.Abs(mean - tt.mean); d > 5*seMean {
				t.Errorf("mean = %.5g, want %.5g ± %.2g (5 SE)", mean, tt.mean, 5*seMean)
			}
			seVar := tt.variance * math.Sqrt((tt.kurtosis-1)/n)
			if d := math.Abs(variance - tt.variance); d > 5*seVar {
				t.Errorf("variance = %.5g, want %.5g ± %.2g (5 SE)", variance, tt.variance, 5*seVar)
			}
			if lo < tt.min {
				t.Errorf("min draw = %g, below the support's lower bound %g", lo, tt.min)
			}
		})
	}
}

// lnKurtosis is μ₄/σ⁴ of a lognormal with log-scale sigma.
func lnKurtosis(sigma float64) float64 {
	s2 := sigma * sigma
	return math.Exp(4*s2) + 2*math.Exp(3*s2) + 3*math.Exp(2*s2) - 3
}

func TestLogNormalParams(t *testing.T) {
	tests := []struct {
		mean, sd, wantMu, wantSigma float64
	}{
		{1, 0, 0, 0},
		{math.E, 0, 1, 0},
		// sd/mean = sqrt(e-1) gives sigma² = 1.
		{1, math.Sqrt(math.E - 1), -0.5, 1},
	}
	for _, tt := range tests {
		mu, sigma := LogNormalParams(tt.mean, tt.sd)
		if math.Abs(mu-tt.wantMu) > 1e-12 || math.Abs(sigma-tt.wantSigma) > 1e-12 {
			t.Errorf("LogNormalParams(%g, %g) = (%g, %g), want (%g, %g)", tt.mean, tt.sd, mu, sigma, tt.wantMu, tt.wantSigma)
		}
	}
}

func TestGammaPanics(t *testing.T) {
	for _, p := range [][2]float64{{0, 1}, {-1, 1}, {1, 0}, {math.NaN(), 1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Gamma(shape %g, scale %g) did not panic", p[0], p[1])
				}
			}()
			Gamma(rand.New(rand.NewPCG(1, 1)), p[0], p[1])
		}()
	}
}
