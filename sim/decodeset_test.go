package sim

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
)

// TestDecodeSetGrowth holds decodeSet.growth and the sums to the walk
// over the requests they replace, on random contexts and block sizes
// (powers of two and not), as the decode clock moves them on.
func TestDecodeSetGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bt := range []int32{1, 2, 13, 16, 64, 100, 256} {
		var ds decodeSet
		ds.reset(bt)
		reqs := make([]request, 1+rng.IntN(60))
		for i := range reqs {
			reqs[i] = request{context: int32(rng.IntN(20000)), output: 5000, generated: int32(rng.IntN(4000))}
			ds.join(&reqs[i], int32(i))
		}
		for round := range 4 {
			if round > 0 {
				ds.advance(int32(1 + rng.IntN(3*int(bt)+7)))
			}
			for i := range reqs {
				ds.sync(&reqs[i])
			}
			for j := int32(1); j < 3*bt+5; j++ {
				var want int64
				for _, r := range reqs {
					want += blocksFor(r.context+j, bt) - blocksFor(r.context+1, bt)
				}
				if got := ds.growth(j); got != want {
					t.Fatalf("bt %d, %d contexts, round %d: growth(%d) = %d, the walk gives %d", bt, len(reqs), round, j, got, want)
				}
			}
			var walk, bulk perf.Batch
			for _, r := range reqs {
				walk.AddDecode(int(r.context) + 1)
			}
			s1, s2, ok := ds.decodeSums(2)
			if !ok {
				t.Fatal("small sums reported inexact")
			}
			bulk.AddDecodes(ds.n, s1, s2)
			if walk != bulk {
				t.Fatalf("bt %d round %d: AddDecodes from the sums gives %+v, the walk %+v", bt, round, bulk, walk)
			}
		}
	}
	var ds decodeSet
	ds.reset(16)
	big := request{context: math.MaxInt32 - 10, output: 1}
	for range 3000 {
		ds.join(&big, 0)
	}
	if _, _, ok := ds.decodeSums(1); ok {
		t.Error("Σ context² past 2^53 reported exact")
	}
}

// TestDecodeSetKept runs scenarios that exercise every way a request
// joins or leaves the batch (preemption under overload, SGLang's
// prefill-first, shipped KV in disaggregated serving, a block size with no
// remainder counts, no chunked prefill) and checks between events that
// each instance's decode set is what a walk over its running requests
// gives.
func TestDecodeSetKept(t *testing.T) {
	for _, path := range []string{
		"../bench/equiv/overload-vllm.toml", "../bench/equiv/overload-sglang.toml", "../bench/equiv/trt-block13.toml",
		"../bench/equiv/nochunk.toml", "../scenarios/disagg-h100.toml", "../scenarios/seed-colocated-dynamic.toml",
	} {
		sc := load(t, path)
		sc.Duration = min(sc.Duration, 600*1e9)
		if path == "../bench/equiv/trt-block13.toml" {
			for i := range sc.Nodes {
				for j := range sc.Nodes[i].Instances {
					sc.Nodes[i].Instances[j].BlockTokens = 4096 // past histBlocks: the walks
				}
			}
		}
		var sm *simulator
		checks := 0
		sm, err := newSimulator(sc, Options{SnapshotEvery: 1e8, OnSnapshot: func(Snapshot) {
			for _, in := range sm.insts {
				checks++
				checkDecodeSet(t, path, sm, in)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sm.run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if checks == 0 || t.Failed() {
			t.Fatalf("%s: %d checks", path, checks)
		}
	}
}

func checkDecodeSet(t *testing.T, name string, s *simulator, in *instance) {
	t.Helper()
	bt := int32(in.cfg.BlockTokens)
	ds := &in.dec
	var n int
	var s1, s2 int64
	rem := make([]int32, bt)
	least := int32(math.MaxInt32)
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			ds.sync(r)
			c := int64(r.context)
			n, s1, s2 = n+1, s1+c, s2+c*c
			rem[r.context%bt]++
			least = min(least, r.output-r.generated)
		}
	}
	if ds.n != n || ds.s1 != s1 || ds.s2 != s2 || len(ds.fin) != n {
		t.Fatalf("%s: instance %d decode set n %d Σc %d Σc² %d, %d finishes; the walk gives %d %d %d", name, in.idx, ds.n, ds.s1, ds.s2, len(ds.fin), n, s1, s2)
	}
	if (ds.rem == nil) != (bt > histBlocks) {
		t.Fatalf("%s: block size %d, remainder counts %v", name, bt, ds.rem != nil)
	}
	for i := range ds.rem {
		if got := ds.remAt(int32(i)); got != rem[i] {
			t.Fatalf("%s: instance %d has %d contexts at remainder %d, the walk %d", name, in.idx, got, i, rem[i])
		}
	}
	if got := ds.minLeft(); got != least {
		t.Fatalf("%s: instance %d least output left %d, the walk %d", name, in.idx, got, least)
	}
}
