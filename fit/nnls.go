// Package fit holds the small solvers fleettwin fits its models with:
// non-negative least squares (Lawson-Hanson) and the standard errors of a
// fit, and a golden-section search for the few coefficients that are not
// linear. It is pure computation.
package fit

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// NNLS solves min ||A x - b||² subject to x >= 0 with the Lawson-Hanson
// active-set method. Physical coefficients (inverse efficiencies, overheads
// in seconds) are never negative, and a plain least-squares fit on a few
// published rows happily makes them so.
func NNLS(A *mat.Dense, b []float64) ([]float64, error) {
	m, n := A.Dims()
	if len(b) != m {
		return nil, fmt.Errorf("nnls: %d rows but %d targets", m, len(b))
	}
	for _, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("nnls: target is not finite")
		}
	}
	bv := mat.NewVecDense(m, append([]float64(nil), b...))
	x := make([]float64, n)
	passive := make([]bool, n)
	tol := 10 * (math.Nextafter(1, 2) - 1) * mat.Norm(A, 1) * float64(max(m, n))

	w := func() []float64 { // gradient A^T (b - A x)
		r := mat.NewVecDense(m, nil)
		r.MulVec(A, mat.NewVecDense(n, x))
		r.SubVec(bv, r)
		g := mat.NewVecDense(n, nil)
		g.MulVec(A.T(), r)
		return g.RawVector().Data
	}
	for iter := 0; iter < 3*n+10; iter++ {
		g := w()
		j, best := -1, tol
		for i := range n {
			if !passive[i] && g[i] > best {
				j, best = i, g[i]
			}
		}
		if j < 0 {
			return x, nil
		}
		passive[j] = true
		for inner := 0; inner < 3*n+10; inner++ {
			z, err := lsq(A, bv, passive)
			if err != nil {
				return nil, err
			}
			if allPositive(z, passive) {
				copy(x, z)
				break
			}
			alpha := math.Inf(1)
			for i := range n {
				if passive[i] && z[i] <= 0 {
					alpha = math.Min(alpha, x[i]/(x[i]-z[i]))
				}
			}
			for i := range n {
				if passive[i] {
					x[i] += alpha * (z[i] - x[i])
					if x[i] <= tol {
						x[i], passive[i] = 0, false
					}
				}
			}
		}
	}
	return x, nil
}

func allPositive(z []float64, passive []bool) bool {
	for i, p := range passive {
		if p && z[i] <= 0 {
			return false
		}
	}
	return true
}

// lsq solves the unconstrained problem on the passive columns; the others
// are zero in the result.
func lsq(A *mat.Dense, b *mat.VecDense, passive []bool) ([]float64, error) {
	m, _ := A.Dims()
	var cols []int
	for i, p := range passive {
		if p {
			cols = append(cols, i)
		}
	}
	sub := mat.NewDense(m, len(cols), nil)
	for k, c := range cols {
		for r := range m {
			sub.Set(r, k, A.At(r, c))
		}
	}
	var z mat.VecDense
	if err := z.SolveVec(sub, b); err != nil {
		return nil, fmt.Errorf("nnls: %w", err)
	}
	out := make([]float64, len(passive))
	for k, c := range cols {
		out[c] = z.AtVec(k)
	}
	return out, nil
}

// StdErrors returns one standard error per column of A for a least-squares
// solution x: sqrt(diag(s² (AᵀA)⁻¹)) over the columns in use, with
// s² = RSS / (rows - columns in use). Columns not in use, or a fit with no
// degrees of freedom left, get NaN: there is no honest error to give.
func StdErrors(A *mat.Dense, b, x []float64, use []bool) []float64 {
	m, n := A.Dims()
	out := make([]float64, n)
	var cols []int
	for i := range n {
		out[i] = math.NaN()
		if use[i] {
			cols = append(cols, i)
		}
	}
	dof := m - len(cols)
	if len(cols) == 0 || dof <= 0 {
		return out
	}
	var rss float64
	for r := range m {
		var p float64
		for c := range n {
			p += A.At(r, c) * x[c]
		}
		rss += (p - b[r]) * (p - b[r])
	}
	s2 := rss / float64(dof)
	sub := mat.NewDense(m, len(cols), nil)
	for k, c := range cols {
		for r := range m {
			sub.Set(r, k, A.At(r, c))
		}
	}
	var ata, inv mat.Dense
	ata.Mul(sub.T(), sub)
	if err := inv.Inverse(&ata); err != nil {
		return out
	}
	for k, c := range cols {
		out[c] = math.Sqrt(math.Max(0, s2*inv.At(k, k)))
	}
	return out
}
