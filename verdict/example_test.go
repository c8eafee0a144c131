package verdict_test

import (
	"os"

	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

// The seed claim's shape: one box serving two models against a box per
// model. It is cheaper, but one model misses its TTFT target, and the
// verdict says so next to the saving.
func ExampleOf() {
	slos := []verdict.SLO{
		{Model: "qwen3-8b", TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9},
		{Model: "qwen3-14b", TTFTS: 3, TPOTS: 0.1, Percentile: 95, Attainment: 0.9},
	}
	m := func(name string, ttft, tpot, att float64, met bool) sim.ModelResult {
		return sim.ModelResult{Model: name, Completed: 500, SLOAttainment: att, SLOMet: met,
			TTFT: sim.Latency{P95: ttft}, TPOT: sim.Latency{P95: tpot}}
	}
	d := func(node string, util float64) sim.DeviceResult {
		return sim.DeviceResult{Node: node, WindowS: 14100, WindowUtilization: util, TempPeakC: 63}
	}
	shared := &twin.Simulation{
		Result: &sim.Result{Scenario: "shared", DurationS: 14400,
			Models:  []sim.ModelResult{m("qwen3-8b", 2.06, 0.0559, 0.968, true), m("qwen3-14b", 3.3, 0.0958, 0.925, false)},
			Devices: []sim.DeviceResult{d("spark", 0.785)}},
		Cost: &tco.Report{Scenario: "shared", HardwareSpendUSD: 4699, USDPerHour: 0.1945},
	}
	separate := &twin.Simulation{
		Result: &sim.Result{Scenario: "separate", DurationS: 14400,
			Models:  []sim.ModelResult{m("qwen3-8b", 0.92, 0.0322, 0.997, true), m("qwen3-14b", 2.02, 0.057, 0.99, true)},
			Devices: []sim.DeviceResult{d("spark-8b", 0.509), d("spark-14b", 0.42)}},
		Cost: &tco.Report{Scenario: "separate", HardwareSpendUSD: 9398, USDPerHour: 0.3815},
	}
	v := verdict.Of(verdict.Run{Sim: shared, SLOs: slos}, verdict.Options{Baseline: &verdict.Run{Sim: separate, SLOs: slos}})
	v.WriteText(os.Stdout)
	// Output:
	// verdict against separate: holds on utilization and throttling; not on latency and cost: qwen3-14b misses TTFT p95 3.30 s > 3 s; hardware spend 50.0% lower than separate (cost 49.0% lower), but not at the same latency
	//   latency      yes      qwen3-8b meets its SLO: TTFT p95 2.06 s ≤ 3 s, TPOT p95 55.9 ms ≤ 100 ms, attainment 96.8% ≥ 90.0%
	//   latency      NO       qwen3-14b misses TTFT p95 3.30 s > 3 s (meets TPOT p95 95.8 ms ≤ 100 ms, attainment 92.5% ≥ 90.0%)
	//   utilization  yes      utilization 78.5% ≥ 70.0% (after warm-up; target 70.0%: the seed claim's >70%)
	//   throttling   yes      no throttling: every device at full clock all run (peak 63.0 C)
	//   cost         only if  against separate: hardware spend 50.0% lower ($4,699 against $9,398), cost 49.0% lower ($0.1945/h against $0.3815/h), but qwen3-14b misses TTFT p95 3.30 s > 3 s, where the baseline meets every SLO: the saving comes with worse latency
}
