package sim

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
)

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

// FuzzPrefixTraffic runs random shared prefixes, sessions and thinking
// over one or two cached instances (static or dynamic memory, any block
// size, chunked or not, either router) and holds the caches and the KV
// counters to their requests at every snapshot.
func FuzzPrefixTraffic(f *testing.F) {
	f.Add(uint16(4), uint16(2000), uint8(200), uint8(3), uint8(4), uint8(128), uint16(3000), uint8(16), true, false, true)
	f.Add(uint16(1), uint16(17), uint8(255), uint8(1), uint8(0), uint8(0), uint16(1), uint8(1), false, true, false)
	f.Add(uint16(50), uint16(9000), uint8(30), uint8(9), uint8(60), uint8(255), uint16(8000), uint8(32), true, true, true)
	f.Fuzz(func(t *testing.T, groups, tokens uint16, share, turns, think, thinkShare uint8, thinkOut uint16, block uint8, dynamic, chunked, affinity bool) {
		memory, router := "static", "round-robin"
		if dynamic {
			memory = "dynamic"
		}
		if affinity {
			router = "prefix-affinity"
		}
		src := fmt.Sprintf(`
name = "fuzz-prefix"
seed = 2
duration_s = 120
warmup_s = 10
router = %q
[models.qwen3-8b.workload.arrival]
process = "poisson"
rate = 3
[models.qwen3-8b.workload.input]
dist = "uniform"
min = 1
max = 3000
[models.qwen3-8b.workload.output]
dist = "exponential"
mean = 100
[models.qwen3-8b.workload.prefix]
groups = %d
tokens = %d
share = %g
[models.qwen3-8b.workload.sessions]
think_s = %d
[models.qwen3-8b.workload.sessions.turns]
dist = "uniform"
min = 1
max = %d
[models.qwen3-8b.workload.thinking]
share = %g
[models.qwen3-8b.workload.thinking.output]
dist = "fixed"
value = %d
[[nodes]]
name = "l40s"
hardware = "l40s"
engine = "vllm"
count = 2
memory = %q
memory_fraction = 0.3
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "fp8"
  block_tokens = %d
  chunked_prefill = %t
  max_batched_tokens = 8192
`, router, max(groups, 1), max(tokens, 1), (float64(share)+1)/256, think, max(turns%10, 1), (float64(thinkShare)+1)/256, max(thinkOut, 1), memory, max(block%64, 1), chunked)
		sc, err := scenario.Parse("fuzz.toml", []byte(src), cat, profiles, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		var sm *simulator
		sm, err = newSimulator(sc, Options{SnapshotEvery: 5e9, OnSnapshot: func(Snapshot) {
			checkBookkeeping(t, "fuzz", sm)
			checkCache(t, "fuzz", sm)
		}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sm.run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, "fuzz", res)
		if t.Failed() {
			t.Logf("scenario:\n%s", src)
		}
	})
}
