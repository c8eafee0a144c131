package sim

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
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

// fleetPrefix is four H100s, each with a tenth of a cache's worth of room
// for 32 system prompts of 4,096 tokens, serving traffic spread over them.
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

// conversation is Qwen3-8B on an H100 with sessions of three turns: each
// turn adds 100 tokens to the conversation and answers 50.
func conversation(arrival, extra string) string {
	return fmt.Sprintf(`
name = "conversation"
seed = 3
duration_s = 600
warmup_s = 60
[models.qwen3-8b.workload.arrival]
%s
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 100
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 50
[models.qwen3-8b.workload.sessions]
think_s = 5
[models.qwen3-8b.workload.sessions.turns]
dist = "fixed"
value = 3
%s
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
`, arrival, extra)
}

// TestSessionsCarryContext: turn k's prompt is turn k-1's prompt, its 50
// answer tokens and 100 new ones: 100, 250, 400. The cache (on by default
// for sessions) serves what the last turn left: its context is prompt +
// answer - 1 tokens (the last token is never fed back), of which the full
// 16-token blocks are cached: 149 → 144 tokens for turn 2, 299 → 288 for
// turn 3. So the hit rate is Σ hit(input) / Σ input over the records, with
// hit(100) = 0, hit(250) = 144, hit(400) = 288, exactly (nothing is
// evicted: the cache holds far more than the conversations in flight),
// up to the turns running at the end.
//
// Thinking every turn (reasoning and answer 500 tokens, the answer the 50
// it would have been) carries only the answer: turn 2 is again 100 + 50 +
// 100 tokens, but only the blocks within turn 1's prompt are cached for
// it (96 tokens), and turn 3 finds those and turn 2's prompt (240).
func TestSessionsCarryContext(t *testing.T) {
	const thinking = `
[models.qwen3-8b.workload.thinking]
share = 1
[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = 500
`
	for _, tt := range []struct {
		arrival, extra string
		hit            map[int]float64
	}{
		{"process = \"poisson\"\nrate = 2", "", map[int]float64{100: 0, 250: 144, 400: 288}},
		{"process = \"closed\"\nconcurrency = 8\nthink_s = 1", "", map[int]float64{100: 0, 250: 144, 400: 288}},
		{"process = \"poisson\"\nrate = 0.5", thinking, map[int]float64{100: 0, 250: 96, 400: 240}},
	} {
		arrival, hit := tt.arrival, tt.hit
		count := map[int]int{}
		var hits, tokens float64
		res := run(t, parse(t, conversation(arrival, tt.extra)), Options{OnRequest: func(r RequestRecord) {
			if r.Rejected {
				t.Errorf("%s: a turn was rejected", arrival)
				return
			}
			h, ok := hit[r.Input]
			if !ok {
				t.Fatalf("%s: a turn's input is %d; want 100, 250 or 400", arrival, r.Input)
			}
			count[r.Input]++
			hits += h
			tokens += float64(r.Input)
		}})
		if count[100] == 0 || count[250] == 0 || count[400] == 0 {
			t.Fatalf("%s: turns by input %v; want all three", arrival, count)
		}
		// Turns still running at the end were counted on admission but
		// have no record: each moves the rate by at most its prompt.
		slack := float64(res.Models[0].InFlight)*400/tokens + 1e-9
		if got, want := hitRate(t, res.Models[0]), hits/tokens; math.Abs(got-want) > slack {
			t.Errorf("%s: hit rate %.6f; want %.6f within %.6f from the turns %v", arrival, got, want, slack, count)
		}
		t.Logf("%s: turns %v, hit rate %.4f", arrival, count, hits/tokens)
	}
}

// TestThinkingShare: half the requests think, answering 1,500 tokens; the
// rest answer 50.
func TestThinkingShare(t *testing.T) {
	const share = 0.5
	var think, n float64
	res := run(t, parse(t, conversation("process = \"poisson\"\nrate = 1", `
[models.qwen3-8b.workload.thinking]
share = 0.5
[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = 1500
`)), Options{OnRequest: func(r RequestRecord) {
		if r.Rejected {
			return
		}
		n++
		switch r.Output {
		case 1500:
			think++
		case 50:
		default:
			t.Fatalf("output %d; want 50 or 1500", r.Output)
		}
	}})
	if sd := math.Sqrt(share * (1 - share) / n); math.Abs(think/n-share) > 4*sd {
		t.Errorf("%v of %v requests thought; want a share of %v within 4 sd (%.3f)", think, n, share, sd)
	}
	m := res.Models[0]
	if want := (think*1500 + (n-think)*50) / (res.DurationS - res.WarmupS); math.Abs(m.OutputTokensPerS-want) > 1e-6*want {
		t.Errorf("output %.2f tokens/s; the records give %.2f", m.OutputTokensPerS, want)
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

// TestPrefixDeterministic: with sessions, thinking and the cache the same
// seed gives the same bytes whatever GOMAXPROCS, another seed other ones.
func TestPrefixDeterministic(t *testing.T) {
	src := conversation("process = \"poisson\"\nrate = 3", `
[models.qwen3-8b.workload.prefix]
groups = 3
tokens = 700
share = 0.6
[models.qwen3-8b.workload.thinking]
share = 0.3
[models.qwen3-8b.workload.thinking.output]
dist = "lognormal"
mean = 800
stddev = 400
`)
	enc := func(seed uint64, procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		sc := parse(t, src)
		sc.Seed = seed
		b, err := jsonfmt.Marshal(run(t, sc, Options{}))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := enc(1, 1), enc(1, 4), enc(2, 1)
	if !bytes.Equal(a, b) {
		t.Fatal("two runs with seed 1 differ")
	}
	if bytes.Equal(a, c) {
		t.Fatal("seeds 1 and 2 give identical results")
	}
}

// pinned is how many of request id's blocks on instance in are cached
// blocks it references (counted once, by heldCached).
func pinned(s *simulator, in *instance, id int32) int64 {
	if in.pc == nil {
		return 0
	}
	return int64(len(s.tr.px[id].pins))
}

// heldCached counts the cached blocks of instance in that running
// requests reference.
func heldCached(in *instance) int64 {
	if in.pc == nil {
		return 0
	}
	var n int64
	for _, i := range in.pc.blocks {
		if in.pc.pool.entries[i].ref > 0 {
			n++
		}
	}
	return n
}

// checkCache holds the prefix caches to their requests: each entry's
// references are the running requests' pins, the free list holds exactly
// the unreferenced entries, and what is held and cached fits the memory.
func checkCache(t *testing.T, name string, s *simulator) {
	t.Helper()
	refs := map[*kvPool]map[int32]int32{}
	for _, in := range s.insts {
		if in.pc == nil {
			continue
		}
		if refs[in.pc.pool] == nil {
			refs[in.pc.pool] = map[int32]int32{}
		}
		for _, id := range in.running {
			for _, e := range s.tr.px[id].pins {
				refs[in.pc.pool][e]++
			}
		}
	}
	for _, in := range s.insts {
		if in.pc == nil {
			continue
		}
		p := in.pc.pool
		var free int64
		for h, i := range in.pc.blocks {
			e := p.entries[i]
			if e.hash != h || e.inst != int32(in.idx) {
				t.Errorf("%s: instance %d: entry %d holds hash %x of instance %d", name, in.idx, i, e.hash, e.inst)
			}
			if e.ref != refs[p][i] {
				t.Errorf("%s: instance %d: entry %d has %d references, its requests %d", name, in.idx, i, e.ref, refs[p][i])
			}
			if e.ref == 0 {
				free++
			}
		}
		if free != in.pc.cached {
			t.Errorf("%s: instance %d counts %d cached free blocks, its table %d", name, in.idx, in.pc.cached, free)
		}
		if !p.dynamic && in.blocksUsed+in.pc.cached > in.blocksTotal {
			t.Errorf("%s: instance %d holds %d and caches %d blocks of %d", name, in.idx, in.blocksUsed, in.pc.cached, in.blocksTotal)
		}
	}
	for _, d := range s.devs {
		for _, i := range d.insts {
			if p := s.insts[i].pool; p != nil && p.dynamic {
				listed := 0
				for e := p.head; e != noEntry; e = p.entries[e].next {
					listed++
				}
				var cached float64
				for _, j := range d.insts {
					if o := s.insts[j]; o.pc != nil {
						cached += float64(o.pc.cached) * o.blockKV
					}
				}
				if math.Abs(cached-p.cachedBytes) > 1e-6*math.Max(1, cached) {
					t.Errorf("%s: device %d pool caches %v bytes, its instances %v", name, d.idx, p.cachedBytes, cached)
				}
				if d.kvUsed+p.cachedBytes > d.kvCapacity*(1+1e-9) {
					t.Errorf("%s: device %d holds %v and caches %v bytes of %v", name, d.idx, d.kvUsed, p.cachedBytes, d.kvCapacity)
				}
				break
			}
		}
	}
}

// TestPrefixCacheBookkeeping runs co-located models with shared prompts,
// sessions and thinking under KV pressure, static and dynamic memory, and
// holds the counters, the tables and the memory to each other.
func TestPrefixCacheBookkeeping(t *testing.T) {
	for _, memory := range []string{"static", "dynamic"} {
		for _, chunked := range []bool{true, false} {
			frac8, frac06 := "", ""
			if memory == "static" {
				frac8, frac06 = "memory_fraction = 0.2", "memory_fraction = 0.05"
			}
			src := fmt.Sprintf(`
name = "cache-pressure"
seed = 9
duration_s = 400
warmup_s = 0
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 3.0
[models.qwen3-8b.workload.input]
dist = "uniform"
min = 200
max = 3000
[models.qwen3-8b.workload.output]
dist = "uniform"
min = 20
max = 600
[models.qwen3-8b.workload.prefix]
groups = 6
tokens = 2000
share = 0.8
[models.qwen3-8b.workload.sessions]
think_s = 3
[models.qwen3-8b.workload.sessions.turns]
dist = "uniform"
min = 1
max = 4
[models."qwen3-0.6b".workload.arrival]
process = "closed"
concurrency = 8
think_s = 0.5
[models."qwen3-0.6b".workload.input]
dist = "fixed"
value = 1500
[models."qwen3-0.6b".workload.output]
dist = "fixed"
value = 300
[models."qwen3-0.6b".workload.prefix]
groups = 2
tokens = 3000
share = 1
[models."qwen3-0.6b".workload.thinking]
share = 0.3
[models."qwen3-0.6b".workload.thinking.output]
dist = "exponential"
mean = 900
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
  chunked_prefill = %t
  max_batched_tokens = 8192
  %s
  [[nodes.instances]]
  model = "qwen3-0.6b"
  quant = "bf16"
  max_seqs = 64
  block_tokens = 32
  chunked_prefill = %t
  max_batched_tokens = 8192
  %s
`, memory, map[string]float64{"static": 0.9, "dynamic": 0.26}[memory], chunked, frac8, chunked, frac06)
			name := fmt.Sprintf("%s chunked=%t", memory, chunked)
			sc := parse(t, src)
			var sm *simulator
			sm, err := newSimulator(sc, Options{SnapshotEvery: 10e9, OnSnapshot: func(Snapshot) {
				checkBookkeeping(t, name, sm)
				checkCache(t, name, sm)
			}})
			if err != nil {
				t.Fatal(err)
			}
			var evictions, pre int64
			res, err := sm.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, name, res)
			for _, m := range res.Models {
				pre += m.Preemptions
				t.Logf("%s: %s completed %d rejected %d preempted %d", name, m.Model, m.Completed, m.Rejected, m.Preemptions)
				if hitRate(t, m) <= 0 {
					t.Errorf("%s: %s hit nothing", name, m.Model)
				}
			}
			for _, in := range sm.insts {
				evictions += int64(len(in.pc.pool.spare))
			}
			if evictions == 0 {
				t.Errorf("%s: nothing was evicted; the test does not exercise eviction", name)
			}
			t.Logf("%s: preemptions %d, hit rates %.3f %.3f, KV peak %.2f", name, pre, *res.Models[0].PrefixCacheHitRate, *res.Models[1].PrefixCacheHitRate, res.Devices[0].KVUsePeak)
		}
	}
}
