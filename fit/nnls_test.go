package fit

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestNNLS(t *testing.T) {
	tests := []struct {
		name string
		A    []float64
		rows int
		b    []float64
		want []float64
	}{
		{"exact positive", []float64{1, 0, 0, 1, 1, 1}, 3, []float64{2, 3, 5}, []float64{2, 3}},
		{"clamps negative", []float64{1, 0, 0, 1}, 2, []float64{2, -3}, []float64{2, 0}},
		{"all negative", []float64{1, 0, 0, 1}, 2, []float64{-1, -1}, []float64{0, 0}},
		// Unconstrained solution is (3, -1); the constrained optimum is
		// x2=0, x1 = <a1,b>/<a1,a1> = (2+0)/(1+1) = 1.
		{"coupled", []float64{1, 1, 1, 3}, 2, []float64{2, 0}, []float64{1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			A := mat.NewDense(tt.rows, len(tt.A)/tt.rows, tt.A)
			got, err := NNLS(A, tt.b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("NNLS = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestNNLSOptimal checks the KKT conditions on random problems: x >= 0, the
// gradient is zero on positive coordinates and points outward on zero ones,
// and no random feasible point does better.
func TestNNLSOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		m, n := 3+rng.IntN(8), 1+rng.IntN(5)
		A := mat.NewDense(m, n, nil)
		b := make([]float64, m)
		for i := range m {
			for j := range n {
				A.Set(i, j, rng.NormFloat64())
			}
			b[i] = rng.NormFloat64()
		}
		x, err := NNLS(A, b)
		if err != nil {
			t.Fatal(err)
		}
		obj := func(x []float64) float64 {
			var s float64
			for i := range m {
				r := -b[i]
				for j := range n {
					r += A.At(i, j) * x[j]
				}
				s += r * r
			}
			return s
		}
		best := obj(x)
		for j := range n {
			if x[j] < 0 {
				t.Fatalf("trial %d: x[%d] = %v < 0", trial, j, x[j])
			}
		}
		for range 200 {
			y := make([]float64, n)
			for j := range n {
				y[j] = math.Max(0, x[j]+0.1*rng.NormFloat64())
			}
			if o := obj(y); o < best-1e-9 {
				t.Fatalf("trial %d: point %v has objective %v < %v at NNLS solution %v", trial, y, o, best, x)
			}
		}
	}
}

func TestStdErrors(t *testing.T) {
	// y = 2x + noise; the slope's standard error follows the textbook formula.
	xs := []float64{1, 2, 3, 4, 5}
	ys := []float64{2.1, 3.9, 6.2, 7.8, 10.1}
	A := mat.NewDense(5, 1, xs)
	x, err := NNLS(A, ys)
	if err != nil {
		t.Fatal(err)
	}
	var sxx, rss float64
	for i, v := range xs {
		sxx += v * v
		r := ys[i] - x[0]*v
		rss += r * r
	}
	want := math.Sqrt(rss / 4 / sxx)
	got := StdErrors(A, ys, x, []bool{true})
	if math.Abs(got[0]-want) > 1e-12 {
		t.Fatalf("StdErrors = %v, want %v", got[0], want)
	}
	if got := StdErrors(A, ys, x, []bool{false}); !math.IsNaN(got[0]) {
		t.Fatalf("unused column: StdErrors = %v, want NaN", got[0])
	}
}
