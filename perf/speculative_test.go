package perf

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
)

// TestExpectedTokens: (1 − α^(k+1)) / (1 − α), Leviathan et al. 2023 eq. 1.
func TestExpectedTokens(t *testing.T) {
	for _, tc := range []struct {
		k     int
		alpha float64
		want  float64
	}{
		{4, 0, 1},                // nothing accepted: the target's own token
		{1, 0.5, 1.5},            // 1 + α
		{4, 0.5, 1.9375},         // (1 − 1/32) / 0.5
		{4, 0.7, 0.83193 / 0.3},  // (1 − 0.7⁵) / 0.3
		{2, 0.8, 1 + 0.8 + 0.64}, // a geometric sum
		{16, 0.9, (1 - 0.16677181699666577) / 0.1},
		{3, 0.999999, 4}, // every draft accepted: k + 1
		{0, 0.9, 1},      // no draft
	} {
		if got := ExpectedTokens(tc.k, tc.alpha); math.Abs(got-tc.want) > 1e-5*tc.want {
			t.Errorf("ExpectedTokens(%d, %v) = %v, want %v", tc.k, tc.alpha, got, tc.want)
		}
	}
}

// TestAcceptanceForInverts: AcceptanceFor undoes ExpectedTokens, and
// clamps what no acceptance can give.
func TestAcceptanceForInverts(t *testing.T) {
	for _, k := range []int{1, 2, 4, 8, 16} {
		for _, a := range []float64{0.05, 0.3, 0.62, 0.79, 0.95} {
			if got := AcceptanceFor(k, ExpectedTokens(k, a)); math.Abs(got-a) > 1e-9 {
				t.Errorf("k %d: AcceptanceFor(ExpectedTokens(%v)) = %v", k, a, got)
			}
		}
	}
	if a := AcceptanceFor(4, 0.5); a != 0 {
		t.Errorf("fewer than one token per round: α %v, want 0", a)
	}
	if a := AcceptanceFor(2, 5); !(a < 1 && a > 0.999) {
		t.Errorf("more than k+1 tokens per round: α %v, want just under 1", a)
	}
}

// TestVerifyBatch: verifying v tokens of a sequence at context c is a
// v-token chunk at c (attention and cache reads), with v logits rows: a
// decode step with v times the tokens; v = 1 is the decode batch itself.
func TestVerifyBatch(t *testing.T) {
	ctx := []int{0, 17, 300, 4096}
	var dec Batch
	for _, c := range ctx {
		dec.AddDecode(c)
	}
	if got := VerifyBatch(dec, 1); got != dec {
		t.Errorf("v = 1: %+v, want the decode batch %+v", got, dec)
	}
	for _, v := range []int{2, 5, 16} {
		var chunks Batch
		for _, c := range ctx {
			chunks.AddPrefill(v, c)
		}
		got := VerifyBatch(dec, v)
		if got.DecodeSeqs != v*len(ctx) || got.PrefillTokens != 0 {
			t.Errorf("v %d: %d decode tokens, %d prefill, want %d and 0", v, got.DecodeSeqs, got.PrefillTokens, v*len(ctx))
		}
		for _, f := range []struct {
			name      string
			got, want float64
		}{{"attended pairs", got.AttendedPairs, chunks.AttendedPairs}, {"attended squares", got.AttendedSquares, chunks.AttendedSquares},
			{"KV read", got.KVTokensRead, chunks.KVTokensRead}} {
			if math.Abs(f.got-f.want) > 1e-9*f.want {
				t.Errorf("v %d: %s %v, want %v", v, f.name, f.got, f.want)
			}
		}
	}
}

func specModelFor(t *testing.T, hw, engine string, sp *Speculative) (*StepModel, *StepModel) {
	t.Helper()
	p := defaultProfile(t, hw, engine)
	plain := stepModel(t, hw, "qwen3-8b", "bf16", "fp16", p)
	inst := plain.Instance()
	if sp.Method == SpecDraft {
		sp.Draft = Instance{Model: mustModel(t, "qwen3-0.6b"), Weights: inst.Weights, KV: inst.KV}
	}
	inst.Speculative = sp
	s, err := NewStepModel(plain.Hardware(), inst, p)
	if err != nil {
		t.Fatal(err)
	}
	return plain, s
}

func mustModel(t *testing.T, name string) catalog.Model {
	t.Helper()
	m, err := cat.Model(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSpeculativeRound: a decode round costs the target's verification of
// k+1 tokens per sequence (the weights read once, as a decode step), the
// drafter's k steps and round_s; it yields ExpectedTokens per sequence. On
// a DGX Spark (273 GB/s) at one sequence its cost per token is under a
// plain decode step. At 256 sequences of 5 verified tokens each the gain
// shrinks: a Qwen3-0.6B draft's four steps over 256 caches cost more than
// the round saves; a one-layer head (the prior head_cost) still saves the
// target's cache reads. Prefill steps add the drafter's prefill; an empty
// step costs nothing.
func TestSpeculativeRound(t *testing.T) {
	for _, method := range []string{SpecDraft, SpecEagle} {
		plain, s := specModelFor(t, "dgx-spark", "vllm", &Speculative{Method: method, ProposalTokens: 4, AcceptanceRate: 0.7})
		e := s.TokensPerStep()
		if e != ExpectedTokens(4, 0.7) || plain.TokensPerStep() != 1 {
			t.Fatalf("%s: tokens per step %v and %v", method, e, plain.TokensPerStep())
		}
		gain := map[int]float64{}
		for _, tc := range []struct {
			seqs int
			pays bool
		}{{1, true}, {256, method == SpecEagle}} {
			var b Batch
			for range tc.seqs {
				b.AddDecode(700)
			}
			round, step := s.Step(b), plain.Step(b)
			verify := plain.Step(VerifyBatch(b, 5))
			if !(round.Seconds > step.Seconds) || !(round.Memory >= step.Memory) {
				t.Errorf("%s, %d seqs: a round (%v s) costs no more than a decode step (%v s)", method, tc.seqs, round.Seconds, step.Seconds)
			}
			if !(round.DraftMemory > 0) || math.Abs(round.Memory-verify.Memory) > 1e-12 || math.Abs(round.Compute-verify.Compute) > 1e-12 {
				t.Errorf("%s, %d seqs: round %+v, verification %+v", method, tc.seqs, round, verify)
			}
			gain[tc.seqs] = step.Seconds / (round.Seconds / e)
			if got := gain[tc.seqs] > 1; got != tc.pays {
				t.Errorf("%s, %d seqs: %.2f ms per token against %.2f ms plain: pays = %v, want %v",
					method, tc.seqs, 1e3*round.Seconds/e, 1e3*step.Seconds, got, tc.pays)
			}
		}
		if !(gain[256] < gain[1]) {
			t.Errorf("%s: gain %.2f× at 256 sequences, not below %.2f× at one", method, gain[256], gain[1])
		}
		var pre Batch
		pre.AddPrefill(512, 0)
		if c, p := s.Step(pre), plain.Step(pre); !(c.Seconds > p.Seconds) || c.Compute != p.Compute {
			t.Errorf("%s: prefill %+v against %+v: want the target's and a draft part", method, c, p)
		}
		if c := s.Step(Batch{}); c != (StepCost{}) {
			t.Errorf("%s: empty step %+v", method, c)
		}
	}
}

// TestHeadCost: an EAGLE head's draft step is head_cost layers of the
// target's step of the batch.
func TestHeadCost(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "sglang")
	plain := stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "fp16", p)
	var b Batch
	for range 4 {
		b.AddDecode(400)
	}
	cost := func(head float64) StepCost {
		q := p
		q.Speculative = &SpeculativeCoefficients{HeadCost: head, RoundS: 0}
		inst := plain.Instance()
		inst.Speculative = &Speculative{Method: SpecEagle, ProposalTokens: 3, AcceptanceRate: 0.5}
		s, err := NewStepModel(plain.Hardware(), inst, q)
		if err != nil {
			t.Fatal(err)
		}
		return s.Step(b)
	}
	one, ten := cost(1), cost(10)
	layer := plain.Step(b).Memory / 36
	if math.Abs(one.DraftMemory-3*layer) > 1e-12 || math.Abs(ten.DraftMemory-30*layer) > 1e-12 {
		t.Errorf("draft memory %v and %v, want 3 and 30 layers of %v", one.DraftMemory, ten.DraftMemory, layer)
	}
}

// TestSpeculativeErrors: NewStepModel refuses what a round cannot be.
func TestSpeculativeErrors(t *testing.T) {
	p := defaultProfile(t, "h100-sxm", "vllm")
	plain := stepModel(t, "h100-sxm", "qwen3-8b", "bf16", "fp16", p)
	for _, tc := range []struct {
		sp   Speculative
		want string
	}{
		{Speculative{Method: SpecEagle, ProposalTokens: 0}, "proposal tokens"},
		{Speculative{Method: SpecEagle, ProposalTokens: 17}, "proposal tokens"},
		{Speculative{Method: SpecEagle, ProposalTokens: 4, VerifyTokens: 65}, "verified tokens"},
		{Speculative{Method: SpecEagle, ProposalTokens: 4, AcceptanceRate: 1}, "acceptance rate"},
		{Speculative{Method: "medusa", ProposalTokens: 4}, "unknown method"},
	} {
		inst := plain.Instance()
		inst.Speculative = &tc.sp
		if _, err := NewStepModel(plain.Hardware(), inst, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.sp, err, tc.want)
		}
	}
}

// TestSpeculativeStepDoesNotAllocate: a round is a few term evaluations.
func TestSpeculativeStepDoesNotAllocate(t *testing.T) {
	_, s := specModelFor(t, "dgx-spark", "vllm", &Speculative{Method: SpecDraft, ProposalTokens: 4, AcceptanceRate: 0.7})
	var b Batch
	for range 8 {
		b.AddDecode(4000)
	}
	if n := testing.AllocsPerRun(100, func() { s.Step(b) }); n != 0 {
		t.Fatalf("Step allocates %v times per call, want 0", n)
	}
}

// TestParseSpeculativeTable: the [speculative] table's keys are bounded and
// named in errors; keys it leaves out take the priors.
func TestParseSpeculativeTable(t *testing.T) {
	good, err := os.ReadFile("../profiles/h100-sxm.sglang.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(good)
	p, err := ParseProfile("p.toml", good)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Speculative; c == nil || !(c.HeadCost > 0 && c.RoundS > 0 && c.HeadCostStdErr > 0 && c.RoundSStdErr > 0) {
		t.Errorf("the shipped SGLang profile's [speculative] table: %+v", c)
	}
	for _, tc := range []struct{ old, new, want string }{
		{"head_cost = ", "head_cost = -1 #", "speculative.head_cost: must be in [0, 1000]"},
		{"round_s = ", "round_s = 120 #", "speculative.round_s: must be in [0, 60]"},
		{"round_s_stderr = ", "round_s_stderr = -1 #", "speculative.round_s_stderr"},
		{"[speculative]\n", "[speculative]\nturbo = 1\n", "speculative.turbo"},
	} {
		if !strings.Contains(src, tc.old) {
			t.Fatalf("profile has no %q", tc.old)
		}
		_, err := ParseProfile("p.toml", []byte(strings.Replace(src, tc.old, tc.new, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.new, err, tc.want)
		}
	}
	// A table of only round_s takes the prior head_cost.
	i := strings.Index(src, "\n[speculative]\n")
	j := strings.Index(src, "\n[provenance]\n")
	q, err := ParseProfile("p.toml", []byte(src[:i]+"\n[speculative]\nround_s = 0.002\n"+src[j:]))
	if err != nil {
		t.Fatal(err)
	}
	if q.Speculative.HeadCost != DefaultSpeculative().HeadCost || q.Speculative.RoundS != 0.002 {
		t.Errorf("partial table %+v", q.Speculative)
	}
}
