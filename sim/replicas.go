package sim

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/fleettwin/fleettwin/scenario"
)

// Spread is a mean over replicas with the half-width of its 95% confidence
// interval (Student's t); the half-width is NaN with one replica.
type Spread struct {
	Mean float64 `json:"mean"`
	CI95 float64 `json:"ci95"`
}

// ModelSpread summarises a served model across replicas.
type ModelSpread struct {
	Model            string `json:"model"`
	RequestsPerS     Spread `json:"requests_per_s"`
	OutputTokensPerS Spread `json:"output_tokens_per_s"`
	GoodputPerS      Spread `json:"goodput_per_s"`
	SLOAttainment    Spread `json:"slo_attainment"`
	TTFTP95          Spread `json:"ttft_p95_s"`
	TPOTP95          Spread `json:"tpot_p95_s"`
	E2EP95           Spread `json:"e2e_p95_s"`
}

// Replicas is the outcome of independent runs of one scenario.
type Replicas struct {
	Seeds  []uint64      `json:"seeds"`
	Models []ModelSpread `json:"models"`
	Runs   []*Result     `json:"runs"`
}

// RunReplicas runs n replicas of sc, replica i with seed sc.Seed+i, on up to
// workers goroutines (0: one per CPU). Results are in replica order whatever
// the scheduling, so the output is deterministic. Callbacks in opt are not
// used: they would interleave. done, if set, is called after each replica.
// MaxReplicas bounds n: each replica is a whole simulation, and a
// confidence interval is already tight at a few dozen.
const MaxReplicas = 1000

func RunReplicas(ctx context.Context, sc *scenario.Scenario, n, workers int, opt Options, done func(finished int)) (*Replicas, error) {
	if n < 1 || n > MaxReplicas {
		return nil, fmt.Errorf("replicas: want 1 to %d, got %d", MaxReplicas, n)
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	opt.OnSnapshot, opt.OnRequest, opt.Pacer = nil, nil, nil
	if opt.Workers == 0 && n > 1 {
		opt.Workers = 1 // the replicas run in parallel already
	}
	runs := make([]*Result, n)
	errs := make([]error, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	finished := 0
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rsc := *sc
				rsc.Seed = sc.Seed + uint64(i)
				runs[i], errs[i] = Run(ctx, &rsc, opt)
				if done != nil {
					mu.Lock()
					finished++
					done(finished)
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- i:
		case <-ctx.Done(): // replicas not yet started stay nil
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	rep := &Replicas{Runs: runs}
	for i, err := range errs {
		if err != nil {
			return rep, err
		}
		if runs[i] == nil {
			return rep, ctx.Err()
		}
		rep.Seeds = append(rep.Seeds, runs[i].Seed)
	}
	for mi := range runs[0].Models {
		pick := func(f func(ModelResult) float64) Spread {
			xs := make([]float64, n)
			for i, r := range runs {
				xs[i] = f(r.Models[mi])
			}
			return spread(xs)
		}
		rep.Models = append(rep.Models, ModelSpread{
			Model:            runs[0].Models[mi].Model,
			RequestsPerS:     pick(func(m ModelResult) float64 { return m.RequestsPerS }),
			OutputTokensPerS: pick(func(m ModelResult) float64 { return m.OutputTokensPerS }),
			GoodputPerS:      pick(func(m ModelResult) float64 { return m.GoodputPerS }),
			SLOAttainment:    pick(func(m ModelResult) float64 { return m.SLOAttainment }),
			TTFTP95:          pick(func(m ModelResult) float64 { return m.TTFT.P95 }),
			TPOTP95:          pick(func(m ModelResult) float64 { return m.TPOT.P95 }),
			E2EP95:           pick(func(m ModelResult) float64 { return m.E2E.P95 }),
		})
	}
	return rep, nil
}

// spread returns the mean and the 95% CI half-width of xs.
func spread(xs []float64) Spread {
	n := float64(len(xs))
	var mean float64
	for _, x := range xs {
		mean += x / n
	}
	if len(xs) < 2 {
		return Spread{Mean: mean, CI95: math.NaN()}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / (n - 1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Quantile(0.975)
	return Spread{Mean: mean, CI95: t * sd / math.Sqrt(n)}
}
