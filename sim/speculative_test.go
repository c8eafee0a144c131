package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// specScenario is a closed loop of clients on one DGX Spark serving
// Qwen3-8B (BF16, vLLM profile), with a Qwen3-0.6B draft proposing k
// tokens at acceptance alpha when k > 0: issue 15's "when it pays" case.
func specScenario(t testing.TB, clients, k int, alpha float64) *scenario.Scenario {
	t.Helper()
	spec := ""
	if k > 0 {
		spec = fmt.Sprintf(`
  [nodes.instances.speculative]
  method = "draft"
  draft_model = "qwen3-0.6b"
  proposal_tokens = %d
  acceptance_rate = %g`, k, alpha)
	}
	return parse(t, fmt.Sprintf(`
name = "spec"
seed = 3
duration_s = 600
warmup_s = 60
[models.qwen3-8b.workload.arrival]
process = "closed"
concurrency = %d
[models.qwen3-8b.workload.input]
dist = "fixed"
value = 512
[models.qwen3-8b.workload.output]
dist = "fixed"
value = 256
[[nodes]]
name = "spark"
hardware = "dgx-spark"
engine = "vllm"
count = 1
  [[nodes.instances]]
  model = "qwen3-8b"
  quant = "bf16"
  max_seqs = 256%s
`, clients, spec))
}

// TestSpeculationCutsLoneTPOT: one client on a DGX Spark, decode bound by
// the 273 GB/s: speculative decoding divides TPOT by the expected tokens
// per round, less what the draft and the wider verification cost. The sim's
// TPOT ratio is the step model's, plain decode step over a round per token,
// within 2% (prefill steps and the first token are the rest).
func TestSpeculationCutsLoneTPOT(t *testing.T) {
	plain := run(t, specScenario(t, 1, 0, 0), Options{}).Models[0]
	sc := specScenario(t, 1, 4, 0.7)
	spec := run(t, sc, Options{}).Models[0]

	in := sc.Nodes[0].Instances[0]
	sm, err := perf.NewStepModel(sc.Nodes[0].Hardware, in.Deploy, sc.Nodes[0].Profile)
	if err != nil {
		t.Fatal(err)
	}
	plainDeploy := in.Deploy
	plainDeploy.Speculative = nil
	pm, err := perf.NewStepModel(sc.Nodes[0].Hardware, plainDeploy, sc.Nodes[0].Profile)
	if err != nil {
		t.Fatal(err)
	}
	var b perf.Batch
	b.AddDecode(512 + 128) // the middle of the decode
	e := sm.TokensPerStep()
	if want := perf.ExpectedTokens(4, 0.7); e != want {
		t.Fatalf("TokensPerStep %v, want %v", e, want)
	}
	round, step := sm.Step(b).Seconds, pm.Step(b).Seconds
	want := step / (round / e)
	got := plain.TPOT.Mean / spec.TPOT.Mean
	t.Logf("TPOT %.2f → %.2f ms (÷%.3f); step model: step %.2f ms, round %.2f ms for %.3f tokens (÷%.3f)",
		1e3*plain.TPOT.Mean, 1e3*spec.TPOT.Mean, got, 1e3*step, 1e3*round, e, want)
	if math.Abs(got-want)/want > 0.02 {
		t.Errorf("speculation cut TPOT by %.3f×, the step model says %.3f×", got, want)
	}
	if !(got > 1.5 && got < e) {
		t.Errorf("TPOT cut %.3f×: want more than 1.5× and less than the %.3f tokens a round yields", got, e)
	}
	// ITL is per streamed chunk: a round's E tokens arrive together.
	if r := spec.ITL.Mean / spec.TPOT.Mean; math.Abs(r-e)/e > 0.03 {
		t.Errorf("ITL/TPOT %.3f, want about the %.3f tokens per chunk", r, e)
	}
}

// TestSpeculationPaysAtLowBatch is issue 15's "when it pays" on a DGX
// Spark: Qwen3-8B BF16 with a Qwen3-0.6B draft (k = 4, α = 0.7) against
// none, in closed loops of 1, 32 and 256 clients (512 prompt, 256 output
// tokens). The table in docs/performance-model.md ("Speculative decoding")
// is this test's log: go test ./sim -run TestSpeculationPaysAtLowBatch -v.
func TestSpeculationPaysAtLowBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("six runs")
	}
	gain := map[int]float64{}
	t.Logf("| clients | TPOT without | TPOT with | output tok/s without | output tok/s with | throughput gain |")
	t.Logf("| ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, c := range []int{1, 32, 256} {
		off := run(t, specScenario(t, c, 0, 0), Options{}).Models[0]
		on := run(t, specScenario(t, c, 4, 0.7), Options{}).Models[0]
		gain[c] = on.OutputTokensPerS / off.OutputTokensPerS
		t.Logf("| %d | %.1f ms | %.1f ms | %.1f | %.1f | %.2f× |", c, 1e3*off.TPOT.Mean, 1e3*on.TPOT.Mean,
			off.OutputTokensPerS, on.OutputTokensPerS, gain[c])
	}
	if !(gain[1] > 1.5) {
		t.Errorf("one client: speculation gains %.2f×, want above 1.5× on a bandwidth-bound device", gain[1])
	}
	if !(gain[32] < gain[1]) {
		t.Errorf("32 clients gain %.2f×, not less than one client's %.2f×", gain[32], gain[1])
	}
	if !(gain[256] < 1) {
		t.Errorf("256 clients: speculation gains %.2f×, want a loss once verification is compute-bound", gain[256])
	}
}

// TestSpeculativeDeterministic: the same speculative scenario and seed give
// byte-identical results at any GOMAXPROCS.
func TestSpeculativeDeterministic(t *testing.T) {
	var want []byte
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		res := run(t, specScenario(t, 8, 3, 0.6), Options{})
		runtime.GOMAXPROCS(prev)
		got, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if want == nil {
			want = got
		} else if !bytes.Equal(got, want) {
			t.Errorf("GOMAXPROCS %d: results differ", procs)
		}
	}
}

// TestSpeculativeDecodeRunMatchesSteps: a speculative decode run (each
// step a round's cost per token, with its draft part) sums in closed form
// as stepping one by one does.
func TestSpeculativeDecodeRunMatchesSteps(t *testing.T) {
	for _, method := range []string{perf.SpecDraft, perf.SpecEagle} {
		sc := specScenario(t, 1, 4, 0.7)
		in := sc.Nodes[0].Instances[0]
		if method == perf.SpecEagle {
			in.Deploy.Speculative = &perf.Speculative{Method: perf.SpecEagle, ProposalTokens: 4, VerifyTokens: 16, AcceptanceRate: 0.7}
		}
		sm, err := perf.NewStepModel(sc.Nodes[0].Hardware, in.Deploy, sc.Nodes[0].Profile)
		if err != nil {
			t.Fatal(err)
		}
		e := sm.TokensPerStep()
		const n = 400
		steps := perf.DecodeSteps(64, n, 1000)
		r := newDecodeRun(perToken(sm.Step(steps[0]), e), perToken(sm.Step(steps[1]), e))
		var secs float64
		for _, b := range steps {
			secs += perToken(sm.Step(b), e).Seconds
		}
		if got := r.seconds(n); math.Abs(got-secs) > 1e-9*secs {
			t.Errorf("%s: closed form %v s, stepping %v s", method, got, secs)
		}
		if !r.drafts() {
			t.Errorf("%s: the run has no draft part", method)
		}
	}
}

// TestDecodeStepsUnwrapped: decodeSteps' direct call of the step model
// (with the scheduler's CPU time added as servingCost does) prices a
// decode run's two steps bit for bit as the wrapped cost's StepPair, on a
// profile with per-step and per-sequence scheduler terms.
func TestDecodeStepsUnwrapped(t *testing.T) {
	s, err := newSimulator(load(t, "../scenarios/bench/h100-qwen3-8b.toml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := s.insts[0]
	if in.steps == nil || in.stepCPU == nil || in.stepCPU.StepS == 0 {
		t.Fatalf("the scenario's instance: step model %v, scheduler terms %+v; want both", in.steps, in.stepCPU)
	}
	for _, n := range []int{1, 7, 64, 300} {
		var first, second perf.Batch
		for i := range n {
			first.AddDecode(100 + 37*i)
			second.AddDecode(101 + 37*i)
		}
		a, b := s.decodeSteps(in, first, second)
		wa, wb := in.pair.StepPair(first, second)
		if a != wa || b != wb || a.Overhead == in.steps.Step(first).Overhead {
			t.Errorf("%d decodes: %+v, %+v; wrapped %+v, %+v", n, a, b, wa, wb)
		}
	}
}
