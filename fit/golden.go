package fit

import "math"

// Bracket is what a golden-section search leaves: the interval [Lo, Hi]
// that holds the minimum and its two inner points with their values.
type Bracket struct {
	Lo, Hi float64
	C, FC  float64 // the inner point nearer Lo, and f there
	D, FD  float64 // the inner point nearer Hi
}

// Mid is the bracket's midpoint.
func (b Bracket) Mid() float64 { return (b.Lo + b.Hi) / 2 }

// Best is the inner point with the lower value: a point f was evaluated at.
func (b Bracket) Best() float64 {
	if b.FC < b.FD {
		return b.C
	}
	return b.D
}

// GoldenSection narrows [lo, hi] around a minimum of f with n evaluations
// after the first two (f unimodal enough there), for the coefficients a
// linear least-squares fit cannot set: shapes and factors inside the step
// model, or terms whose effect needs the simulator in the loop.
func GoldenSection(f func(float64) float64, lo, hi float64, n int) Bracket {
	g := (math.Sqrt(5) - 1) / 2
	a, b := lo, hi
	c, d := b-g*(b-a), a+g*(b-a)
	fc, fd := f(c), f(d)
	for range n {
		if fc < fd {
			b, d, fd = d, c, fc
			c = b - g*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + g*(b-a)
			fd = f(d)
		}
	}
	return Bracket{Lo: a, Hi: b, C: c, FC: fc, D: d, FD: fd}
}
