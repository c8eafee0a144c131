package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/scenario"
)

// Issue 11: a run checked its context only between snapshot windows, so a
// window holding millions of events (or one wedged inside them) ignored
// Ctrl-C and the dashboard's Stop. It now stops within cancelCheckEvery
// events of the cancellation.
func TestCancelInsideOneWindow(t *testing.T) {
	sc := load(t, "../scenarios/fleet-h100.toml")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// One snapshot window for the whole run: before the fix the whole
	// run (over 10⁵ events) ran before the context was looked at.
	res, err := Run(ctx, sc, Options{SnapshotEvery: sc.Duration})
	if err == nil || res == nil || !res.Partial {
		t.Fatalf("cancelled run: err %v, partial %v; want the context error and a partial result", err, res != nil && res.Partial)
	}
	full := run(t, sc, Options{SnapshotEvery: sc.Duration})
	if full.Events <= 2*cancelCheckEvery {
		t.Fatalf("the full run has only %d events: too few to tell", full.Events)
	}
	if res.Events > cancelCheckEvery {
		t.Errorf("cancelled run handled %d events, want at most %d (of %d in the full run)", res.Events, cancelCheckEvery, full.Events)
	}
}

// FuzzSimulate builds a scenario from fuzzed TOML and, when it resolves,
// runs it under a one-second budget: no accepted scenario may panic, hang
// past its cancellation or break the result's invariants. Seeds hold the
// shapes that once crashed or wedged the simulator (issue 11).
func FuzzSimulate(f *testing.F) {
	const small = `name = "f"
seed = 1
duration_s = 60
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 2.0
[models.qwen3-8b.workload.input]
dist = "uniform"
min = 1
max = 4096
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64
[[nodes]]
name = "n"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  max_seqs = 4
`
	f.Add([]byte(small))
	for _, r := range [][2]string{
		{"max = 4096", "max = 4294967300"},
		{"duration_s = 60", "duration_s = inf"},
		{"duration_s = 60", "duration_s = 1e12"},
		{"duration_s = 60", "duration_s = 60\nseries_resolution_s = 1e-9"},
		{"count = 1", "count = 100000"},
		{"rate = 2.0", "rate = 1e9"},
		{"rate = 2.0", "rate = nan"},
		{"value = 64", "value = 1048576"},
		{"max_seqs = 4", "max_seqs = 65536\n  block_tokens = 4096"},
		{`process = "poisson"`, "process = \"closed\"\nconcurrency = 1000000\nthink_s = 0.0"},
	} {
		f.Add([]byte(strings.Replace(small, r[0], r[1], 1)))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sc, err := scenario.Parse("fuzz.toml", src, cat, profiles, nil)
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		res, err := Run(ctx, sc, Options{})
		if err != nil && ctx.Err() == nil {
			return // a scenario the simulator refuses (say, nothing fits) is fine
		}
		// The budget is 1 s; 10 s more allows for building the fleet and a
		// busy machine, and still catches a run that ignores cancellation.
		if d := time.Since(start); d > 11*time.Second {
			t.Fatalf("Run took %v with a 1 s budget", d)
		}
		if res == nil {
			t.Fatal("no result")
		}
		checkInvariants(t, "fuzz", res)
	})
}
