package planner

import (
	"context"
	"testing"
)

// BenchmarkSearch reports configurations evaluated per second on the small
// test plan (18 configurations, every core): analysis, pruning, bisection
// and simulation, with nothing shared between iterations.
func BenchmarkSearch(b *testing.B) {
	p := load(b, "testdata/small.toml")
	n := len(p.Candidates())
	for b.Loop() {
		if _, err := p.Search(context.Background(), Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "configs/s")
}
