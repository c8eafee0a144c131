package sim

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
)

// The priors' switch share: 50 µs per 2 ms slice.
const sigma = 0.025

// TestSlowdowns holds each sharing rule to numbers derived by hand from
// its formula (sharing.go) on hand-built demands.
func TestSlowdowns(t *testing.T) {
	inf := math.Inf(1)
	ts := sharer{mode: scenario.TimeSlice, sigma: sigma, kappa: 1, kappaC: 1, units: 1}
	mps := sharer{mode: scenario.MPS, sigma: sigma, kappa: 1, kappaC: 1, units: 1}
	one := sharer{mode: scenario.OneProcess, sigma: sigma, kappa: 1, kappaC: 1, units: 1}
	mig := sharer{mode: scenario.MIG, sigma: sigma, kappa: 1, kappaC: 1, units: 1, interference: 0.5}
	with := func(sh sharer, f func(*sharer)) sharer { f(&sh); return sh }
	// dec is a decode-heavy segment: memory-bound, 10% CPU-side overhead.
	dec := demand{c: 0.1, m: 0.9, g: 0.9, step: 0.02, share: 1}
	d := func(c, m, g float64, prio int) demand {
		return demand{c: c, m: m, g: g, step: 0.02, share: 1, prio: prio}
	}
	for _, tt := range []struct {
		name string
		sh   sharer
		ds   []demand
		want []float64
	}{
		// Alone, every rule is the single-instance model (but an MPS cap).
		{"time-slice alone", ts, []demand{dec}, []float64{1}},
		{"one-process alone", one, []demand{dec}, []float64{1}},
		{"mps alone", mps, []demand{dec}, []float64{1}},
		// c / share = 0.8 / 0.5.
		{"mps alone above its SM cap", mps, []demand{{c: 0.8, m: 0.1, g: 0.9, share: 0.5}}, []float64{1.6}},
		// 0.3 / 0.5 < 1: the cap does not bind.
		{"mps alone within its SM cap", mps, []demand{{c: 0.3, m: 0.6, g: 0.9, share: 0.5}}, []float64{1}},

		// Time-slice, one level: D = 1.025 × (0.9 + 0.9) = 1.845 > 1, so
		// both run at D; alone each would pay only 1 + σ g = 1.0225.
		{"time-slice saturated", ts, []demand{dec, dec}, []float64{1.845, 1.845}},
		// D = 1.025 × 0.5 = 0.5125 fits: each pays its switches, 1 + σ g.
		{"time-slice light", ts, []demand{d(0.1, 0.3, 0.3, 0), d(0.1, 0.2, 0.2, 0)}, []float64{1.0075, 1.005}},
		// The urgent runs at 1 + 0.025 × 0.6 = 1.015 and uses 0.615/1.015
		// of the GPU; the rest, 0.4/1.015, serves the batch's D = 0.82:
		// 0.82 × 1.015 / 0.4 = 2.08075.
		{"time-slice priority", ts, []demand{d(0.1, 0.5, 0.6, 0), d(0.1, 0.7, 0.8, 1)}, []float64{1.015, 2.08075}},
		// An urgent segment on the GPU all the time (g = 1) leaves nothing:
		// the other starves, whatever order they started in.
		{"time-slice starved", ts, []demand{d(0.1, 0.7, 0.8, 1), d(0.1, 0.9, 1, 0)}, []float64{inf, 1.025}},
		// A segment that needs no GPU time is not slowed.
		{"time-slice no GPU time", ts, []demand{d(0, 0, 0, 1), d(0.1, 0.9, 1, 0)}, []float64{1, 1.025}},
		// Interference counts the segments that run: 1.845 + 0.1.
		{"time-slice interference", with(ts, func(s *sharer) { s.interference = 0.1 }), []demand{dec, dec}, []float64{1.945, 1.945}},
		{"time-slice interference skips the starved", with(ts, func(s *sharer) { s.interference = 0.1 }),
			[]demand{d(0.1, 0.9, 1, 0), d(0.1, 0.7, 0.8, 1)}, []float64{1.025, inf}},

		// MPS, today's rule: Σ m = 1.8.
		{"mps additive", mps, []demand{dec, dec}, []float64{1.8, 1.8}},
		// κ = 1/3: 0.9 + (0.9)/3 = 1.2, about the published +19.5% TPOT.
		{"mps contention", with(mps, func(s *sharer) { s.kappa = 1.0 / 3 }), []demand{dec, dec}, []float64{1.2, 1.2}},
		// Two prefills: Σ c = 1.6; with κ_c = 0.5, 0.8 + 0.4 = 1.2.
		{"mps compute additive", mps, []demand{d(0.8, 0.1, 0.9, 0), d(0.8, 0.1, 0.9, 0)}, []float64{1.6, 1.6}},
		{"mps compute contention", with(mps, func(s *sharer) { s.kappaC = 0.5 }), []demand{d(0.8, 0.1, 0.9, 0), d(0.8, 0.1, 0.9, 0)}, []float64{1.2, 1.2}},
		// Priority with κ_c = 0.5: the urgent prefill (1) leaves 1 − 0.4
		// of the compute; the batch's 0.8 runs at 0.8 / 0.6.
		{"mps compute contention priority", with(mps, func(s *sharer) { s.kappaC = 0.5 }), []demand{d(0.8, 0.1, 0.9, 0), d(0.8, 0.1, 0.9, 1)}, []float64{1, 0.8 / 0.6}},
		// Σ c = 0.9 and Σ m = 0.6 fit (s = 1), but the capped one runs
		// at 0.8 / 0.5.
		{"mps SM cap", mps, []demand{{c: 0.8, m: 0.1, g: 0.9, share: 0.5}, {c: 0.1, m: 0.5, g: 0.6, share: 1}}, []float64{1.6, 1}},
		// The urgent runs alone (1); it uses compute 0.3 and bandwidth
		// 0.6, leaving 0.7 and 0.4: the batch runs at max(0.2/0.7,
		// 0.6/0.4) = 1.5.
		{"mps priority", mps, []demand{d(0.3, 0.6, 0.9, 0), d(0.2, 0.6, 0.8, 1)}, []float64{1, 1.5}},
		// With κ = 0.5 only half the urgent stream counts: 0.6 / (1 −
		// 0.3) < 1.
		{"mps priority with contention", with(mps, func(s *sharer) { s.kappa = 0.5 }), []demand{d(0.3, 0.6, 0.9, 0), d(0.2, 0.6, 0.8, 1)}, []float64{1, 1}},
		// The urgent takes every SM: the batch starves if it computes at
		// all, and runs on the bandwidth left (0.8) if it only reads.
		{"mps compute starved", mps, []demand{d(1, 0.2, 1, 0), d(0.2, 0.5, 0.7, 1)}, []float64{1, inf}},
		{"mps memory only", mps, []demand{d(1, 0.2, 1, 0), d(0, 0.5, 0.5, 1)}, []float64{1, 1}},
		// A host of 4 cores: compute max(1.8/4, 0.9) = 0.9, memory 0.6.
		{"mps cpu host", with(mps, func(s *sharer) { s.units = 4 }), []demand{d(0.9, 0.3, 1, 0), d(0.9, 0.3, 1, 0)}, []float64{1, 1}},
		{"mps cpu host memory", with(mps, func(s *sharer) { s.units = 4 }),
			[]demand{d(0.9, 0.5, 1, 0), d(0.9, 0.5, 1, 0), d(0.9, 0.5, 1, 0)}, []float64{1.5, 1.5, 1.5}},

		// One process: 1 + 0.05/0.02 and 1 + 0.02/0.05.
		{"one-process two", one, []demand{{step: 0.02, g: 1}, {step: 0.05, g: 1}}, []float64{3.5, 1.4}},
		// 1 + 2 + 4, 1 + 0.5 + 2, 1 + 0.25 + 0.5.
		{"one-process three", one, []demand{{step: 0.01}, {step: 0.02}, {step: 0.04}}, []float64{7, 3.5, 1.75}},
		{"one-process priority", one, []demand{{step: 0.02, prio: 1}, {step: 0.05}}, []float64{inf, 1}},
		{"one-process interference", with(one, func(s *sharer) { s.interference = 0.1 }), []demand{{step: 0.02}, {step: 0.05}}, []float64{3.6, 1.5}},

		// MIG: hard partitions, no interference either.
		{"mig", mig, []demand{dec, dec, d(1, 1, 1, 1)}, []float64{1, 1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make([]float64, len(tt.ds))
			tt.sh.slowdowns(tt.ds, got)
			for i := range got {
				if w := tt.want[i]; !(got[i] == w || math.Abs(got[i]-w) <= 1e-12*w) {
					t.Errorf("segment %d: slowdown %v, want %v", i, got[i], w)
				}
			}
		})
	}
}

// TestTimeSliceSlowerThanMPSForDecode: for memory-bound decode, with no
// serial overlap, a segment's GPU time is its memory time (g = m), so two
// instances time-sliced run at (1 + σ) Σ g and under MPS at Σ m (κ = 1):
// time-slicing costs exactly its switches more, and MPS's contention
// coefficient takes it further below.
func TestTimeSliceSlowerThanMPSForDecode(t *testing.T) {
	dec := demand{c: 0.05, m: 0.85, g: 0.85, step: 0.02, share: 1}
	ds := []demand{dec, dec}
	slow := func(sh sharer) float64 {
		out := make([]float64, 2)
		sh.slowdowns(ds, out)
		return out[0]
	}
	ts := slow(sharer{mode: scenario.TimeSlice, sigma: sigma, kappa: 1, kappaC: 1, units: 1})
	mps := slow(sharer{mode: scenario.MPS, sigma: sigma, kappa: 1, kappaC: 1, units: 1})
	fitted := slow(sharer{mode: scenario.MPS, sigma: sigma, kappa: 1.0 / 3, kappaC: 1, units: 1})
	if math.Abs(ts/mps-(1+sigma)) > 1e-12 {
		t.Errorf("time-slice %v / mps %v = %v, want 1 + σ = %v", ts, mps, ts/mps, 1+sigma)
	}
	if !(fitted < mps && mps < ts) {
		t.Errorf("want mps κ=1/3 (%v) < mps κ=1 (%v) < time-slice (%v)", fitted, mps, ts)
	}
}

// loneSpark is a one-instance DGX Spark node under sharing (no field when
// empty) and extra instance fields.
func loneSpark(sharing, extra string) string {
	field := ""
	if sharing != "" {
		field = fmt.Sprintf("sharing = %q\n", sharing)
	}
	return `
name = "lone"
seed = 5
duration_s = 900
warmup_s = 60
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 0.5
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 768.0
max = 8192
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 200.0
stddev = 150.0
max = 2048
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
` + field + `
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  max_seqs = 4
` + extra
}

// records runs sc and returns its result's JSON and every request record.
func records(t *testing.T, sc *scenario.Scenario, opt Options) ([]byte, []RequestRecord) {
	t.Helper()
	var recs []RequestRecord
	opt.OnRequest = func(r RequestRecord) { recs = append(recs, r) }
	res := run(t, sc, opt)
	js, err := jsonfmt.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return js, recs
}

// TestLoneInstanceEverySharing: a node with one instance runs exactly as
// the single-instance model says under every sharing (under MPS with no SM
// cap): byte for byte the same result and records as with no sharing
// field, and an SM cap of 100% is no cap.
func TestLoneInstanceEverySharing(t *testing.T) {
	want, wantRecs := records(t, parse(t, loneSpark("", "")), Options{})
	if len(wantRecs) < 100 {
		t.Fatalf("only %d requests: the test needs traffic", len(wantRecs))
	}
	for _, c := range []struct{ sharing, extra string }{
		{"time-slice", ""}, {"mps", ""}, {"one-process", ""}, {"mps", "  mps_active_thread_pct = 100\n"},
		{"time-slice", "  priority = 3\n"},
	} {
		got, recs := records(t, parse(t, loneSpark(c.sharing, c.extra)), Options{})
		if !bytes.Equal(got, want) || fmt.Sprint(recs) != fmt.Sprint(wantRecs) {
			t.Errorf("sharing %q %s: a lone instance's run differs from the default's", c.sharing, strings.TrimSpace(c.extra))
		}
	}
	// The test can fail: a binding SM cap slows the lone instance.
	capped, _ := records(t, parse(t, loneSpark("mps", "  mps_active_thread_pct = 20\n")), Options{})
	if bytes.Equal(capped, want) {
		t.Error("a 20% SM cap left the lone instance's run unchanged")
	}
}

// twoOnOneProcess is the seed pair on one DGX Spark served by one
// llama.cpp process (one-process), the 14B instance with extra fields.
func twoOnOneProcess(extra string) string {
	return `
name = "one-process"
seed = 2
duration_s = 1800
warmup_s = 60
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 0.2
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 768.0
max = 8192
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 256.0
stddev = 192.0
max = 2048
[models.qwen3-14b.workload.arrival]
process = "poisson"
rate = 0.1
[models.qwen3-14b.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 768.0
max = 8192
[models.qwen3-14b.workload.output]
dist = "lognormal"
mean = 256.0
stddev = 192.0
max = 2048
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
sharing = "one-process"
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  max_seqs = 4
  [[nodes.instances]]
  model = "qwen3-14b"
  quant = "q4_k_m"
  max_seqs = 4
` + extra
}

// TestStarvedSegmentWaits: one llama.cpp process serves two models, one
// request each at t = 0, every step of model A costing 10 ms and of model
// B 20 ms (100 and 50 tokens: 1 s alone each). Strictly by priority, A runs
// as if alone (done at 1 s) while B is starved, with no end scheduled,
// until A stops; then B runs alone (done at 2 s). Without priority the
// steps alternate: A at 1/(1 + 20/10) of its speed, B at 1/(1 + 10/20),
// so B is done at 1.5 s, having left A 0.5 s of work to do alone: 2 s.
func TestStarvedSegmentWaits(t *testing.T) {
	src := func(prio string) string {
		return `
name = "starve"
seed = 1
duration_s = 100
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "closed"
concurrency = 1
think_s = 1000.0
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 1
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 100
[models.qwen3-4b.workload.arrival]
process = "closed"
concurrency = 1
think_s = 1000.0
[models.qwen3-4b.workload.input]
dist = "fixed"
value = 1
[models.qwen3-4b.workload.output]
dist = "fixed"
value = 50
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
sharing = "one-process"
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  [[nodes.instances]]
  model = "qwen3-4b"
  quant = "q4_k_m"
` + prio
	}
	taus := map[string]float64{"qwen3-8b": 0.01, "qwen3-4b": 0.02}
	for _, c := range []struct {
		name    string
		prio    string
		wantA   float64 // E2E of the 8B model's request, seconds
		wantB   float64
		starved bool // B has no end scheduled half a second in
	}{
		{"strict priority", "  priority = 1\n", 1, 2, true},
		{"round-robin", "", 2, 1.5, false},
	} {
		sc := parse(t, src(c.prio))
		sc.Nodes[0].Profile.Serving = nil // the steps alone: no scheduler time, no front end
		sc.Nodes[0].Profile.AdmissionLagS = 0
		models := sc.Models
		opt := Options{costFor: func(_ scenario.Node, ni scenario.NodeInstance) (StepCoster, error) {
			return fixedStep{taus[models[ni.Model].Name]}, nil
		}}
		var recs []RequestRecord
		var sm *simulator
		opt.OnRequest = func(r RequestRecord) { recs = append(recs, r) }
		opt.SnapshotEvery = engine.FromSeconds(0.5)
		looked := false
		opt.OnSnapshot = func(snap Snapshot) {
			if snap.NowS != 0.5 {
				return
			}
			looked = true
			if b := sm.insts[1]; !b.busy || (b.seg.end == engine.EventID{}) != c.starved || math.IsInf(b.seg.slowdown, 1) != c.starved {
				t.Errorf("%s: at 0.5 s B is busy %v, slowdown %v, end scheduled %v: want starved %v",
					c.name, b.busy, b.seg.slowdown, b.seg.end != engine.EventID{}, c.starved)
			}
		}
		sm, err := newSimulator(sc, opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sm.run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !looked {
			t.Fatalf("%s: no snapshot at 0.5 s", c.name)
		}
		e2e := map[string]float64{}
		for _, r := range recs {
			e2e[r.Model] = r.E2ES
		}
		if len(recs) != 2 || math.Abs(e2e["qwen3-8b"]-c.wantA) > 1e-6 || math.Abs(e2e["qwen3-4b"]-c.wantB) > 1e-6 {
			t.Errorf("%s: E2E %v over %d requests, want qwen3-8b %v s, qwen3-4b %v s", c.name, e2e, len(recs), c.wantA, c.wantB)
		}
	}
}
