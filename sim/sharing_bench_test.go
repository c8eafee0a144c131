package sim

import (
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
)

// BenchmarkSeedSeparate runs the seed models each on its own DGX Spark:
// every device has one instance, the lone path of reshare that sharing
// modes must not slow down (compare BenchmarkSeedColocated).
func BenchmarkSeedSeparate(b *testing.B) {
	sc := load(b, "../scenarios/seed-separate.toml")
	sc.Duration *= 10
	var reqs int64
	for b.Loop() {
		res := run(b, sc, Options{})
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkSeedColocatedMPS is BenchmarkSeedColocated under mps, whose
// rule with the priors is the one every co-located instance had before
// sharing modes: the same events as then, so its time is the cost of the
// sharing code alone.
func BenchmarkSeedColocatedMPS(b *testing.B) {
	sc := load(b, "../scenarios/seed-colocated.toml")
	sc.Duration *= 10
	sc.Nodes[0].Sharing = scenario.MPS
	var reqs int64
	for b.Loop() {
		res := run(b, sc, Options{})
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkSlowdowns is the rule alone, for two busy segments of one
// priority (the common co-located case) under each sharing.
func BenchmarkSlowdowns(b *testing.B) {
	ds := []demand{{c: 0.1, m: 0.9, g: 0.9, step: 0.02, share: 1}, {c: 0.6, m: 0.3, g: 0.95, step: 0.05, share: 1}}
	out := make([]float64, len(ds))
	for _, mode := range scenario.Sharings {
		sh := sharer{mode: mode, sigma: sigma, kappa: 1, kappaC: 1, units: 1, interference: 0.05}
		b.Run(string(mode), func(b *testing.B) {
			for b.Loop() {
				sh.slowdowns(ds, out)
			}
		})
	}
}
