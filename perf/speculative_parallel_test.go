package perf

import (
	"math"
	"testing"
)

// Speculative decoding over TP devices: a round verifies v tokens per
// sequence with the layout's collectives for v·D tokens, and the drafter
// runs tensor-parallel too. At one sequence on NVLink it still pays, and
// its round costs more than a TP1 round's collectives would (none).
func TestSpeculativeOverTensorParallel(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	m, _ := cat.Model("qwen3-8b")
	draftM, _ := cat.Model("qwen3-0.6b")
	f, _ := cat.Format("bf16")
	k, _ := cat.KVType("fp16")
	h, _ := cat.HardwareNamed("h100-sxm")
	l := Layout{TP: 2, Link: link(t, "nvlink4-nvswitch")}
	for _, sp := range []*Speculative{
		{Method: SpecEagle, ProposalTokens: 3, AcceptanceRate: 0.7},
		{Method: SpecDraft, Draft: Instance{Model: draftM, Weights: f, KV: k}, ProposalTokens: 3, AcceptanceRate: 0.7},
	} {
		spec, err := NewStepModel(h, Instance{Model: m, Weights: f, KV: k, Layout: l, Speculative: sp}, p)
		if err != nil {
			t.Fatalf("%s over tp 2: %v", sp.Method, err)
		}
		plain := parallelModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", l, p)
		var b Batch
		b.AddDecode(1024)
		round, step := spec.Step(b), plain.Step(b)
		verify := plain.parallelSeqs(VerifyBatch(b, sp.Verify()), b.Seqs())
		if !(round.Comm > verify.Comm) || !(verify.Comm > step.Comm) {
			t.Errorf("%s: collectives per round %v s, verification's %v s, a decode step's %v s: want the round's to add the drafter's to the verification's, which exceed one token's",
				sp.Method, round.Comm, verify.Comm, step.Comm)
		}
		if math.Abs(round.Memory-verify.Memory) > 1e-15 || math.Abs(round.Compute-verify.Compute) > 1e-15 {
			t.Errorf("%s: the round's target part %+v is not the verification %+v", sp.Method, round, verify)
		}
		if e := spec.TokensPerStep(); !(step.Seconds > round.Seconds/e) {
			t.Errorf("%s: %.3f ms per token speculating against %.3f ms plain at one sequence on NVLink: want it to pay", sp.Method, 1e3*round.Seconds/e, 1e3*step.Seconds)
		}
	}
}
