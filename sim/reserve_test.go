package sim

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/fleettwin/fleettwin/scenario"
)

// burst is a scenario of n requests of in/out tokens, all at t=0, on one
// H100 serving Qwen3-14B in FP8 with engine's built-in profile: what
// validate makes of a `vllm bench serve` row without a request rate.
func burst(t *testing.T, engine string, n, in, out int) *scenario.Scenario {
	t.Helper()
	var b strings.Builder
	b.WriteString("arrival_s,input_tokens,output_tokens\n")
	for range n {
		fmt.Fprintf(&b, "0,%d,%d\n", in, out)
	}
	src := fmt.Sprintf(`
name = "burst"
seed = 1
duration_s = 3000
[models.m]
model = "qwen3-14b"
[models.m.workload]
input = { dist = "fixed", value = %d }
output = { dist = "fixed", value = %d }
arrival = { process = "trace", trace = "trace.csv" }
[[nodes]]
name = "node"
hardware = "h100-sxm"
engine = %q
count = 1
[[nodes.instances]]
model = "m"
quant = "fp8"
`, in, out, engine)
	files := fstest.MapFS{"trace.csv": {Data: []byte(b.String())}}
	sc, err := scenario.Parse("burst.toml", []byte(src), cat, profiles, files)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// TestPrefillFirstReserve holds SGLang's admission reservation to the
// burst that thrashed without it: 500 prompts of 2000 tokens fill the KV
// pool, and a prefill-first instance that admits whatever fits the free
// blocks preempts the prompt it just prefilled at every decode step (over
// 15,000 preemptions, TPOT of seconds). With the reservation a burst runs
// with a handful of preemptions and TPOT of the order of the published
// 143 ms (SGLang v0.5.5 on an H100, 500 x 1996/100).
func TestPrefillFirstReserve(t *testing.T) {
	for _, c := range []struct {
		name         string
		engine       string
		n, in, out   int
		prefillFirst bool
		maxPreempt   int64
		maxTPOT      float64 // s, mean
	}{
		{"sglang rand2k", "sglang", 500, 1996, 100, true, 10, 0.3},
		{"sglang rand4k", "sglang", 500, 3996, 200, true, 10, 0.3},
		{"sglang fits", "sglang", 50, 1996, 100, true, 0, 0.3},
		{"vllm rand2k", "vllm", 500, 1996, 100, false, 1 << 40, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc := burst(t, c.engine, c.n, c.in, c.out)
			s, err := newSimulator(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := s.insts[0].prefillFirst; got != c.prefillFirst {
				t.Fatalf("prefillFirst = %v, want %v (the profile's policy changed?)", got, c.prefillFirst)
			}
			res := run(t, sc, Options{})
			m := res.Models[0]
			if m.Completed != int64(c.n) {
				t.Fatalf("completed %d of %d", m.Completed, c.n)
			}
			if m.Preemptions > c.maxPreempt {
				t.Errorf("%d preemptions, want at most %d", m.Preemptions, c.maxPreempt)
			}
			if m.TPOT.Mean > c.maxTPOT {
				t.Errorf("mean TPOT %.3f s, want at most %.3f s", m.TPOT.Mean, c.maxTPOT)
			}
		})
	}
}

// TestTokenRatio checks new_token_ratio's rules: decay per decode step to
// the floor, the re-estimate after a retraction, and the reserve.
func TestTokenRatio(t *testing.T) {
	for _, c := range []struct {
		name string
		// running requests: generated and output tokens
		gen, out []int32
		want     float64 // ratio after a retraction
	}{
		{"fresh", []int32{0, 0}, []int32{100, 100}, 40.0 / 201},
		{"half done", []int32{50, 50}, []int32{100, 100}, 140.0 / 201},
		{"capped", []int32{90, 95}, []int32{100, 100}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &simulator{}
			in := &instance{prefillFirst: true, tokenRatio: sglInitRatio}
			in.dec.reset(16)
			for i := range c.gen {
				s.reqs = append(s.reqs, request{generated: c.gen[i], output: c.out[i]})
			}
			for i := range c.gen { // decoding: their prompts (empty) are done
				in.join(&s.reqs[i], int32(i))
				in.dec.join(&s.reqs[i], int32(i))
			}
			s.retractRatio(in)
			if d := in.tokenRatio - c.want; d > 1e-12 || d < -1e-12 {
				t.Errorf("ratio after retract = %v, want %v", in.tokenRatio, c.want)
			}
			var rem float64
			for i := range c.gen {
				rem += float64(c.out[i] - c.gen[i])
			}
			if got, want := s.reservedTokens(in), rem*in.tokenRatio; got != want {
				t.Errorf("reserved %v tokens, want %v", got, want)
			}
		})
	}
	if got := max(sglInitRatio-sglRatioDecay*600, sglMinRatio); got-sglMinRatio > 1e-12 {
		t.Errorf("after 600 decode steps the ratio is %v, want the floor %v", got, sglMinRatio)
	}
}

// Every test of the package checks SGLang's reserve, kept as sums, against
// a walk of the running requests at each admission pass.
func init() { checkReserve = true }

// TestOutputLeft: the decode set's clipped output sum follows the clock,
// the far entries' clip, finishes and a preemption, as a walk would.
func TestOutputLeft(t *testing.T) {
	var ds decodeSet
	ds.reset(16)
	reqs := []request{{output: 5000}, {output: 100}, {output: 9000}}
	for i := range reqs {
		ds.join(&reqs[i], int32(i))
	}
	walk := func() int64 {
		var n int64
		for i := range reqs {
			if reqs[i].output > 0 { // still in the set
				r := reqs[i]
				r.generated += int32(ds.clock - r.clock)
				n += clipLeft(&r)
			}
		}
		return n
	}
	check := func(when string) {
		t.Helper()
		if got, want := ds.outputLeft(), walk(); got != want {
			t.Errorf("%s: outputLeft %d, walk %d", when, got, want)
		}
	}
	check("joined") // 4096 + 100 + 4096
	ds.advance(100)
	for _, id := range ds.finished(nil, reqs) {
		reqs[id].output = 0 // gone: the walk skips it
	}
	check("the short one finished")
	ds.advance(1000) // 3900 left: within the clip
	check("the first within the clip")
	ds.leave(&reqs[2], 2) // preempted while far
	reqs[2].output = 0
	check("the far one preempted")
	if len(ds.far) != 0 {
		t.Errorf("far = %v, want empty", ds.far)
	}
}

// TestReserveLongOutputs runs SGLang bursts whose outputs pass the 4096
// clip and preempt (a KV pool too small for them), under checkReserve:
// the sums agree with the walk at every admission pass.
func TestReserveLongOutputs(t *testing.T) {
	sc := burst(t, "sglang", 120, 3000, 6000)
	res := run(t, sc, Options{})
	if m := res.Models[0]; m.Completed != 120 {
		t.Fatalf("completed %d of 120", m.Completed)
	} else {
		t.Logf("%d preemptions", m.Preemptions)
	}
}
