package jobs

import (
	"math"
	"slices"

	"github.com/fleettwin/fleettwin/sim"
)

// windows collects the latencies of the requests finished since the last
// point, per model, so the live charts plot a p95 per interval next to
// the cumulative one (which flattens as the run goes and hides bursts
// and throttling). It is fed and read on the simulation's goroutine.
type windows struct {
	idx             map[string]int
	ttft, tpot, e2e [][]float64
}

func newWindows(models []string) *windows {
	w := &windows{idx: map[string]int{}, ttft: make([][]float64, len(models)), tpot: make([][]float64, len(models)), e2e: make([][]float64, len(models))}
	for i, m := range models {
		w.idx[m] = i
	}
	return w
}

// add takes a finished request (twin.Options.OnRequest); rejected ones
// have no latency.
func (w *windows) add(r sim.RequestRecord) {
	i, ok := w.idx[r.Model]
	if !ok || r.Rejected {
		return
	}
	push := func(xs *[]float64, v float64) {
		if !math.IsNaN(v) {
			*xs = append(*xs, v)
		}
	}
	push(&w.ttft[i], r.TTFTS)
	push(&w.tpot[i], r.TPOTS)
	push(&w.e2e[i], r.E2ES)
}

// windowP95 is one model's p95s over an interval; NaN where no request
// finished in it.
type windowP95 struct{ TTFT, TPOT, E2E float64 }

// take returns each model's p95s since the last take and starts anew.
func (w *windows) take() []windowP95 {
	out := make([]windowP95, len(w.ttft))
	for i := range out {
		out[i] = windowP95{p95(w.ttft[i]), p95(w.tpot[i]), p95(w.e2e[i])}
		w.ttft[i], w.tpot[i], w.e2e[i] = w.ttft[i][:0], w.tpot[i][:0], w.e2e[i][:0]
	}
	return out
}

// p95 is the nearest-rank 95th percentile; NaN of nothing.
func p95(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(math.Ceil(0.95*float64(len(s))))-1]
}
