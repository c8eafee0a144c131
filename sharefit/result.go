package sharefit

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/scenario"
)

// Result is a fitted case: the load and servers the dedicated figures
// fix, the sharing coefficients the ratios fix, and the ratios the twin
// predicts with them.
type Result struct {
	Case Case
	Load Load
	// Servers is how the case's servers differ from the profile (fitted on
	// the dedicated figures, with the load).
	Servers Servers
	// DedicatedLoss is the squared log error of the dedicated figures, and
	// Dedicated the twin's figures, at Load and Servers.
	DedicatedLoss float64
	Dedicated     Figures
	// Memory and Compute are the fitted MPS contentions (κ, κ_c) and
	// MemoryStdErr, ComputeStdErr their Gauss-Newton standard errors
	// (+Inf where the ratios do not depend on one: it is not identified).
	Memory, Compute             float64
	MemoryStdErr, ComputeStdErr float64
	Predicted                   map[measure.Metric]float64
	RatioLoss                   float64
}

// APE is the absolute percentage error of the predicted ratio of metric m.
func (r Result) APE(m measure.Metric) float64 {
	return 100 * math.Abs(r.Predicted[m]-r.Case.Ratios[m]) / r.Case.Ratios[m]
}

// The contention searches: each of the two from 0 to 1, in quarters for
// every dedicated candidate, then in tenths for the best.
var (
	coarseKappa = []float64{0, 0.25, 0.5, 0.75, 1}
	gridKappa   = []float64{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1}
)

// candidates is how many dedicated points the ratios choose among.
const candidates = 8

// Fit fits the case on all its published figures at once: its load and
// servers (FitDedicated's candidates) and the sharing mode's coefficients,
// minimising the dedicated figures' and the ratios' squared log errors
// together. Only MPS has coefficients to fit (the memory and compute
// contentions of perf.Sharing); other modes are an error.
func Fit(ctx context.Context, env Env, c Case) (Result, error) {
	if c.Sharing != scenario.MPS {
		return Result{}, fmt.Errorf("case %s: sharing %q has no coefficient to fit (only mps)", c.ID, c.Sharing)
	}
	cands, err := FitDedicated(ctx, env, c, candidates)
	if err != nil {
		return Result{}, err
	}
	best, bestLoss := Result{}, math.Inf(1)
	search := func(cd candidate, grid []float64) error {
		var pts []point
		for _, km := range grid {
			for _, kc := range grid {
				p := cd.pt
				p.shared, p.kappa = true, [2]float64{km, kc}
				pts = append(pts, p)
			}
		}
		figs, err := env.simulateAll(ctx, c, pts)
		if err != nil {
			return err
		}
		for i, f := range figs {
			pred := ratios(f, cd.fig)
			if l := cd.loss + ratioLoss(c, pred); l < bestLoss {
				bestLoss = l
				best = Result{Case: c, Load: cd.pt.load, Servers: cd.pt.servers, DedicatedLoss: cd.loss, Dedicated: cd.fig,
					Memory: pts[i].kappa[0], Compute: pts[i].kappa[1], Predicted: pred, RatioLoss: l - cd.loss}
			}
		}
		return nil
	}
	for _, cd := range cands {
		if err := search(cd, coarseKappa); err != nil {
			return Result{}, err
		}
	}
	if math.IsInf(bestLoss, 1) || math.IsNaN(bestLoss) {
		return Result{}, fmt.Errorf("case %s: no candidate gave a finite error (the twin's figures are zero or not numbers)", c.ID)
	}
	winner := slices.IndexFunc(cands, func(cd candidate) bool { return cd.pt.load == best.Load && cd.pt.servers == best.Servers })
	if err := search(cands[winner], gridKappa); err != nil {
		return Result{}, err
	}
	at := func(km, kc float64) point {
		p := cands[winner].pt
		p.shared, p.kappa = true, [2]float64{km, kc}
		return p
	}
	best.MemoryStdErr, best.ComputeStdErr, err = env.stdErrs(ctx, c, best, at)
	return best, err
}

// stdErrs are the Gauss-Newton standard errors of the two contentions:
// the covariance σ² (JᵀJ)⁻¹ of the log-ratio residuals' Jacobian J (one-
// sided differences of 0.1, inward at a bound), σ² = RSS / (n − 2) with n
// the ratios fitted (at least one degree of freedom).
func (env Env) stdErrs(ctx context.Context, c Case, r Result, at func(km, kc float64) point) (float64, float64, error) {
	const h = 0.1
	step := func(x float64) float64 {
		if x+h > 1 {
			return -h
		}
		return h
	}
	hm, hc := step(r.Memory), step(r.Compute)
	figs, err := env.simulateAll(ctx, c, []point{at(r.Memory+hm, r.Compute), at(r.Memory, r.Compute+hc)})
	if err != nil {
		return 0, 0, err
	}
	var jtj [2][2]float64
	n := 0
	for _, m := range ratioMetrics {
		v, ok := c.Ratios[m]
		if !ok {
			continue
		}
		n++
		r0 := math.Log(r.Predicted[m] / v)
		dm := (math.Log(ratios(figs[0], r.Dedicated)[m]/v) - r0) / hm
		dc := (math.Log(ratios(figs[1], r.Dedicated)[m]/v) - r0) / hc
		jtj[0][0] += dm * dm
		jtj[0][1] += dm * dc
		jtj[1][1] += dc * dc
	}
	jtj[1][0] = jtj[0][1]
	sigma2 := r.RatioLoss / float64(max(n-2, 1))
	det := jtj[0][0]*jtj[1][1] - jtj[0][1]*jtj[1][0]
	inf := math.Inf(1)
	switch {
	case det > 1e-12*max(jtj[0][0]*jtj[1][1], 1e-300):
		return math.Sqrt(sigma2 * jtj[1][1] / det), math.Sqrt(sigma2 * jtj[0][0] / det), nil
	case jtj[0][0] > 0 && jtj[1][1] == 0:
		return math.Sqrt(sigma2 / jtj[0][0]), inf, nil
	case jtj[1][1] > 0 && jtj[0][0] == 0:
		return inf, math.Sqrt(sigma2 / jtj[1][1]), nil
	}
	return inf, inf, nil
}
