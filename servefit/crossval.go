package servefit

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// CrossValidation is the fit method's error on experiments it did not
// see, each experiment scored once by a fit that left it out.
type CrossValidation struct {
	Experiments int
	Rows        int     // left-out rows scored (the fitted metrics)
	MedianAPE   float64 // %
	MaxAPE      float64 // %
	MaxRow      string  // the row of MaxAPE
	// Results are the left-out rows, in the experiments' order.
	Results []perf.FitRow
	// PerExperiment is each left-out experiment's median error (%), in
	// order, named by its first row.
	PerExperiment []ExperimentError
}

// ExperimentError is one left-out experiment's error.
type ExperimentError struct {
	ID        string
	Rows      int
	MedianAPE float64
}

// CrossValidate fits start once per experiment with that experiment left
// out (Fit, the same start and sweeps each time) and scores the fit on
// the one it left out: leave-one-experiment-out cross-validation. Every
// experiment is held out once, so the error says more than the one split
// Fit's caller holds out (every third experiment), at the price of one
// fit per experiment. It compares fit methods (a new term, a changed
// rule) on the data they are fitted from without looking at the
// validation set. progress, if not nil, hears each fit done (from one
// goroutine at a time).
func CrossValidate(ctx context.Context, cat *catalog.Catalog, start perf.Profile, exps []Experiment, sweeps int,
	progress func(done, total int)) (CrossValidation, error) {
	if len(exps) < 2 {
		return CrossValidation{}, fmt.Errorf("cross-validation needs two experiments or more, got %d", len(exps))
	}
	// The folds are independent: they run side by side (each fit's
	// experiments run in parallel too, but one long burst leaves cores
	// idle), and are gathered in order, so the result does not depend on
	// how many run at once.
	type fold struct {
		s   Score
		err error
	}
	folds := make([]fold, len(exps))
	sem := make(chan struct{}, max(runtime.GOMAXPROCS(0), 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for i := range exps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				folds[i].err = ctx.Err()
				return
			}
			train := slices.Concat(exps[:i], exps[i+1:])
			p, _, err := Fit(ctx, cat, start, train, sweeps)
			if err != nil {
				folds[i].err = fmt.Errorf("leaving out %s: %w", exps[i].Rows[0].ID, err)
				return
			}
			s, err := Evaluate(ctx, cat, p, exps[i:i+1])
			if err != nil {
				folds[i].err = fmt.Errorf("scoring %s: %w", exps[i].Rows[0].ID, err)
				return
			}
			folds[i].s = s
			mu.Lock()
			done++
			if progress != nil {
				progress(done, len(exps))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	cv := CrossValidation{Experiments: len(exps)}
	var apes []float64
	for i, f := range folds {
		if f.err != nil {
			return CrossValidation{}, f.err
		}
		for _, r := range f.s.Results {
			ape := math.Abs(r.ErrorPct)
			apes = append(apes, ape)
			if ape > cv.MaxAPE || cv.MaxRow == "" {
				cv.MaxAPE, cv.MaxRow = ape, r.ID
			}
		}
		cv.Results = append(cv.Results, f.s.Results...)
		cv.PerExperiment = append(cv.PerExperiment, ExperimentError{ID: exps[i].Rows[0].ID, Rows: f.s.Rows, MedianAPE: f.s.MedianAPE})
	}
	cv.Rows = len(apes)
	if len(apes) > 0 {
		slices.Sort(apes)
		cv.MedianAPE = median(apes)
	}
	return cv, nil
}
