package sim

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// threeModels serves three models on disjoint nodes (one of them on two
// nodes, one closed-loop with priorities) and an idle node: three parts.
const threeModels = `
name = "three"
seed = 5
duration_s = 120
warmup_s = 10
router = "power-of-two"

[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 9.0
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 900.0
stddev = 700.0
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 150.0
stddev = 120.0

[models.qwen3-14b.workload.arrival]
process = "closed"
concurrency = 24
think_s = 0.5
[models.qwen3-14b.workload.input]
dist = "lognormal"
mean = 700.0
stddev = 300.0
[models.qwen3-14b.workload.output]
dist = "lognormal"
mean = 120.0
stddev = 60.0
[[models.qwen3-14b.workload.classes]]
name = "hi"
priority = 0
share = 0.5
[[models.qwen3-14b.workload.classes]]
name = "lo"
priority = 1
share = 0.5

[models.qwen3-32b.workload.arrival]
process = "gamma"
rate = 2.0
cv = 2.0
[models.qwen3-32b.workload.input]
dist = "lognormal"
mean = 2000.0
stddev = 1500.0
[models.qwen3-32b.workload.output]
dist = "lognormal"
mean = 200.0
stddev = 150.0

[[nodes]]
name = "a"
hardware = "h100-sxm"
engine = "vllm"
count = 2
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"

[[nodes]]
name = "b"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-14b"
  quant = "bf16"

[[nodes]]
name = "c"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-32b"
  quant = "fp8"
`

// twins is two models alike but for their names, with constant lengths
// and closed loops started at once: their parts' events tie at every
// instant, which no key can order, so the split falls back to serial.
const twins = `
name = "twins"
seed = 3
duration_s = 30
router = "round-robin"

[models.a]
model = "qwen3-8b"
[models.a.workload.arrival]
process = "closed"
concurrency = 4
[models.a.workload.input]
dist = "fixed"
value = 256
[models.a.workload.output]
dist = "fixed"
value = 32

[models.b]
model = "qwen3-8b"
[models.b.workload.arrival]
process = "closed"
concurrency = 4
[models.b.workload.input]
dist = "fixed"
value = 256
[models.b.workload.output]
dist = "fixed"
value = 32

[[nodes]]
name = "na"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "a"
  quant = "bf16"

[[nodes]]
name = "nb"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "b"
  quant = "bf16"
`

// hotSparksApart is the seed pair on two Sparks in a hot room: both
// throttle, so the governors' loop ticks in both parts.
const hotSparksApart = `
name = "hot-sparks"
seed = 3
duration_s = 1200
warmup_s = 60
series_resolution_s = 10
[site]
ambient_c = 35
[models.qwen3-8b.workload]
arrival = { process = "poisson", rate = 0.4 }
input = { dist = "lognormal", mean = 1024.0, stddev = 768.0, min = 16, max = 8192 }
output = { dist = "lognormal", mean = 256.0, stddev = 192.0, min = 8, max = 2048 }
[models.qwen3-14b.workload]
arrival = { process = "poisson", rate = 0.2 }
input = { dist = "lognormal", mean = 1024.0, stddev = 768.0, min = 16, max = 8192 }
output = { dist = "lognormal", mean = 256.0, stddev = 192.0, min = 8, max = 2048 }
[[nodes]]
name = "spark-8b"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
thermal_resistance_c_per_w = 0.7
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "q4_k_m"
  max_seqs = 4
[[nodes]]
name = "spark-14b"
hardware = "dgx-spark"
engine = "llama.cpp"
count = 1
thermal_resistance_c_per_w = 0.7
  [[nodes.instances]]
  model = "qwen3-14b"
  quant = "q4_k_m"
  max_seqs = 4
`

// outputs is everything a run shows: the JSON result, the series, every
// record and every snapshot.
func outputs(t *testing.T, sc *scenario.Scenario, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	opt.OnRequest = func(r RequestRecord) { fmt.Fprintf(&buf, "r %v\n", r) }
	opt.SnapshotEvery = sc.Duration / 7
	opt.OnSnapshot = func(s Snapshot) { fmt.Fprintf(&buf, "s %v\n", s) }
	res, err := Run(context.Background(), sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jsonfmt.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	buf.Write(js)
	fmt.Fprintf(&buf, "\n%v\n", res.Series)
	return buf.Bytes()
}

// TestSplitMatchesSerial runs scenarios split and serially, at GOMAXPROCS
// 1 and 2, and wants every output byte-identical and the split to have
// happened (or fallen back) as expected.
func TestSplitMatchesSerial(t *testing.T) {
	short := func(sc *scenario.Scenario) *scenario.Scenario {
		sc.Duration, sc.Warmup = 240*engine.Second, 30*engine.Second
		return sc
	}
	cases := []struct {
		name   string
		sc     *scenario.Scenario
		parts  int
		serial string
	}{
		{"three models", parse(t, threeModels), 3, ""},
		{"three models, two workers", parse(t, threeModels), 2, ""},
		{"fleet-h100, 4 minutes", short(load(t, "../scenarios/fleet-h100.toml")), 2, ""},
		{"bench/equiv/split-mixed", load(t, "../bench/equiv/split-mixed.toml"), 3, ""},
		{"seed-separate: Sparks warm up", load(t, "../scenarios/seed-separate.toml"), 2, ""},
		{"hot Sparks apart: thermal throttling", parse(t, hotSparksApart), 2, ""},
		{"three models, one capped", parse(t, strings.Replace(threeModels, `name = "c"`, `name = "c"
power_cap_w = 350`, 1)), 3, "governed"},
		{"twins tie", parse(t, twins), 2, "tie"},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := outputs(t, c.sc, Options{Workers: 1})
			workers := c.parts
			if c.name == "three models" {
				workers = 8 // more workers than parts
			}
			for _, procs := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(min(procs, 2))
				if procs == 3 { // batches of 5 items: every boundary crossed
					defer func(n int) { itemBatch = n }(itemBatch)
					itemBatch = 5
				}
				parts, serial := 0, "none"
				got := outputs(t, c.sc, Options{Workers: workers, onSplit: func(p int, s string) { parts, serial = p, s }})
				if parts != c.parts || serial != c.serial {
					t.Errorf("GOMAXPROCS %d: split into %d parts, serial %q; want %d, %q", procs, parts, serial, c.parts, c.serial)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("GOMAXPROCS %d: split run differs from serial at byte %d", procs, firstDiff(got, want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestHotSparksThrottle makes sure the split test above exercises the
// governors: both Sparks throttle.
func TestHotSparksThrottle(t *testing.T) {
	res := run(t, parse(t, hotSparksApart), Options{Workers: 1})
	for _, d := range res.Devices {
		if d.ThermalS <= 0 {
			t.Errorf("%s: no thermal throttling", d.Node)
		}
	}
}

// TestSplitParts checks which scenarios split and how.
func TestSplitParts(t *testing.T) {
	seedColocated := load(t, "../scenarios/seed-colocated.toml")
	cases := []struct {
		name string
		sc   *scenario.Scenario
		opt  Options
		want [][]int // each part's models
	}{
		{"three models", parse(t, threeModels), Options{Workers: 4}, [][]int{{0}, {1}, {2}}},
		{"packed in two", parse(t, threeModels), Options{Workers: 2}, [][]int{{0, 1}, {2}}},
		{"one worker", parse(t, threeModels), Options{Workers: 1}, nil},
		{"paced", parse(t, threeModels), Options{Workers: 4, Pacer: pacerFunc(nil)}, nil},
		{"co-located models", seedColocated, Options{Workers: 2}, nil},
		{"autoscaled", load(t, "../scenarios/autoscale-day.toml"), Options{Workers: 2}, nil},
	}
	for _, c := range cases {
		var got [][]int
		for _, p := range splitParts(c.sc, c.opt) {
			got = append(got, p.models)
		}
		if !slices.EqualFunc(got, c.want, slices.Equal) {
			t.Errorf("%s: parts %v, want %v", c.name, got, c.want)
		}
	}
	// Models sort by name (qwen3-14b, qwen3-32b, qwen3-8b); nodes stay in
	// the file's order.
	ps := splitParts(parse(t, threeModels), Options{Workers: 4})
	if len(ps) != 3 || !slices.Equal(ps[0].nodes, []int{2}) || !slices.Equal(ps[2].nodes, []int{0, 1}) {
		t.Errorf("nodes of the parts: %v", ps)
	}
}

type pacerFunc func(context.Context, engine.Time) error

func (f pacerFunc) Wait(ctx context.Context, now engine.Time) error { return nil }

// TestOrderKeys checks the serial order of two events of different parts
// at one instant.
func TestOrderKeys(t *testing.T) {
	k := func(root int64, trunc bool, par ...engine.Time) evKey {
		e := evKey{root: root, n: uint8(len(par)), trunc: trunc}
		copy(e.par[:], par)
		return e
	}
	cases := []struct {
		name string
		a, b evKey
		want int
		ok   bool
	}{
		{"earlier parent", k(0, false, 5), k(1, false, 7), -1, true},
		{"later parent", k(0, false, 9), k(1, false, 7), 1, true},
		{"earlier grandparent", k(0, false, 7, 3), k(1, false, 7, 4), -1, true},
		{"root before child", k(3, false), k(1, false, 0), -1, true},
		{"start order", k(1<<32, false, 0), k(0, false, 0), 1, true},
		{"whole chain before a cut one", k(0, false, 4, 3, 2), k(1, true, 4, 3, 2), -1, true},
		{"two cut chains tie", k(0, true, 4, 3, 2), k(1, true, 4, 3, 2), 0, false},
		{"same root", k(0, false, 4), k(0, false, 4), 0, false},
	}
	for _, c := range cases {
		got, ok := orderKeys(c.a, c.b)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
		if back, _ := orderKeys(c.b, c.a); back != -c.want {
			t.Errorf("%s: reversed %d", c.name, back)
		}
	}
	var full, cut []engine.Time
	for i := range keyDepth {
		full = append(full, engine.Time(100-i))
	}
	cut = append([]engine.Time{200}, full[:keyDepth-1]...)
	if got := childKey(k(9, false, full...), 200); got != k(9, true, cut...) {
		t.Errorf("childKey of a full chain: %+v", got)
	}
	if got := childKey(k(9, false, 4), 6); got != k(9, false, 6, 4) {
		t.Errorf("childKey: %+v", got)
	}
}

// TestSplitOrdersTies has two parts finish a request at the same instant,
// the later model first: its arrival was scheduled earlier (its previous
// arrival came first). The split run must order the two records as the
// serial run does, by the keys, without falling back.
func TestSplitOrdersTies(t *testing.T) {
	sc := parse(t, twins)
	for i, at := range [][]float64{{1.5, 2, 4}, {1, 2, 4.5}} {
		m := &sc.Models[i]
		m.Workload.Arrival.Process = workload.Trace
		m.Trace = nil
		for _, s := range at {
			m.Trace = append(m.Trace, workload.TraceRecord{ArrivalS: s, InputTokens: 256, OutputTokens: 32})
		}
	}
	var recs []RequestRecord
	opt := Options{Workers: 1, OnRequest: func(r RequestRecord) { recs = append(recs, r) }}
	run(t, sc, opt)
	var tied []string
	for i := 1; i < len(recs); i++ {
		if recs[i].ArrivalS == 2 && recs[i-1].ArrivalS == 2 && recs[i].E2ES == recs[i-1].E2ES {
			tied = append(tied, recs[i-1].Model, recs[i].Model)
		}
	}
	if !slices.Equal(tied, []string{"b", "a"}) {
		t.Fatalf("serial records finishing together: %v, want b then a", tied)
	}
	want := outputs(t, sc, Options{Workers: 1})
	serial := "none"
	got := outputs(t, sc, Options{Workers: 2, onSplit: func(_ int, s string) { serial = s }})
	if serial != "" {
		t.Errorf("split run fell back: %q", serial)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("split run differs from serial at byte %d", firstDiff(got, want))
	}
}

// TestSplitCancelled wants a cancelled split run to stop, with a partial
// result and the context's error, as a serial one does.
func TestSplitCancelled(t *testing.T) {
	sc := load(t, "../scenarios/fleet-h100.toml")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	parts := 0
	res, err := Run(ctx, sc, Options{Workers: 2, SnapshotEvery: sc.Duration, onSplit: func(p int, _ string) { parts = p }})
	if err != context.Canceled || res == nil || !res.Partial || parts != 2 {
		t.Fatalf("cancelled split run: err %v, result %v, parts %d", err, res != nil, parts)
	}
	if res.Events > cancelCheckEvery {
		t.Errorf("cancelled split run handled %d events, want at most %d", res.Events, cancelCheckEvery)
	}
}
