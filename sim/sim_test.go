package sim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

var (
	cat         = catalog.Default()
	profiles, _ = perf.DefaultProfiles()
)

func parse(t testing.TB, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("test.toml", []byte(src), cat, profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func load(t testing.TB, path string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Load(path, cat, profiles)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func run(t testing.TB, sc *scenario.Scenario, opt Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// fixedStep costs every step tau seconds, whatever the batch: a server with
// deterministic step times for queueing-theory checks.
type fixedStep struct{ tau float64 }

func (f fixedStep) Step(perf.Batch) perf.StepCost {
	return perf.StepCost{Seconds: f.tau, Memory: f.tau}
}

// TestMM1 runs one instance limited to batch 1 whose service time is
// exponential (geometric output lengths × a fixed step time) under Poisson
// arrivals, and compares the mean waiting time with M/M/1 theory.
//
// With ρ = 0.5 the mean wait is 1 s; over 1M customers its standard error
// is about 0.54% (asymptotic variance ρ(2+5ρ-4ρ²+ρ³)/(μ²(1-ρ)⁴) per
// customer), so 2% is nearly four standard errors. The geometric service
// (mean 100 steps) has E[S²] within 0.5% of the exponential's.
func TestMM1(t *testing.T) {
	if testing.Short() {
		t.Skip("long run")
	}
	const (
		tau  = 0.01 // s per step
		mean = 100  // steps per request: mean service 1 s
		rho  = 0.5
	)
	n := 1_000_000
	dur := float64(n) / rho
	sc := parse(t, fmt.Sprintf(`
name = "mm1"
seed = 7
duration_s = %g
warmup_s = 1000
[models."qwen3-0.6b".workload.arrival]
process = "poisson"
rate = %g
[models."qwen3-0.6b".workload.input]
dist = "fixed"
value = 1
[models."qwen3-0.6b".workload.output]
dist = "exponential"
mean = %d.0
[[nodes]]
name = "n"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-0.6b"
  quant = "bf16"
  max_seqs = 1
`, dur, rho, mean))
	sc.Nodes[0].Profile.Serving = nil // the engine's queue alone, no front end or scheduler time
	res := run(t, sc, Options{costFor: func(scenario.Node, scenario.NodeInstance) (StepCoster, error) { return fixedStep{tau}, nil }})
	m := res.Models[0]
	mu := 1 / (tau * mean)
	lambda := rho * mu
	wantWq := rho / (mu - lambda)
	p := 1.0 / mean
	es2 := tau * tau * (2 - p) / (p * p)
	pk := lambda * es2 / (2 * (1 - rho)) // Pollaczek-Khinchine, exact for this service
	got := m.Queue.Mean
	t.Logf("completed %d: mean wait %.4f s; M/M/1 %.4f s (%.2f%%); M/G/1 %.4f s (%.2f%%); events %d",
		m.Completed, got, wantWq, 100*(got-wantWq)/wantWq, pk, 100*(got-pk)/pk, res.Events)
	if math.Abs(got-wantWq)/wantWq > 0.02 {
		t.Errorf("mean waiting time %.4f s, M/M/1 predicts %.4f s: off by more than 2%%", got, wantWq)
	}
	if math.Abs(m.E2E.Mean-m.Queue.Mean-1/mu)/(1/mu) > 0.02 {
		t.Errorf("mean service time %.4f s, want %.4f s", m.E2E.Mean-m.Queue.Mean, 1/mu)
	}
}

// checkInvariants asserts what must hold on every run.
func checkInvariants(t *testing.T, name string, res *Result) {
	t.Helper()
	l := res.Little
	if math.Abs(l.MeanInSystem-l.LambdaW) > 1e-6*math.Max(1, l.MeanInSystem) {
		t.Errorf("%s: Little's law: L = %v but λW = %v", name, l.MeanInSystem, l.LambdaW)
	}
	for _, m := range res.Models {
		if m.Arrived != m.Completed+m.Rejected+m.InFlight {
			t.Errorf("%s %s: arrived %d != completed %d + rejected %d + in flight %d", name, m.Model, m.Arrived, m.Completed, m.Rejected, m.InFlight)
		}
	}
	for _, d := range res.Devices {
		if d.KVUsePeak > 1+1e-9 {
			t.Errorf("%s %s: KV use peaked at %.4f of capacity", name, d.Node, d.KVUsePeak)
		}
		if d.Utilization < 0 || d.Utilization > 1+1e-9 || d.MBU > 1 || d.MFU > 1 {
			t.Errorf("%s %s: utilization %v, MFU %v, MBU %v out of [0, 1]", name, d.Node, d.Utilization, d.MFU, d.MBU)
		}
	}
}

func TestShippedScenarios(t *testing.T) {
	for _, f := range []string{"seed-colocated", "seed-separate"} {
		res := run(t, load(t, "../scenarios/"+f+".toml"), Options{})
		checkInvariants(t, f, res)
		for _, m := range res.Models {
			if m.Completed == 0 {
				t.Errorf("%s %s: nothing completed", f, m.Model)
			}
		}
	}
}

// TestColocatedNeverFaster: the same traffic (same seed, so the same
// arrivals and lengths per model) is never served faster by two models
// sharing one Spark than by a Spark each.
func TestColocatedNeverFaster(t *testing.T) {
	co := run(t, load(t, "../scenarios/seed-colocated.toml"), Options{})
	sep := run(t, load(t, "../scenarios/seed-separate.toml"), Options{})
	for i := range co.Models {
		c, s := co.Models[i], sep.Models[i]
		if c.Arrived != s.Arrived {
			t.Fatalf("%s: %d arrivals co-located, %d separate: the traffic differs", c.Model, c.Arrived, s.Arrived)
		}
		for _, pair := range []struct {
			name string
			c, s float64
		}{{"TTFT mean", c.TTFT.Mean, s.TTFT.Mean}, {"TPOT mean", c.TPOT.Mean, s.TPOT.Mean}, {"E2E mean", c.E2E.Mean, s.E2E.Mean},
			{"TPOT p50", c.TPOT.P50, s.TPOT.P50}} {
			if pair.c < pair.s*(1-1e-9) {
				t.Errorf("%s: %s co-located %.4g s < separate %.4g s", c.Model, pair.name, pair.c, pair.s)
			}
		}
	}
}

// TestKVPressure squeezes the KV cache until requests are preempted, and
// checks the cache never overflows and every request is accounted for.
func TestKVPressure(t *testing.T) {
	for _, memory := range []string{"static", "dynamic"} {
		frac8, frac06 := "", ""
		if memory == "static" {
			frac8, frac06 = "memory_fraction = 0.2", "memory_fraction = 0.05"
		}
		sc := parse(t, fmt.Sprintf(`
name = "kv-pressure"
seed = 3
duration_s = 600
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 4.0
[models.qwen3-8b.workload.input]
dist = "uniform"
min = 2000
max = 6000
[models.qwen3-8b.workload.output]
dist = "uniform"
min = 200
max = 1500
[models."qwen3-0.6b".workload.arrival]
process = "poisson"
rate = 4.0
[models."qwen3-0.6b".workload.input]
dist = "fixed"
value = 3000
[models."qwen3-0.6b".workload.output]
dist = "fixed"
value = 500
[[nodes]]
name = "l40s"
hardware = "l40s"
engine = "vllm"
count = 1
memory = %q
memory_fraction = %g
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
  max_seqs = 64
  %s
  [[nodes.instances]]
  model = "qwen3-0.6b"
  quant = "bf16"
  max_seqs = 64
  %s
`, memory, map[string]float64{"static": 0.9, "dynamic": 0.26}[memory], frac8, frac06))
		res := run(t, sc, Options{})
		checkInvariants(t, memory, res)
		var pre int64
		for _, m := range res.Models {
			pre += m.Preemptions
		}
		if pre == 0 {
			t.Errorf("%s: no preemptions under KV pressure; the test does not exercise them", memory)
		}
		if res.Devices[0].KVUsePeak < 0.9 {
			t.Errorf("%s: KV peaked at %.2f; the test does not fill the cache", memory, res.Devices[0].KVUsePeak)
		}
		t.Logf("%s: preemptions %d, KV mean %.2f peak %.2f", memory, pre, res.Devices[0].KVUseMean, res.Devices[0].KVUsePeak)
	}
}

func TestRejectsWhatCanNeverFit(t *testing.T) {
	sc := parse(t, `
name = "too-long"
seed = 1
duration_s = 100
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 1.0
[models.qwen3-8b.workload.input]
dist = "uniform"
min = 100
max = 40000
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 10
[[nodes]]
name = "n"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
  chunked_prefill = false
  max_batched_tokens = 8192
`)
	res := run(t, sc, Options{})
	m := res.Models[0]
	if m.Rejected == 0 || m.Completed == 0 {
		t.Fatalf("completed %d, rejected %d: prompts over 8192 tokens without chunked prefill must be rejected, the rest served", m.Completed, m.Rejected)
	}
	// Uniform 100..40000: about (40000-8192)/39900 of the prompts are too long.
	want := float64(m.Arrived) * (40000 - 8192) / 39901
	if math.Abs(float64(m.Rejected)-want) > 4*math.Sqrt(want) {
		t.Errorf("rejected %d, want about %.0f", m.Rejected, want)
	}
	checkInvariants(t, "too-long", res)
}

// TestDeterministic: the same scenario and seed give byte-identical results;
// another seed gives different ones.
func TestDeterministic(t *testing.T) {
	enc := func(seed uint64) []byte {
		sc := load(t, "../scenarios/seed-colocated.toml")
		sc.Seed = seed
		b, err := jsonfmt.Marshal(run(t, sc, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := enc(1), enc(1), enc(2)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with seed 1 differ")
	}
	if bytes.Equal(a, c) {
		t.Fatal("seeds 1 and 2 give identical results")
	}
}

func TestSnapshotsAndCancel(t *testing.T) {
	sc := load(t, "../scenarios/seed-colocated.toml")
	var snaps []Snapshot
	ctx, cancel := context.WithCancel(context.Background())
	res, err := Run(ctx, sc, Options{OnSnapshot: func(s Snapshot) {
		snaps = append(snaps, s)
		if len(snaps) == 30 {
			cancel()
		}
	}})
	if err == nil || res == nil || !res.Partial {
		t.Fatalf("cancelled run: err %v, partial %v; want the context error and a partial result", err, res != nil && res.Partial)
	}
	if got := res.DurationS; got <= 0 || got >= sc.Duration.Seconds() {
		t.Errorf("partial run covers %v s", got)
	}
	last := snaps[len(snaps)-1]
	if !last.Done || len(last.Devices) != 1 || len(last.Models) != 2 {
		t.Errorf("final snapshot %+v", last)
	}
	for i := 1; i < len(snaps); i++ {
		if snaps[i].NowS < snaps[i-1].NowS || snaps[i].Models[0].Completed < snaps[i-1].Models[0].Completed {
			t.Fatalf("snapshots go backwards at %d", i)
		}
	}
	checkInvariants(t, "partial", res)
}

func TestRequestRecords(t *testing.T) {
	sc := load(t, "../scenarios/seed-separate.toml")
	var n, rejected int64
	res := run(t, sc, Options{OnRequest: func(r RequestRecord) {
		n++
		if r.Rejected {
			rejected++
			return
		}
		if !(r.TTFTS > 0 && r.E2ES >= r.TTFTS && r.QueueS >= 0 && r.QueueS <= r.TTFTS) {
			t.Fatalf("inconsistent record %+v", r)
		}
	}})
	var want int64
	for _, m := range res.Models {
		want += m.Completed + m.Rejected
	}
	if n != want {
		t.Errorf("%d records, want %d (completed + rejected)", n, want)
	}
}

func TestReplicas(t *testing.T) {
	sc := load(t, "../scenarios/seed-separate.toml")
	sc.Duration /= 4
	rep, err := RunReplicas(context.Background(), sc, 4, 2, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Runs) != 4 || rep.Seeds[3] != sc.Seed+3 {
		t.Fatalf("seeds %v", rep.Seeds)
	}
	one := run(t, func() *scenario.Scenario { c := *sc; c.Seed += 2; return &c }(), Options{})
	a, _ := jsonfmt.Marshal(one)
	b, _ := jsonfmt.Marshal(rep.Runs[2])
	if !bytes.Equal(a, b) {
		t.Error("replica 2 differs from a single run with seed+2")
	}
	for _, m := range rep.Models {
		if !(m.RequestsPerS.CI95 > 0) || !(m.RequestsPerS.Mean > 0) {
			t.Errorf("%s: spread %+v", m.Model, m.RequestsPerS)
		}
	}
}

func TestShippedScenariosParse(t *testing.T) {
	entries, err := os.ReadDir("../scenarios")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".toml") {
			load(t, "../scenarios/"+e.Name())
		}
	}
}

func BenchmarkSeedColocated(b *testing.B) {
	sc := load(b, "../scenarios/seed-colocated.toml")
	sc.Duration *= 10
	var reqs int64
	cpu := startCPU()
	for b.Loop() {
		res := run(b, sc, Options{})
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	cpu.report(b, reqs)
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
}

// peakHeap runs sc and returns the largest live heap (after a collection)
// seen at its snapshots.
func peakHeap(t testing.TB, sc *scenario.Scenario) (peak uint64, arrived int64) {
	var ms runtime.MemStats
	res := run(t, sc, Options{OnSnapshot: func(Snapshot) {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}})
	for _, m := range res.Models {
		arrived += m.Arrived
	}
	return peak, arrived
}

// TestMemoryFlat: memory does not grow with the number of requests. A
// 100-node fleet run three times longer (over a million requests) needs
// about the same heap as one hour, and well under 200 MB.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("long run")
	}
	sc := load(t, "../scenarios/fleet-h100.toml")
	short, n1 := peakHeap(t, sc)
	// Same number of series bins (they cost nodes × bins × 64 bytes,
	// whatever the traffic), three times the requests.
	sc.Duration *= 3
	sc.SeriesResolution *= 3
	long, n3 := peakHeap(t, sc)
	t.Logf("peak heap: %d requests %.1f MB, %d requests %.1f MB", n1, float64(short)/1e6, n3, float64(long)/1e6)
	if n3 < 1_000_000 {
		t.Fatalf("only %d requests: the test must cover a million", n3)
	}
	if long > 200e6 {
		t.Errorf("peak heap %.1f MB for %d requests, want under 200 MB", float64(long)/1e6, n3)
	}
	if float64(long) > 1.25*float64(short)+1e6 {
		t.Errorf("heap grows with requests: %.1f MB for %d, %.1f MB for %d", float64(short)/1e6, n1, float64(long)/1e6, n3)
	}
}

func BenchmarkFleet100(b *testing.B) {
	sc := load(b, "../scenarios/fleet-h100.toml")
	var reqs, events int64
	cpu := startCPU()
	for b.Loop() {
		res := run(b, sc, Options{})
		events += res.Events
		for _, m := range res.Models {
			reqs += m.Arrived
		}
	}
	cpu.report(b, reqs)
	b.ReportMetric(float64(reqs)/b.Elapsed().Seconds(), "requests/s")
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
