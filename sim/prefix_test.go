package sim

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/scenario"
)

// systemPrompt is one vLLM instance of Qwen3-8B on an H100 whose requests
// (share of them) start with one of groups system prompts of prefix
// tokens before a 512-token input, with the cache on or off.
func systemPrompt(cache bool, rate float64, groups, prefix int, share float64) string {
	return fmt.Sprintf(`
name = "system-prompt"
seed = 11
duration_s = 300
warmup_s = 30
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %g
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64
[models.qwen3-8b.workload.prefix]
groups = %d
tokens = %d
share = %g
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
prefix_caching = %t
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
  max_seqs = 32
`, rate, groups, prefix, share, cache)
}

func hitRate(t *testing.T, m ModelResult) float64 {
	t.Helper()
	if m.PrefixCacheHitRate == nil {
		t.Fatalf("%s: no prefix_cache_hit_rate with the cache on", m.Model)
	}
	return *m.PrefixCacheHitRate
}

// TestSharedPrefixCache: a 4,096-token system prompt before every 512-token
// input. With the cache, a request prefills 512 tokens instead of 4,608:
// TTFT falls well below half, and the instance keeps up with a rate that
// overloads it without the cache (its capacity rises).
func TestSharedPrefixCache(t *testing.T) {
	for _, tt := range []struct {
		rate  float64
		check func(off, on ModelResult) string
	}{
		{2, func(off, on ModelResult) string {
			if !(on.TTFT.P50 < off.TTFT.P50/2 && on.TTFT.P95 < off.TTFT.P95/2) {
				return fmt.Sprintf("TTFT p50 %.4f p95 %.4f s with the cache, %.4f %.4f without: want under half", on.TTFT.P50, on.TTFT.P95, off.TTFT.P50, off.TTFT.P95)
			}
			return ""
		}},
		{10, func(off, on ModelResult) string {
			if !(on.RequestsPerS > 0.95*10 && off.RequestsPerS < 0.6*10) {
				return fmt.Sprintf("completed %.2f/s with the cache, %.2f/s without, of 10/s offered: want the cache to keep up and no cache not to", on.RequestsPerS, off.RequestsPerS)
			}
			return ""
		}},
	} {
		off := run(t, parse(t, systemPrompt(false, tt.rate, 1, 4096, 1)), Options{}).Models[0]
		on := run(t, parse(t, systemPrompt(true, tt.rate, 1, 4096, 1)), Options{}).Models[0]
		if off.PrefixCacheHitRate != nil {
			t.Errorf("rate %g: prefix_cache_hit_rate %v with the cache off; want it left out", tt.rate, *off.PrefixCacheHitRate)
		}
		if msg := tt.check(off, on); msg != "" {
			t.Errorf("rate %g: %s", tt.rate, msg)
		}
		t.Logf("rate %g: TTFT p50 %.4f -> %.4f s, completed %.2f -> %.2f /s, hit rate %.3f", tt.rate, off.TTFT.P50, on.TTFT.P50, off.RequestsPerS, on.RequestsPerS, hitRate(t, on))
	}
}

// TestHitRateAnalytic: one system prompt of P = 1024 tokens (64 blocks of
// 16) before a share s = 0.5 of the requests, each with its own I = 512
// input tokens, at a rate low enough that requests rarely overlap and a
// cache far larger than the prompt (nothing is evicted). Once the prompt
// is cached (during warm-up) every request that carries it hits exactly
// its P tokens (P < prompt - 1, and the block after P holds the request's
// own tokens), and no other block ever hits. So over the counted requests,
// K of N carrying the prompt,
//
//	hit rate = K·P / (N·I + K·P),
//
// which the records give exactly (their inputs are I or I+P), and which
// tends to s·P / (I + s·P) = 0.5 as K/N tends to s. A request arriving
// while another is still prefilling the prompt before its first completion
// would miss it; past warm-up none can, so the match is to the requests
// still in flight at the end, which the rate counts and the records lack.
func TestHitRateAnalytic(t *testing.T) {
	const P, I, s = 1024, 512, 0.5
	var k, n, tokens float64
	res := run(t, parse(t, systemPrompt(true, 1, 1, P, s)), Options{OnRequest: func(r RequestRecord) {
		if r.Rejected {
			return
		}
		n++
		tokens += float64(r.Input)
		switch r.Input {
		case I + P:
			k++
		case I:
		default:
			t.Fatalf("input %d; want %d or %d", r.Input, I, I+P)
		}
	}})
	got := hitRate(t, res.Models[0])
	// The rate counts admissions; requests admitted and still running at
	// the end have no record: each moves it by at most its prompt.
	slack := float64(res.Models[0].InFlight)*(I+P)/tokens + 1e-9
	if exact := k * P / tokens; math.Abs(got-exact) > slack {
		t.Errorf("hit rate %.6f; the records' K·P/Σinput = %.6f within %.6f (K %v of N %v)", got, exact, slack, k, n)
	}
	// K is binomial(N, s): the limit is within a few of its deviations.
	sd := math.Sqrt(s*(1-s)/n) * P * I / math.Pow(I+s*P, 2) // d(rate)/d(K/N) × sd(K/N)
	if limit := s * P / (I + s*P); math.Abs(got-limit) > 4*sd {
		t.Errorf("hit rate %.4f; want s·P/(I+s·P) = %.4f within 4 sd (%.4f)", got, limit, sd)
	}
	t.Logf("hit rate %.4f over %v requests (%v with the prompt)", got, n, k)
}

// fleetPrefix is four H100s serving traffic that starts with one of 32
// system prompts of 4,096 tokens; each cache holds about a dozen of them.
func fleetPrefix(router string, rate float64) string {
	return fmt.Sprintf(`
name = "fleet-prefix"
seed = 5
duration_s = 300
warmup_s = 60
router = %q
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %g
[models.qwen3-8b.workload.input]
dist = "lognormal"
mean = 300
stddev = 200
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 64
[models.qwen3-8b.workload.prefix]
groups = 32
tokens = 4096
share = 1
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 4
memory_fraction = 0.3
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
  max_seqs = 64
`, router, rate)
}

// TestPrefixAffinityBeatsRoundRobin: each instance's cache holds about a
// dozen of the 32 prompts. Round-robin sends every prompt everywhere, so
// each cache cycles through all 32 and hits about a third; prefix affinity
// keeps each prompt where it is cached, so each instance holds its eight
// or so and nearly every request hits: lower TTFT, and at 30/s it keeps
// up where round-robin falls behind.
func TestPrefixAffinityBeatsRoundRobin(t *testing.T) {
	for _, rate := range []float64{10, 30} {
		rr := run(t, parse(t, fleetPrefix("round-robin", rate)), Options{}).Models[0]
		pa := run(t, parse(t, fleetPrefix("prefix-affinity", rate)), Options{}).Models[0]
		hr, ha := hitRate(t, rr), hitRate(t, pa)
		if !(ha > hr+0.3) {
			t.Errorf("rate %g: hit rate %.3f with prefix affinity, %.3f round-robin: want it well above", rate, ha, hr)
		}
		if !(pa.TTFT.P50 < rr.TTFT.P50/2 && pa.TTFT.P95 < rr.TTFT.P95) {
			t.Errorf("rate %g: TTFT p50 %.4f p95 %.4f with affinity, %.4f %.4f round-robin", rate, pa.TTFT.P50, pa.TTFT.P95, rr.TTFT.P50, rr.TTFT.P95)
		}
		if rate == 30 && !(pa.RequestsPerS > 0.95*rate && rr.RequestsPerS < 0.8*rate) {
			t.Errorf("rate %g: completed %.2f/s with affinity, %.2f/s round-robin", rate, pa.RequestsPerS, rr.RequestsPerS)
		}
		t.Logf("rate %g: hit %.3f -> %.3f, TTFT p50 %.4f -> %.4f s, completed %.2f -> %.2f /s", rate, hr, ha, rr.TTFT.P50, pa.TTFT.P50, rr.RequestsPerS, pa.RequestsPerS)
	}
}

// pairPool is Qwen3-0.6B, whose requests start with one of 40 system
// prompts of 2,048 tokens, beside Qwen3-8B with 4,000-token prompts of its
// own at rateB, on one L40S with the cache on, under memory sharing memory.
func pairPool(memory string, rateB float64) string {
	frac := ""
	if memory == "static" {
		frac = "memory_fraction = 0.2"
	}
	return fmt.Sprintf(`
name = "pool"
seed = 4
duration_s = 400
warmup_s = 60
[models."qwen3-0.6b".workload.arrival]
process = "poisson"
rate = 4
[models."qwen3-0.6b".workload.input]
dist = "fixed"
value = 200
[models."qwen3-0.6b".workload.output]
dist = "fixed"
value = 50
[models."qwen3-0.6b".workload.prefix]
groups = 40
tokens = 2048
share = 1
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = %g
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 4000
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 200
[[nodes]]
name = "l40s"
hardware = "l40s"
engine = "vllm"
count = 1
memory = %q
memory_fraction = 0.45
prefix_caching = true
  [[nodes.instances]]
  model = "qwen3-0.6b"
  quant = "bf16"
  %s
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
`, rateB, memory, frac)
}

// TestDynamicPoolSharesTheCache: under dynamic memory the cached blocks
// live in the device's one pool, so Qwen3-0.6B caches more of its prompts
// while its neighbour idles than in its static share, and loses them to
// the neighbour's allocations as that one's load rises; in a static share
// the neighbour's load does not reach its cache.
func TestDynamicPoolSharesTheCache(t *testing.T) {
	hit := map[string][]float64{}
	for _, memory := range []string{"dynamic", "static"} {
		for _, rateB := range []float64{0.01, 1, 2} {
			res := run(t, parse(t, pairPool(memory, rateB)), Options{})
			h := hitRate(t, byName(t, res, "qwen3-0.6b"))
			hit[memory] = append(hit[memory], h)
			t.Logf("%s, Qwen3-8B at %g/s: Qwen3-0.6B hit rate %.3f", memory, rateB, h)
		}
	}
	d, s := hit["dynamic"], hit["static"]
	if !(d[0] > s[0]+0.1) {
		t.Errorf("alone on the pool the hit rate is %.3f, in a static share %.3f: want the pool to hold more", d[0], s[0])
	}
	if !(d[1] < d[0]-0.2 && d[2] < d[1]) {
		t.Errorf("dynamic hit rates %.3f: want them to fall as the neighbour's load rises", d)
	}
	if math.Abs(s[2]-s[0]) > 0.02 || math.Abs(s[1]-s[0]) > 0.02 {
		t.Errorf("static hit rates %.3f: want the neighbour's load not to move them", s)
	}
}

// TestTraceHashIDs replays records that share Mooncake hash ids for their
// first three 512-token blocks and differ in the fourth (64 tokens): from
// the second request on, each hits 1,536 of its 1,600 prompt tokens.
func TestTraceHashIDs(t *testing.T) {
	const n = 50
	var trace strings.Builder
	for i := range n {
		fmt.Fprintf(&trace, `{"arrival_s": %d, "input_tokens": 1600, "output_tokens": 20, "hash_ids": [7, 8, 9, %d], "hash_block_tokens": 512}`+"\n", i, 100+i)
	}
	src := `
name = "mooncake"
seed = 1
duration_s = 100
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "trace"
trace = "t.jsonl"
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 1
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 1
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
`
	sc, err := scenario.Parse("t.toml", []byte(src), cat, profiles, fstest.MapFS{"t.jsonl": {Data: []byte(trace.String())}})
	if err != nil {
		t.Fatal(err)
	}
	m := run(t, sc, Options{}).Models[0]
	if want := float64((n-1)*1536) / (n * 1600); math.Abs(hitRate(t, m)-want) > 1e-9 {
		t.Errorf("hit rate %.6f; want (n-1)·1536/(n·1600) = %.6f", hitRate(t, m), want)
	}
}
