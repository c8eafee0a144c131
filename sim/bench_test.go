package sim

import "testing"

// BenchmarkOneInstance is issue 18's one-instance case: one Qwen3-8B
// instance on an H100 at 70% load (scenarios/bench/h100-qwen3-8b.toml).
// requests/s is simulated requests per wall-second, the figure the issue
// sets a target for; ns/event is the cost of one event.
func BenchmarkOneInstance(b *testing.B) {
	sc := load(b, "../scenarios/bench/h100-qwen3-8b.toml")
	var reqs, events int64
	for b.Loop() {
		res := run(b, sc, Options{})
		events += res.Events
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(events), "ns/event")
}
