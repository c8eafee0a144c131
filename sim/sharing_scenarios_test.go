package sim

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// pairOnSpark is an interactive model (Qwen3-4B chat: Poisson arrivals,
// short prompts) and a batch model (Qwen3-8B: 16 closed-loop clients with
// long prompts) on one DGX Spark under vLLM, with the node's sharing and
// each instance's extra fields.
func pairOnSpark(sharing, chatExtra, batchExtra string) string {
	return fmt.Sprintf(`
name = "pair"
seed = 11
duration_s = 1800
warmup_s = 120
[models.qwen3-4b.workload.arrival]
process = "poisson"
rate = 1.0
[models.qwen3-4b.workload.input]
dist = "lognormal"
mean = 512.0
stddev = 256.0
max = 4096
[models.qwen3-4b.workload.output]
dist = "lognormal"
mean = 128.0
stddev = 64.0
max = 1024
[models.qwen3-8b.workload.arrival]
process = "closed"
concurrency = 16
think_s = 0.5
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 4096.0
stddev = 1024.0
max = 16384
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 256.0
stddev = 128.0
max = 2048
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "vllm"
count = 1
sharing = %q
  [[nodes.instances]]
  model = "qwen3-4b"
  quant = "fp8"
  memory_fraction = 0.3
%s
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
  memory_fraction = 0.5
%s`, sharing, chatExtra, batchExtra)
}

// byName returns the result of model name.
func byName(t *testing.T, res *Result, name string) ModelResult {
	t.Helper()
	for _, m := range res.Models {
		if m.Model == name {
			return m
		}
	}
	t.Fatalf("no model %s in the result", name)
	return ModelResult{}
}

// TestPriorityProtectsInteractiveModel is issue 14's acceptance test: an
// interactive model and a batch model time-sliced on one DGX Spark. With
// the interactive one more urgent, the time-slice scheduler runs it first:
// its TTFT p95 improves, and the batch model, which gets the GPU time
// left, waits longer.
func TestPriorityProtectsInteractiveModel(t *testing.T) {
	even := run(t, parse(t, pairOnSpark("time-slice", "", "")), Options{})
	ranked := run(t, parse(t, pairOnSpark("time-slice", "", "  priority = 1\n")), Options{})
	checkInvariants(t, "even", even)
	checkInvariants(t, "ranked", ranked)
	chat0, chat1 := byName(t, even, "qwen3-4b"), byName(t, ranked, "qwen3-4b")
	batch0, batch1 := byName(t, even, "qwen3-8b"), byName(t, ranked, "qwen3-8b")
	t.Logf("interactive TTFT p95 %.3f s -> %.3f s, TPOT p50 %.4f -> %.4f s; batch TTFT p95 %.3f s -> %.3f s, completed %d -> %d",
		chat0.TTFT.P95, chat1.TTFT.P95, chat0.TPOT.P50, chat1.TPOT.P50, batch0.TTFT.P95, batch1.TTFT.P95, batch0.Completed, batch1.Completed)
	if chat0.Completed < 1000 || batch0.Completed < 100 {
		t.Fatalf("completed %d interactive, %d batch: the test needs traffic", chat0.Completed, batch0.Completed)
	}
	if !(chat1.TTFT.P95 < 0.8*chat0.TTFT.P95) {
		t.Errorf("interactive TTFT p95 %.3f s with priority, %.3f s without: want at least 20%% better", chat1.TTFT.P95, chat0.TTFT.P95)
	}
	if !(chat1.TPOT.P50 < chat0.TPOT.P50) {
		t.Errorf("interactive TPOT p50 %.4f s with priority, %.4f s without: want better", chat1.TPOT.P50, chat0.TPOT.P50)
	}
	if !(batch1.TTFT.P95 > batch0.TTFT.P95) {
		t.Errorf("batch TTFT p95 %.3f s with priority, %.3f s without: want worse", batch1.TTFT.P95, batch0.TTFT.P95)
	}
}

// TestTimeSliceSlowerThanMPSOnSpark: the pair's decode-heavy traffic runs
// slower time-sliced than under MPS, where one model's compute overlaps
// the other's memory traffic and kernels run at once; and MPS with a
// contention coefficient below 1 is faster still.
func TestTimeSliceSlowerThanMPSOnSpark(t *testing.T) {
	ts := run(t, parse(t, pairOnSpark("time-slice", "", "")), Options{})
	mps := run(t, parse(t, pairOnSpark("mps", "", "")), Options{})
	sc := parse(t, pairOnSpark("mps", "", ""))
	sc.Nodes[0].Profile.Sharing = &perf.Sharing{TimeSliceS: 0.002, SwitchS: 50e-6, MPSMemoryContention: 1.0 / 3, MPSComputeContention: 1}
	fitted := run(t, sc, Options{})
	for _, name := range []string{"qwen3-4b", "qwen3-8b"} {
		a, b, c := byName(t, ts, name).TPOT.P50, byName(t, mps, name).TPOT.P50, byName(t, fitted, name).TPOT.P50
		t.Logf("%s TPOT p50: time-slice %.4f s, mps %.4f s, mps κ=1/3 %.4f s", name, a, b, c)
		if !(c < b && b < a) {
			t.Errorf("%s TPOT p50: want mps κ=1/3 %.4f < mps %.4f < time-slice %.4f", name, c, b, a)
		}
	}
}

// migCatalog is the built-in catalog with the H100's MIG partitions as
// nvidia-smi mig -lgip lists them (set here, so the test does not depend
// on the catalog's own MIG rows).
func migCatalog() *catalog.Catalog {
	c := catalog.Default()
	h := c.Hardware["h100-sxm"]
	h.MIGComputeSlices, h.MIGMemorySlices = 7, 8
	h.MIG = []catalog.MIGProfile{
		{Name: "1g.10gb", ComputeSlices: 1, MemorySlices: 1, SMs: 16, MemoryGiB: 9.75, MaxCount: 7},
		{Name: "3g.40gb", ComputeSlices: 3, MemorySlices: 4, SMs: 60, MemoryGiB: 39.5, MaxCount: 2},
		{Name: "7g.80gb", ComputeSlices: 7, MemorySlices: 8, SMs: 132, MemoryGiB: 79.25, MaxCount: 1},
	}
	c.Hardware["h100-sxm"] = h
	return c
}

// migPair is Qwen3-8B and Qwen3-4B on an H100, each on a 3g.40gb partition
// under MIG (or sharing the whole device under another sharing), the 4B
// model offered rate4b requests per second.
func migPair(sharing string, rate4b float64) string {
	mig := func(p string) string {
		if sharing != "mig" {
			return ""
		}
		return fmt.Sprintf("  mig = %q\n", p)
	}
	return fmt.Sprintf(`
name = "mig"
seed = 3
duration_s = 600
warmup_s = 60
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 4.0
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 512.0
max = 8192
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 200.0
stddev = 100.0
max = 2048
[models.qwen3-4b.workload.arrival]
process = "poisson"
rate = %g
[models.qwen3-4b.workload.input]
dist = "lognormal"
mean = 2048.0
stddev = 512.0
max = 8192
[models.qwen3-4b.workload.output]
dist = "lognormal"
mean = 300.0
stddev = 100.0
max = 2048
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
sharing = %q
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
  max_seqs = 64
  max_batched_tokens = 4096
  block_tokens = 16
%s
  [[nodes.instances]]
  model = "qwen3-4b"
  quant = "fp8"
  max_seqs = 64
  max_batched_tokens = 4096
  block_tokens = 16
%s`, rate4b, sharing, mig("3g.40gb"), mig("3g.40gb"))
}

// modelRecords keeps the records of one model.
func modelRecords(recs []RequestRecord, model string) []RequestRecord {
	var out []RequestRecord
	for _, r := range recs {
		if r.Model == model {
			out = append(out, r)
		}
	}
	return out
}

// TestMIGPartitionsDoNotInteract: two instances on MIG partitions of one
// H100 never slow each other: quadrupling one model's load leaves every
// request of the other exactly as it was. Shared the time-slice way, the
// same change slows the other model. (The clock stays full: a hotter
// device would throttle both partitions, which is not contention.)
func TestMIGPartitionsDoNotInteract(t *testing.T) {
	cat := migCatalog()
	parseMIG := func(src string) *scenario.Scenario {
		sc, err := scenario.Parse("mig.toml", []byte(src), cat, profiles, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	opt := Options{Unthrottled: true}
	for _, c := range []struct {
		sharing  string
		interact bool
	}{{"mig", false}, {"time-slice", true}, {"mps", true}} {
		_, light := records(t, parseMIG(migPair(c.sharing, 1)), opt)
		_, heavy := records(t, parseMIG(migPair(c.sharing, 4)), opt)
		a, b := modelRecords(light, "qwen3-8b"), modelRecords(heavy, "qwen3-8b")
		if len(a) < 1000 {
			t.Fatalf("%s: %d requests of the 8B model: the test needs traffic", c.sharing, len(a))
		}
		same := fmt.Sprint(a) == fmt.Sprint(b)
		if same == c.interact {
			t.Errorf("%s: the 8B model's requests are the same under its neighbour's light and heavy load: %v, want %v", c.sharing, same, !c.interact)
		}
	}
}

// TestMIGLoneIsThePartition: a lone instance on a MIG partition runs as a
// single instance on a device that is the partition (its SMs' share of the
// peaks, its memory slices' bandwidth, its memory).
func TestMIGLoneIsThePartition(t *testing.T) {
	cat := migCatalog()
	h := cat.Hardware["h100-sxm"]
	p, err := h.MIGProfileNamed("3g.40gb")
	if err != nil {
		t.Fatal(err)
	}
	part := h.Partition(p)
	part.Name = "h100-3g"
	cat.Hardware[part.Name] = part
	set := perf.ProfileSet{}
	for k, v := range profiles {
		set[k] = v
	}
	prof, err := profiles.Get("h100-sxm", "vllm")
	if err != nil {
		t.Fatal(err)
	}
	prof.Hardware = part.Name
	set.Add(prof)
	one := func(hardware, extra string) string {
		return fmt.Sprintf(`
name = "lone-mig"
seed = 9
duration_s = 600
warmup_s = 60
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 3.0
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 1024.0
stddev = 512.0
max = 8192
[models.qwen3-8b.workload.output]
dist = "lognormal"
mean = 200.0
stddev = 100.0
max = 2048
[[nodes]]
name = "n"
hardware = %q
engine = "vllm"
count = 1
%s
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
  max_seqs = 64
  max_batched_tokens = 4096
  block_tokens = 16
  chunked_prefill = true
%s`, hardware, map[bool]string{true: "sharing = \"mig\"", false: ""}[extra != ""], extra)
	}
	parseWith := func(src string) *scenario.Scenario {
		sc, err := scenario.Parse("m.toml", []byte(src), cat, set, nil)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	opt := Options{Unthrottled: true}
	_, onMIG := records(t, parseWith(one("h100-sxm", "  mig = \"3g.40gb\"\n")), opt)
	_, onPart := records(t, parseWith(one(part.Name, "")), opt)
	_, whole := records(t, parseWith(one("h100-sxm", "")), opt)
	if len(onMIG) < 1000 {
		t.Fatalf("%d requests: the test needs traffic", len(onMIG))
	}
	if fmt.Sprint(onMIG) != fmt.Sprint(onPart) {
		t.Error("a lone instance on MIG 3g.40gb differs from one on a device that is the partition")
	}
	if fmt.Sprint(onMIG) == fmt.Sprint(whole) {
		t.Error("a lone instance on MIG 3g.40gb runs as on the whole H100: the partition's hardware is not used")
	}
}

// TestSharingDeterministic: every sharing gives byte-identical results
// run after run and on any number of cores (one run is one goroutine;
// RunReplicas runs replicas in parallel and returns them in order).
func TestSharingDeterministic(t *testing.T) {
	srcs := map[string]string{
		"time-slice":  pairOnSpark("time-slice", "", "  priority = 1\n"),
		"mps":         pairOnSpark("mps", "  mps_active_thread_pct = 40\n", "  priority = 1\n"),
		"one-process": twoOnOneProcess("  priority = 1\n"),
	}
	for name, src := range srcs {
		sc := parse(t, src)
		sc.Duration /= 3
		var first []byte
		for _, procs := range []int{1, 2, 8} {
			prev := runtime.GOMAXPROCS(procs)
			reps, err := RunReplicas(t.Context(), sc, 3, 3, Options{}, nil)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				t.Fatal(err)
			}
			js, err := jsonfmt.Marshal(reps)
			if err != nil {
				t.Fatal(err)
			}
			if first == nil {
				first = js
			} else if !bytes.Equal(js, first) {
				t.Errorf("%s: replicas at GOMAXPROCS=%d differ from GOMAXPROCS=1", name, procs)
			}
		}
	}
}
