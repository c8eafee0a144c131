package sim

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
)

// Widen the random search with -args -random.trials=1000 -random.seed=N.
var (
	randomTrials = 60
	randomSeed   = uint64(2026)
)

func init() {
	flag.IntVar(&randomTrials, "random.trials", randomTrials, "random scenarios in TestInvariantsRandomScenarios")
	flag.Uint64Var(&randomSeed, "random.seed", randomSeed, "seed of TestInvariantsRandomScenarios")
}

// TestInvariantsRandomScenarios builds random scenarios (hardware, models,
// formats, batching settings, memory sharing, sharing of compute with
// instance priorities, SM caps and MIG partitions, arrival processes,
// classes)
// and checks on each what must hold on every run: Little's law, every
// request accounted for, the KV cache within capacity, and determinism.
func TestInvariantsRandomScenarios(t *testing.T) {
	rng := rand.New(rand.NewPCG(randomSeed, 11))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	type hwSpec struct{ name, engine string }
	hws := []hwSpec{{"dgx-spark", "llama.cpp"}, {"dgx-spark", "vllm"}, {"h100-sxm", "vllm"}, {"l40s", "vllm"}, {"rtx-pro-6000", "vllm"}}
	ran := 0
	for trial := range randomTrials {
		hw := hws[rng.IntN(len(hws))]
		models := []string{"qwen3-0.6b", "qwen3-4b", "qwen3-8b", "qwen3-30b-a3b"}
		rng.Shuffle(len(models), func(i, j int) { models[i], models[j] = models[j], models[i] })
		nModels := 1 + rng.IntN(2)
		var b strings.Builder
		fmt.Fprintf(&b, "name = \"random-%d\"\nseed = %d\nduration_s = %d\nwarmup_s = %d\nrouter = %q\n",
			trial, trial, 200+rng.IntN(400), rng.IntN(100), pick("round-robin", "least-outstanding", "power-of-two"))
		for _, m := range models[:nModels] {
			fmt.Fprintf(&b, "[models.%q.slo]\nttft_s = %g\ntpot_s = %g\n", m, 0.5+rng.Float64()*3, 0.02+rng.Float64()*0.1)
			switch pick("poisson", "gamma", "closed") {
			case "poisson":
				fmt.Fprintf(&b, "[models.%q.workload.arrival]\nprocess = \"poisson\"\nrate = %g\n", m, 0.2+rng.Float64()*6)
			case "gamma":
				fmt.Fprintf(&b, "[models.%q.workload.arrival]\nprocess = \"gamma\"\nrate = %g\ncv = %g\n", m, 0.2+rng.Float64()*6, 0.3+rng.Float64()*3)
			default:
				fmt.Fprintf(&b, "[models.%q.workload.arrival]\nprocess = \"closed\"\nconcurrency = %d\nthink_s = %g\n", m, 1+rng.IntN(40), rng.Float64()*2)
			}
			fmt.Fprintf(&b, "[models.%q.workload.input]\ndist = \"lognormal\"\nmean = %g\nstddev = %g\nmax = 16000\n", m, 100+rng.Float64()*4000, 50+rng.Float64()*3000)
			fmt.Fprintf(&b, "[models.%q.workload.output]\ndist = \"exponential\"\nmean = %g\nmax = 4000\n", m, 1+rng.Float64()*500)
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "[[models.%q.workload.classes]]\nname = \"hi\"\npriority = 0\nshare = 0.3\n[[models.%q.workload.classes]]\nname = \"lo\"\npriority = 1\nshare = 0.7\n", m, m)
			}
		}
		memory := pick("static", "dynamic")
		// Every sharing the device and engine can do: one-process needs a
		// multi-model engine, MIG a device with partitions (and static
		// memory, each partition's own).
		sharings := []string{"time-slice", "mps"}
		if hw.engine == "llama.cpp" {
			sharings = append(sharings, "one-process")
		}
		migs := cat.Hardware[hw.name].MIG
		if len(migs) > 0 && memory == "static" {
			sharings = append(sharings, "mig")
		}
		sharing := pick(sharings...)
		fmt.Fprintf(&b, "[[nodes]]\nname = \"n\"\nhardware = %q\nengine = %q\ncount = %d\nmemory = %q\nmemory_fraction = %g\ninterference = %g\nsharing = %q\n",
			hw.name, hw.engine, 1+rng.IntN(3), memory, 0.3+rng.Float64()*0.6, rng.Float64()*0.2, sharing)
		for _, m := range models[:nModels] {
			chunked := rng.IntN(3) > 0
			fmt.Fprintf(&b, "[[nodes.instances]]\nmodel = %q\nquant = %q\nkv_cache = %q\nmax_seqs = %d\nmax_batched_tokens = %d\nchunked_prefill = %v\nblock_tokens = %d\npriority = %d\n",
				m, pick("bf16", "fp8", "q4_k_m"), pick("fp16", "fp8"), 1+rng.IntN(64), 256+rng.IntN(8192), chunked, []int{1, 16, 32}[rng.IntN(3)], rng.IntN(3))
			if chunked && rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "chunk_tokens = %d\n", 64+rng.IntN(1024))
			}
			switch sharing {
			case "mps":
				if rng.IntN(2) == 0 {
					fmt.Fprintf(&b, "mps_active_thread_pct = %d\n", 10+rng.IntN(91))
				}
			case "mig":
				fmt.Fprintf(&b, "mig = %q\n", migs[rng.IntN(len(migs))].Name)
			}
		}
		sc, err := scenario.Parse("random.toml", []byte(b.String()), cat, profiles, nil)
		if err != nil {
			continue // e.g. the models do not fit: the loader's job, tested elsewhere
		}
		ran++
		sm, err := newSimulator(sc, Options{OnRequest: func(r RequestRecord) {
			if !r.Rejected && !(r.QueueS >= 0 && r.TTFTS >= r.QueueS && r.E2ES >= r.TTFTS) {
				t.Errorf("%s: record out of order: %+v", sc.Name, r)
			}
		}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := sm.run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, sc.Name, res)
		checkBookkeeping(t, sc.Name, sm)
		again, _ := jsonfmt.Marshal(run(t, sc, Options{}))
		first, _ := jsonfmt.Marshal(res)
		if !bytes.Equal(first, again) {
			t.Errorf("%s: two runs differ", sc.Name)
		}
		if t.Failed() {
			t.Logf("scenario:\n%s", b.String())
			return
		}
	}
	if ran < randomTrials/2 {
		t.Fatalf("only %d of %d random scenarios were valid: the generator needs tuning", ran, randomTrials)
	}
	t.Logf("%d random scenarios checked", ran)
}

// checkBookkeeping holds the simulator's counters to what its queues and
// requests say: a leak of KV blocks or of a request shows up here.
func checkBookkeeping(t *testing.T, name string, s *simulator) {
	t.Helper()
	for _, in := range s.insts {
		// A busy instance also holds the blocks its segment in progress
		// reserved: every decode step of the run, and each prefill chunk.
		chunk := map[int32]int32{}
		if in.busy {
			for _, c := range in.seg.prefill {
				chunk[c.id] = c.n
			}
		}
		var blocks int64
		for _, id := range in.running {
			r := &s.reqs[id]
			if r.decoding() {
				in.dec.sync(r)
			}
			tokens := r.context + chunk[id]
			if in.busy && in.seg.decodes && r.decoding() {
				tokens += int32(in.seg.steps)
			}
			blocks += blocksFor(tokens, int32(in.cfg.BlockTokens)) - pinned(s, in, id)
		}
		blocks += heldCached(in) // shared blocks count once (prefix_test.go)
		if blocks != in.blocksUsed {
			t.Errorf("%s: instance %d holds %d blocks, its running requests and segment need %d", name, in.idx, in.blocksUsed, blocks)
		}
		entering := 0
		if in.front != nil {
			entering = len(in.front.queued())
		}
		// KV on its way to a decode instance counts there (disagg.go).
		if in.outstanding != len(in.running)+len(in.waiting.ids)+entering+len(in.arriving) {
			t.Errorf("%s: instance %d outstanding %d, running %d + waiting %d", name, in.idx, in.outstanding, len(in.running), len(in.waiting.ids))
		}
		if len(in.running) > in.cfg.MaxSeqs {
			t.Errorf("%s: instance %d runs %d > max_seqs %d", name, in.idx, len(in.running), in.cfg.MaxSeqs)
		}
	}
	for _, d := range s.devs {
		var kv float64
		waiting := 0
		for _, i := range d.insts {
			kv += float64(s.insts[i].blocksUsed) * s.insts[i].blockKV
			waiting += len(s.insts[i].waiting.ids)
		}
		if math.Abs(kv-d.kvUsed) > 1e-6*math.Max(1, kv) {
			t.Errorf("%s: device %d counts %v KV bytes, its instances hold %v", name, d.idx, d.kvUsed, kv)
		}
		if waiting != d.waiting {
			t.Errorf("%s: device %d counts %d waiting, its queues hold %d", name, d.idx, d.waiting, waiting)
		}
	}
}
