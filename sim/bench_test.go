package sim

import (
	"syscall"
	"testing"
	"time"
)

// BenchmarkOneInstance is issue 18's one-instance case: one Qwen3-8B
// instance on an H100 at 70% load (scenarios/bench/h100-qwen3-8b.toml).
// requests/s is simulated requests per wall-second, the figure the issue
// sets a target for; ns/event is the cost of one event.
func BenchmarkOneInstance(b *testing.B) {
	benchScenario(b, "../scenarios/bench/h100-qwen3-8b.toml", Options{})
}

// benchScenario runs a scenario per iteration and reports simulated
// requests per wall-second and per CPU-second, and the cost of one event.
func benchScenario(b *testing.B, path string, opt Options) {
	sc := load(b, path)
	var reqs, events int64
	cpu := startCPU()
	for b.Loop() {
		res := run(b, sc, opt)
		events += res.Events
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	cpu.report(b, reqs)
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(events), "ns/event")
}

// cpuClock measures the CPU time a benchmark's process spends (every
// thread, the collector's included). On a machine shared with other work
// the wall time a benchmark reports swings with their load; its CPU time
// far less, so the benchmarks report both.
type cpuClock time.Duration

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock(processCPU()) }

// report adds cpu-ns/op and simulated requests per CPU-second.
func (c cpuClock) report(b *testing.B, reqs int64) {
	spent := processCPU() - time.Duration(c)
	if spent <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(reqs)/spent.Seconds(), "requests/cpu-s")
}

// BenchmarkPlanTrial is one trial of the planner's search on
// plans/fleet-day.toml (scenarios/bench/plan-trial-h100.toml): two models
// sharing every device of 110 H100s under a binding 400 W cap, the kind
// of run the planner makes thousands of. Serial, as the planner runs it.
func BenchmarkPlanTrial(b *testing.B) {
	benchScenario(b, "../scenarios/bench/plan-trial-h100.toml", Options{Workers: 1})
}

// BenchmarkPlanTrialTaped is BenchmarkPlanTrial as the planner runs it:
// its arrivals replayed from a tape (recorded before the timer starts),
// no time series. (It passes: StopWhenMissed never stops it.)
func BenchmarkPlanTrialTaped(b *testing.B) {
	tp := NewTapes(1 << 20)
	opt := Options{Workers: 1, Tapes: tp, StopWhenMissed: true, NoSeries: true}
	run(b, load(b, "../scenarios/bench/plan-trial-h100.toml"), opt)
	benchScenario(b, "../scenarios/bench/plan-trial-h100.toml", opt)
}
