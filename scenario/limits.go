package scenario

import (
	"maps"
	"math"
	"slices"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/workload"
)

// Limits on the work one scenario may ask for. Each is far beyond what a
// buyer's question needs and keeps one simulation within this machine's
// memory and a bounded time: a saturated duration would overflow a slice
// length, a series of 10⁹ bins would need gigabytes, and 10⁹ arrivals take
// hours. They are documented in docs/security.md.
const (
	// MaxDurationS is the longest simulated span: 31 days.
	MaxDurationS = 31 * 86400
	// MaxSeriesPoints bounds duration_s / series_resolution_s.
	MaxSeriesPoints = 100_000
	// MaxNodes bounds the nodes of all node groups together.
	MaxNodes = 10_000
	// MaxInstancesPerNode bounds the model instances on one node, and
	// MaxInstances those of the whole scenario: each holds its batch and KV
	// state (about 3 KB), and routing a request looks at every instance of
	// its model, so 10,000 nodes of 64 instances took 1.8 GB and minutes
	// for a minute of traffic.
	MaxInstancesPerNode = 64
	MaxInstances        = 20_000
	// MaxArrivals bounds the expected requests of all open-loop models over
	// the run (rate × mean diurnal multiplier × duration): at the
	// simulator's ~200k requests/s on one core that is under ten minutes.
	MaxArrivals = 1e8
	// MaxSeqs bounds an instance's running batch (vLLM max_num_seqs): the
	// step model's largest batch.
	MaxSeqs = perf.MaxBatch
	// MaxBlockTokens bounds an instance's KV block size.
	MaxBlockTokens = 1 << 12
	// MaxSLOSeconds bounds a latency target: a day.
	MaxSLOSeconds = 86400
	// MaxPriceUSD bounds a node's price and MaxCloudUSDPerHour its rent.
	MaxPriceUSD        = 1e8
	MaxCloudUSDPerHour = 1e5
	// MaxInterference bounds the extra slowdown per busy neighbour.
	MaxInterference = 10
)

// expectedArrivals is the mean number of open-loop requests of m over d
// seconds; traces and closed loops are bounded by their file and by the
// serving speed.
func expectedArrivals(a workload.Arrival, d float64) float64 {
	if !a.Process.Open() {
		return 0
	}
	mult := 1.0
	if len(a.Diurnal) > 0 {
		sum := 0.0
		for _, m := range a.Diurnal {
			sum += m
		}
		mult = sum / float64(len(a.Diurnal))
	}
	n := a.Rate * mult * d
	if math.IsNaN(n) {
		return math.Inf(1)
	}
	return n
}

// limits checks the whole scenario's work against the bounds above; field
// ranges are checked where each field is resolved. Every problem is of kind
// OutOfRange.
func (r *resolver) limits(f *File) {
	nodes, instances := 0, 0
	for gi, g := range f.Nodes {
		size := groupSize(g) // an autoscaled group's max
		if size > MaxNodes || nodes+size > MaxNodes {
			r.AddKind(tomlcheck.OutOfRange, key("nodes", tomlcheck.Index(gi), "count"), "the scenario's node groups may hold at most %d nodes together, got %d so far: a limit on the work one simulation may ask for", MaxNodes, nodes+size)
			break
		}
		nodes += max(size, 0)
		instances += max(size, 0) * min(len(g.Instances), MaxInstancesPerNode+1)
		if instances > MaxInstances {
			r.AddKind(tomlcheck.OutOfRange, key("nodes", tomlcheck.Index(gi), "count"), "the scenario's nodes may run at most %d model instances together, got %d so far (count × instances per node): a limit on the work one simulation may ask for", MaxInstances, instances)
			break
		}
	}
	if !(f.DurationS > 0 && f.DurationS <= MaxDurationS) {
		return // reported with duration_s
	}
	total := 0.0
	for _, n := range slices.Sorted(maps.Keys(f.Models)) {
		total += expectedArrivals(f.Models[n].Workload.Arrival, f.DurationS)
		if total > MaxArrivals {
			r.AddKind(tomlcheck.OutOfRange, key("models", n, "workload", "arrival", "rate"), "rate × duration_s asks for about %.3g requests over the run (all models so far); the limit is %.0e: shorten the run or lower the rate", total, float64(MaxArrivals))
			return
		}
	}
}

// span resolves the run's duration, warm-up and series resolution, checking
// each against the limits.
func (r *resolver) span(f *File, sc *Scenario) {
	durationOK := f.DurationS > 0 && f.DurationS <= MaxDurationS
	if !(f.DurationS > 0) {
		r.AddKind(tomlcheck.OutOfRange, key("duration_s"), "must be positive, got %v", f.DurationS)
	} else if !durationOK {
		r.AddKind(tomlcheck.OutOfRange, key("duration_s"), "must be at most %d s (31 days; a limit on the work one simulation may ask for), got %v", MaxDurationS, f.DurationS)
	}
	if !(f.WarmupS >= 0) || f.WarmupS >= f.DurationS && f.DurationS > 0 {
		r.AddKind(tomlcheck.OutOfRange, key("warmup_s"), "must be in [0, duration_s), got %v", f.WarmupS)
	}
	if f.SeriesResolutionS < 0 || math.IsNaN(f.SeriesResolutionS) {
		r.AddKind(tomlcheck.OutOfRange, key("series_resolution_s"), "must not be negative, got %v", f.SeriesResolutionS)
	} else if durationOK && f.SeriesResolutionS > 0 && f.DurationS/f.SeriesResolutionS > MaxSeriesPoints {
		r.AddKind(tomlcheck.OutOfRange, key("series_resolution_s"), "must be at least duration_s / %d = %v s (at most %d series points), got %v", MaxSeriesPoints, f.DurationS/MaxSeriesPoints, MaxSeriesPoints, f.SeriesResolutionS)
	}
	r.limits(f)
	duration, warmup := f.DurationS, f.WarmupS
	if !durationOK || !(warmup >= 0 && warmup < duration) {
		duration, warmup = 0, 0 // reported above; keep the arithmetic below finite
	}
	sc.Duration = engine.FromSeconds(duration)
	sc.Warmup = engine.FromSeconds(warmup)
	res := f.SeriesResolutionS
	if res == 0 || !(res <= MaxDurationS) {
		res = duration / 360
	}
	sc.SeriesResolution = max(engine.FromSeconds(max(res, 0)), engine.Millisecond)
}
