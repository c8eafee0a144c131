package sharefit

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
)

// Load is the traffic a case is taken to have been measured under, per
// instance: Concurrency closed-loop clients without think time, prompts of
// Input tokens, Output tokens each (lognormal lengths with lengthCV, so the
// clients do not march in lockstep as identical requests would).
type Load struct {
	Concurrency, Input, Output int
}

// Servers is how the case's servers differ from the profile, fitted with
// the load on the dedicated figures: a factor on the profile's
// memory-streaming efficiencies (weights and KV: decode speed) and the
// front end's per-request time. The profile of the case's hardware and
// engine may be a prior; a case's three dedicated figures cannot be met by
// choosing a load alone when its decode or its front end is off.
type Servers struct {
	BandwidthFactor float64 // × weight_bandwidth_eff and kv_bandwidth_eff
	RequestS        float64 // [serving] request_s
}

// lengthCV is the spread of the assumed lengths: the case does not
// publish its dataset; benchmark datasets vary lengths around their means.
const lengthCV = 0.25

// Run lengths: a few hundred completions per instance at the loads
// searched, after a warm-up that fills the batch.
const (
	durationS = 300
	warmupS   = 30
)

// Figures are one instance's medians and rates.
type Figures struct {
	TPOTP50S, TTFTP50S, OutputTPS, RequestRPS float64
}

// Env is what the fit runs in: the catalog and the profile whose sharing
// coefficients it fits (the case's hardware and engine).
type Env struct {
	Catalog *catalog.Catalog
	Profile perf.Profile
}

// point is one simulation of a case: a load, how the servers differ, the
// sharing coefficients, shared or dedicated.
type point struct {
	load    Load
	servers Servers
	kappa   [2]float64 // MPS memory and compute contention
	shared  bool
}

// profile is env's profile as the point's servers and coefficients change it.
func (env Env) profile(pt point) perf.Profile {
	p := env.Profile
	p.Coefficients.WeightBandwidthEff = min(1, p.Coefficients.WeightBandwidthEff*pt.servers.BandwidthFactor)
	p.Coefficients.KVBandwidthEff = min(1, p.Coefficients.KVBandwidthEff*pt.servers.BandwidthFactor)
	if p.Serving != nil {
		sv := *p.Serving
		sv.RequestS = pt.servers.RequestS
		p.Serving = &sv
	}
	s := p.Sharing.OrDefault()
	s.MPSMemoryContention, s.MPSComputeContention = pt.kappa[0], pt.kappa[1]
	p.Sharing = &s
	return p
}

// simulate runs the case at a point, dedicated (one instance on its own
// device) or shared (c.Instances instances on one device as the case
// shares it), and returns the first instance's figures (the instances are
// alike).
func (env Env) simulate(ctx context.Context, c Case, pt point) (Figures, error) {
	lengths := func(n int) workload.Lengths {
		return workload.Lengths{Dist: workload.Lognormal, Mean: float64(n), Stddev: lengthCV * float64(n), Min: 1, Max: 4 * n}
	}
	spec := workload.Spec{Arrival: workload.Arrival{Process: workload.Closed, Concurrency: pt.load.Concurrency},
		Input: lengths(pt.load.Input), Output: lengths(pt.load.Output)}
	f := &scenario.File{Name: c.ID, Seed: 1, DurationS: durationS, WarmupS: warmupS, Models: map[string]scenario.ServedModel{}}
	g := scenario.NodeGroup{Name: "gpu", Hardware: c.Hardware, Engine: c.Engine, Count: 1, MemoryFraction: c.Dedicated.GPUMemUtil}
	n := 1
	if pt.shared {
		n = c.Instances
		g.Sharing = c.Sharing
		g.MemoryFraction = min(1, c.MemFraction*float64(n))
	}
	for i := range n {
		name := fmt.Sprintf("m%d", i)
		f.Models[name] = scenario.ServedModel{Model: c.Model, Workload: spec}
		in := scenario.Instance{Model: name, Quant: c.Quant, KVCache: c.KVCache}
		if pt.shared {
			in.MemoryFraction = c.MemFraction
			if c.Sharing == scenario.MPS {
				in.MPSActiveThreadPct = c.SMPercent
			}
		}
		g.Instances = append(g.Instances, in)
	}
	f.Nodes = []scenario.NodeGroup{g}
	set := perf.ProfileSet{}
	set.Add(env.profile(pt))
	sc, err := scenario.Resolve(c.ID, f, env.Catalog, set, nil)
	if err != nil {
		return Figures{}, err
	}
	res, err := sim.Run(ctx, sc, sim.Options{})
	if err != nil {
		return Figures{}, err
	}
	m := res.Models[0]
	return Figures{TPOTP50S: m.TPOT.P50, TTFTP50S: m.TTFT.P50, OutputTPS: m.OutputTokensPerS, RequestRPS: m.RequestsPerS}, nil
}

// simulateAll runs every point, on as many goroutines as there are
// processors; results come back in the points' order, so what is picked
// from them does not depend on GOMAXPROCS.
func (env Env) simulateAll(ctx context.Context, c Case, pts []point) ([]Figures, error) {
	out := make([]Figures, len(pts))
	errs := make([]error, len(pts))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = env.simulate(ctx, c, pts[i])
			}
		}()
	}
	for i := range pts {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("case %s: %+v: %w", c.ID, pts[i], err)
		}
	}
	return out, ctx.Err()
}

// loadLoss is the squared log error of the dedicated figures: TPOT, TTFT
// and output throughput (request throughput follows from it at the case's
// output length).
func loadLoss(d Dedicated, f Figures) float64 {
	return sq(math.Log(f.TPOTP50S*1e3/d.TPOTP50Ms)) + sq(math.Log(f.TTFTP50S*1e3/d.TTFTP50Ms)) + sq(math.Log(f.OutputTPS/d.OutputTPS))
}

// geometric returns lo, lo·r, lo·r², ... up to hi.
func geometric(lo, hi, r float64) []float64 {
	var v []float64
	for x := lo; x <= hi*(1+1e-9); x *= r {
		v = append(v, x)
	}
	return v
}

// The dedicated search: a coarse grid over the servers' terms and the load,
// then a finer one around its best point.
var (
	gridFactor  = []float64{1, 0.7, 0.5, 0.35, 0.25}
	gridRequest = []float64{0.02, 0.1, 0.2, 0.3, 0.4}
	gridClients = geometric(24, 256, 1.4)
	gridInput   = geometric(128, 2048, 1.4)
	// fine is the step of the second grid, as a factor either way.
	fine = []float64{1 / 1.18, 1, 1.18}
)

// FitDedicated returns the candidates for the load and the servers' terms
// under which one dedicated instance reproduces the case's dedicated
// figures, best first: the top of a coarse grid, each with its best
// neighbour on a finer one. The output length is the published throughput
// over the published request rate. Three figures do not fix four terms,
// so the ratios choose among the candidates (Fit).
func FitDedicated(ctx context.Context, env Env, c Case, keep int) ([]candidate, error) {
	out := c.Dedicated.OutputTokens
	if out < 2 {
		return nil, fmt.Errorf("case %s: output length %d from output_tps / request_rps is too short", c.ID, out)
	}
	var pts []point
	for _, f := range gridFactor {
		for _, rq := range gridRequest {
			for _, cl := range gridClients {
				for _, in := range gridInput {
					pts = append(pts, point{load: Load{int(cl), int(in), out}, servers: Servers{f, rq}, kappa: [2]float64{1, 1}})
				}
			}
		}
	}
	top, err := env.top(ctx, c, pts, keep)
	if err != nil {
		return nil, err
	}
	var refined []candidate
	for _, b := range top {
		pts = pts[:0]
		for _, a := range fine {
			for _, r := range fine {
				for _, cl := range fine {
					for _, in := range fine {
						pts = append(pts, point{load: Load{max(1, int(math.Round(float64(b.pt.load.Concurrency)*cl))), max(1, int(math.Round(float64(b.pt.load.Input)*in))), out},
							servers: Servers{min(1/env.Profile.Coefficients.WeightBandwidthEff, b.pt.servers.BandwidthFactor*a), b.pt.servers.RequestS * r}, kappa: b.pt.kappa})
					}
				}
			}
		}
		best, err := env.top(ctx, c, pts, 1)
		if err != nil {
			return nil, err
		}
		refined = append(refined, best[0])
	}
	slices.SortStableFunc(refined, func(a, b candidate) int { return cmp.Compare(a.loss, b.loss) })
	return refined, nil
}

// candidate is a dedicated point with its figures and loss.
type candidate struct {
	pt   point
	fig  Figures
	loss float64
}

// top is the keep points of pts with the least dedicated loss, best first
// (the earlier of equals).
func (env Env) top(ctx context.Context, c Case, pts []point, keep int) ([]candidate, error) {
	figs, err := env.simulateAll(ctx, c, pts)
	if err != nil {
		return nil, err
	}
	cs := make([]candidate, len(pts))
	for i, f := range figs {
		cs[i] = candidate{pts[i], f, loadLoss(c.Dedicated, f)}
	}
	slices.SortStableFunc(cs, func(a, b candidate) int { return cmp.Compare(a.loss, b.loss) })
	return cs[:min(keep, len(cs))], nil
}

func sq(x float64) float64 { return x * x }

// ratioMetrics are the ratios the coefficients are fitted on. The request
// rate's ratio is the output rate's at a fixed output length, so it is
// predicted and reported but not counted twice.
var ratioMetrics = []measure.Metric{measure.TPOTP50Ratio, measure.TTFTP50Ratio, measure.OutputTPSRatio}

// ratios are the shared figures over the dedicated ones.
func ratios(shared, dedicated Figures) map[measure.Metric]float64 {
	return map[measure.Metric]float64{
		measure.TPOTP50Ratio:    shared.TPOTP50S / dedicated.TPOTP50S,
		measure.TTFTP50Ratio:    shared.TTFTP50S / dedicated.TTFTP50S,
		measure.OutputTPSRatio:  shared.OutputTPS / dedicated.OutputTPS,
		measure.RequestRPSRatio: shared.RequestRPS / dedicated.RequestRPS,
	}
}

func ratioLoss(c Case, pred map[measure.Metric]float64) float64 {
	var l float64
	for _, m := range ratioMetrics {
		if v, ok := c.Ratios[m]; ok {
			l += sq(math.Log(pred[m] / v))
		}
	}
	return l
}
