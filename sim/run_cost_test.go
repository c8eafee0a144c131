package sim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// TestDecodeRunMatchesSteps: the closed form equals stepping one by one, for
// batches that cross from memory- to compute-bound within the run.
func TestDecodeRunMatchesSteps(t *testing.T) {
	cat := catalog.Default()
	set, _ := perf.DefaultProfiles()
	for _, tc := range []struct {
		hw, engine, model string
		batch, ctx, k     int
	}{
		{"dgx-spark", "llama.cpp", "qwen3-14b", 1, 0, 500},
		{"dgx-spark", "llama.cpp", "qwen3-30b-a3b", 16, 4000, 300},
		{"h100-sxm", "vllm", "qwen3-8b", 256, 100, 2000},
		{"h100-sxm", "vllm", "qwen3-0.6b", 256, 30000, 5000},
	} {
		hw, _ := cat.HardwareNamed(tc.hw)
		m, _ := cat.Model(tc.model)
		f, _ := cat.Format("bf16")
		kv, _ := cat.KVType("fp16")
		p, _ := set.Get(tc.hw, tc.engine)
		sm, err := perf.NewStepModel(hw, perf.Instance{Model: m, Weights: f, KV: kv}, p)
		if err != nil {
			t.Fatal(err)
		}
		steps := perf.DecodeSteps(tc.batch, tc.k, tc.ctx)
		run := newDecodeRun(sm.Step(steps[0]), sm.Step(steps[1]))
		var secs, compute, memory, flops, bytes float64
		for n, b := range steps {
			c := sm.Step(b)
			secs += c.Seconds
			compute += c.Compute
			memory += c.Memory
			flops += c.FLOPs
			bytes += c.Bytes
			if n+1 == tc.k/2 || n+1 == tc.k {
				if got := run.seconds(n + 1); math.Abs(got-secs) > 1e-9*secs {
					t.Errorf("%+v: seconds(%d) = %v, stepping gives %v", tc, n+1, got, secs)
				}
				gc, gm := run.busy(n + 1)
				gf, gb := run.work(n + 1)
				for _, pair := range [][2]float64{{gc, compute}, {gm, memory}, {gf, flops}, {gb, bytes}} {
					if math.Abs(pair[0]-pair[1]) > 1e-9*math.Abs(pair[1]) {
						t.Errorf("%+v: closed form %v, stepping %v", tc, pair[0], pair[1])
					}
				}
			}
		}
		// stepsWithin inverts seconds.
		for _, n := range []int{1, 2, tc.k / 3, tc.k} {
			if got := run.stepsWithin(run.seconds(n), tc.k); got != n {
				t.Errorf("%+v: stepsWithin(seconds(%d)) = %d", tc, n, got)
			}
			if n > 1 {
				if got := run.stepsWithin(run.seconds(n-1)+1e-12, tc.k); got != n {
					t.Errorf("%+v: just after step %d ends, stepsWithin = %d, want %d", tc, n-1, got, n)
				}
			}
		}
	}
}

// TestRunSecondsIsSeconds: the bisection's pricing is decodeRun.seconds,
// and costs is seconds, busy and work, to the bit, for runs that switch regime either way or not at all, with and
// without serial and draft terms.
func TestRunSecondsIsSeconds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		r := decodeRun{c0: rng.Float64(), dc: rng.NormFloat64() * 1e-3, m0: rng.Float64(), dm: rng.NormFloat64() * 1e-3,
			o: rng.Float64() * 1e-2, f0: 1, b0: 1}
		if i%2 == 1 {
			r.s = rng.Float64()
		}
		if i%4 >= 2 {
			r.dc0, r.ddc, r.dm0, r.ddm = rng.Float64(), rng.NormFloat64()*1e-3, rng.Float64(), rng.NormFloat64()*1e-3
		}
		if i%8 == 7 {
			r.dc = r.dm // never switches
		}
		for _, n := range []int{0, 1, 2, 17, 300, 2999} {
			secs, c, m, f, by := r.costs(n)
			wc, wm := r.busy(n)
			wf, wb := r.work(n)
			for k, p := range [][2]float64{{secs, r.seconds(n)}, {c, wc}, {m, wm}, {f, wf}, {by, wb}} {
				if math.Float64bits(p[0]) != math.Float64bits(p[1]) {
					t.Fatalf("%+v: costs(%d)[%d] = %v, its method %v", r, n, k, p[0], p[1])
				}
			}
		}
		rs := newRunSeconds(&r)
		for n := 1; n <= 3000; n += 1 + n/7 {
			if got, want := rs.seconds(n), r.seconds(n); math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("%+v: runSeconds(%d) = %v, seconds = %v", r, n, got, want)
			}
		}
	}
}
