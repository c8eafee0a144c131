package sim

import "testing"

// BenchmarkFleet100Serving runs the fleet-h100 scenario with and without
// its profile's [serving] terms (front end and scheduler): the terms cost
// one extra event per request (evFrontend) and nothing per step beyond an
// addition, so ns/event barely moves.
func BenchmarkFleet100Serving(b *testing.B) {
	for _, c := range []struct {
		name    string
		serving bool
	}{{"without", false}, {"with", true}} {
		b.Run(c.name, func(b *testing.B) {
			sc := load(b, "../scenarios/fleet-h100.toml")
			if !c.serving {
				for i := range sc.Nodes {
					sc.Nodes[i].Profile.Serving = nil
				}
			} else if sc.Nodes[0].Profile.Serving == nil {
				b.Skip("the h100-sxm vllm profile has no [serving] table")
			}
			var events int64
			for b.Loop() {
				events += run(b, sc, Options{}).Events
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(events), "ns/event")
			b.ReportMetric(float64(events)/float64(b.N), "events/run")
		})
	}
}
