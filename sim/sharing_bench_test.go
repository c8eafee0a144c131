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
