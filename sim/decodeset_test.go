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
// (powers of two and not).
func TestDecodeSetGrowth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bt := range []int32{1, 2, 13, 16, 64, 100, 256} {
		var ds decodeSet
		ds.reset(bt)
		var reqs []request
		for range 1 + rng.IntN(60) {
			r := request{context: int32(rng.IntN(20000)), output: 5000, generated: int32(rng.IntN(4000))}
			reqs = append(reqs, r)
			ds.add(&r, bt)
		}
		for j := int32(1); j < 3*bt+5; j++ {
			var want int64
			for _, r := range reqs {
				want += blocksFor(r.context+j, bt) - blocksFor(r.context+1, bt)
			}
			if got := ds.growth(j, bt); got != want {
				t.Fatalf("bt %d, %d contexts: growth(%d) = %d, the walk gives %d", bt, len(reqs), j, got, want)
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
			t.Fatalf("bt %d: AddDecodes from the sums gives %+v, the walk %+v", bt, bulk, walk)
		}
	}
	var ds decodeSet
	ds.reset(16)
	big := request{context: math.MaxInt32 - 10}
	for range 3000 {
		ds.add(&big, 16)
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
	var want decodeSet
	want.reset(bt)
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			want.add(r, bt)
		}
	}
	ds := &in.dec
	if ds.n != want.n || ds.s1 != want.s1 || ds.s2 != want.s2 {
		t.Fatalf("%s: instance %d decode set n %d Σc %d Σc² %d, the walk gives %d %d %d", name, in.idx, ds.n, ds.s1, ds.s2, want.n, want.s1, want.s2)
	}
	if (ds.rem == nil) != (bt > histBlocks) {
		t.Fatalf("%s: block size %d, remainder counts %v", name, bt, ds.rem != nil)
	}
	for i := range ds.rem {
		if ds.rem[i] != want.rem[i] {
			t.Fatalf("%s: instance %d has %d contexts at remainder %d, the walk %d", name, in.idx, ds.rem[i], i, want.rem[i])
		}
	}
	if ds.minOK && want.n > 0 && ds.minLeft != want.minLeft {
		t.Fatalf("%s: instance %d least output left %d, the walk %d", name, in.idx, ds.minLeft, want.minLeft)
	}
}
