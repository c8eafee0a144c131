package perf

import (
	"fmt"
	"math"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Speculative decoding (issue 15): a cheap drafter proposes k tokens for
// each decoding sequence, one step of the target verifies them all, and the
// sequence keeps the accepted prefix plus one token of the target's own.
// With a per-token acceptance α the expected tokens of one such round are
//
//	E = (1 − α^(k+1)) / (1 − α)
//
// (Leviathan, Kalman and Matias 2023, "Fast Inference from Transformers via
// Speculative Decoding", ICML, eq. 1: the expected number of tokens one run
// of the target produces with γ = k guesses). A round costs the drafter's k
// steps, the target's verification of v = k+1 tokens per sequence (an EAGLE
// tree verifies more, SGLang's num_draft_tokens) and a fixed cost per round;
// on a bandwidth-bound device the verification reads the weights once, as a
// decode step does, so the round costs little more than one decode step and
// yields E tokens. Once the verification's v·D tokens make it compute-bound
// (large batches) the gain shrinks and turns into a loss.

// The speculative decoding methods.
const (
	SpecDraft = "draft" // a smaller model of the same vocabulary drafts (vLLM, SGLang STANDALONE, llama.cpp --model-draft)
	SpecEagle = "eagle" // EAGLE heads trained for the target (EAGLE, EAGLE-3)
	SpecMTP   = "mtp"   // multi-token-prediction modules built into the target (DeepSeek-V3 NextN)
)

// SpecMethods are the valid values of Speculative.Method.
var SpecMethods = []string{SpecDraft, SpecEagle, SpecMTP}

// Bounds on a speculative round: no engine proposes more than 16 tokens
// per step with a chain (vLLM, SGLang and TensorRT-LLM default to 3-5), and
// a tree of more than 64 verified tokens per sequence is none either.
const (
	MaxProposalTokens = 16
	MaxVerifyTokens   = 64
)

// Speculative is an instance's speculative decoding, resolved.
type Speculative struct {
	Method string
	// Draft is the drafting model's deployment for method "draft" (the
	// target's KV type); zero for heads.
	Draft Instance
	// ProposalTokens is k, the tokens drafted per round (the depth of an
	// EAGLE tree: SGLang's num_steps).
	ProposalTokens int
	// VerifyTokens is how many tokens the target verifies per sequence per
	// round: k+1 for a chain (0 means that), an EAGLE tree's node count
	// (SGLang's num_draft_tokens) for a tree.
	VerifyTokens int
	// AcceptanceRate is α, the chance each drafted token is accepted (the
	// workload's: a tree's effective α is that of the chain with the same
	// accepted length).
	AcceptanceRate float64
}

// ExpectedTokens is the expected tokens one round yields per sequence with
// k drafted tokens each accepted with probability alpha (Leviathan et al.
// 2023, eq. 1): (1 − α^(k+1)) / (1 − α), 1 at α = 0, k+1 as α → 1.
func ExpectedTokens(k int, alpha float64) float64 {
	if alpha <= 0 || k <= 0 {
		return 1
	}
	if alpha >= 1 {
		return float64(k + 1)
	}
	return -math.Expm1(float64(k+1)*math.Log(alpha)) / (1 - alpha)
}

// AcceptanceFor is the acceptance rate at which k drafted tokens yield
// tokens per round in expectation (ExpectedTokens inverted, by bisection):
// 0 for tokens <= 1, just under 1 for tokens >= k+1. Validation reads a
// published run's accepted length (its ITL over its TPOT) through it.
func AcceptanceFor(k int, tokens float64) float64 {
	if !(tokens > 1) || k <= 0 {
		return 0
	}
	lo, hi := 0.0, 1.0
	for range 64 {
		mid := (lo + hi) / 2
		if ExpectedTokens(k, mid) < tokens {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Min(lo, math.Nextafter(1, 0))
}

// ExpectedTokens is the tokens per sequence a round yields in expectation.
func (s *Speculative) ExpectedTokens() float64 {
	return ExpectedTokens(s.ProposalTokens, s.AcceptanceRate)
}

// Verify is the tokens the target verifies per sequence per round.
func (s *Speculative) Verify() int {
	if s.VerifyTokens > 0 {
		return s.VerifyTokens
	}
	return s.ProposalTokens + 1
}

// WeightBytes is the memory the drafter's weights take beside the
// target's: the draft model's at its format, or for heads one decoder layer
// of the target and an LM head (an EAGLE-3 head and a DeepSeek NextN module
// are each one transformer layer with its own output projection) at the
// target's format. 0 for nil.
func (s *Speculative) WeightBytes(target Instance) float64 {
	if s == nil {
		return 0
	}
	if s.Method == SpecDraft {
		return float64(s.Draft.Model.WeightParams()) * s.Draft.Weights.BitsPerWeight / 8
	}
	m := target.Model
	return float64(m.DenseLayerParams()+m.LMHeadParams()) * target.Weights.BitsPerWeight / 8
}

// KVBytesPerToken is the KV cache the drafter keeps per token of context
// beside the target's: the draft model's whole cache, or a head's one
// layer. 0 for nil.
func (s *Speculative) KVBytesPerToken(target Instance) float64 {
	if s == nil {
		return 0
	}
	if s.Method == SpecDraft {
		return s.Draft.Model.KVBytesPerToken(s.Draft.KV)
	}
	return target.Model.KVBytesPerToken(target.KV) / float64(max(target.Model.Layers, 1))
}

// SpeculativeCoefficients are the fitted constants of speculative rounds
// on one (hardware, engine): the [speculative] table of a profile. A
// profile without it uses DefaultSpeculative's priors.
type SpeculativeCoefficients struct {
	// HeadCost is the time of one draft step of EAGLE or MTP heads, in
	// layers of the target: the target's decode step of the same batch,
	// less its fixed overheads, divided by its layers, times head_cost. A
	// head is one decoder layer and an output projection, launched on its
	// own per step, so it costs more than one layer of a fused step.
	HeadCost       float64 `toml:"head_cost"`
	HeadCostStdErr float64 `toml:"head_cost_stderr" tomlcheck:"nonfinite"`
	// RoundS is the fixed time of one round (seconds): the drafter's
	// re-run over the accepted tokens, building the tree and its mask,
	// accepting, and the scheduler's time that speculative engines no
	// longer overlap with the GPU (SGLang turns its overlap scheduler off
	// for EAGLE).
	RoundS       float64 `toml:"round_s"`
	RoundSStdErr float64 `toml:"round_s_stderr" tomlcheck:"nonfinite"`
	// Source says what the coefficients were fitted on, or "prior: ...".
	Source string `toml:"source,omitempty"`
}

// The priors of DefaultSpeculative: a head costs one layer, a round
// nothing beyond its steps.
const (
	priorHeadCost = 1
	priorRoundS   = 0
	maxHeadCost   = 1000 // layers: a head slower than a thousand layers is no head
)

// DefaultSpeculative is the speculative coefficients of a profile without a
// [speculative] table.
func DefaultSpeculative() SpeculativeCoefficients {
	return SpeculativeCoefficients{HeadCost: priorHeadCost, RoundS: priorRoundS,
		Source: "prior: a head step costs one layer of the target (head_cost 1), a round nothing beyond its steps (round_s 0); not fitted"}
}

// OrDefault returns c, or DefaultSpeculative where c is nil.
func (c *SpeculativeCoefficients) OrDefault() SpeculativeCoefficients {
	if c == nil {
		return DefaultSpeculative()
	}
	return *c
}

// check fills the keys the table leaves out from DefaultSpeculative and
// bounds the rest, reporting to errs as OutOfRange.
func (c *SpeculativeCoefficients) check(md toml.MetaData, errs *tomlcheck.Errors) {
	def := DefaultSpeculative()
	if !md.IsDefined("speculative", "head_cost") {
		c.HeadCost = def.HeadCost
	}
	if !md.IsDefined("speculative", "round_s") {
		c.RoundS = def.RoundS
	}
	for _, t := range []struct {
		name  string
		v, hi float64
	}{{"head_cost", c.HeadCost, maxHeadCost}, {"round_s", c.RoundS, maxOverhead},
		{"head_cost_stderr", c.HeadCostStdErr, math.Inf(1)}, {"round_s_stderr", c.RoundSStdErr, math.Inf(1)}} {
		if !(t.v >= 0 && t.v <= t.hi) {
			errs.AddKind(tomlcheck.OutOfRange, []string{"speculative", t.name}, "must be in [0, %g], got %v", t.hi, t.v)
		}
	}
}

// specModel is the speculative part of a StepModel.
type specModel struct {
	k, verify int
	tokens    float64    // E, per decode sequence per round
	draft     *StepModel // method draft; nil for heads
	// headCost and roundS are the profile's (or the priors).
	headCost, roundS float64
}

// setSpeculative builds the speculative part of the step model for inst's
// speculative decoding, if any: the draft model's own step model on the
// same device and profile.
func (s *StepModel) setSpeculative(hw catalog.Hardware, p Profile) error {
	sp := s.inst.Speculative
	if sp == nil {
		return nil
	}
	if sp.ProposalTokens < 1 || sp.ProposalTokens > MaxProposalTokens {
		return fmt.Errorf("speculative decoding: proposal tokens must be in [1, %d], got %d", MaxProposalTokens, sp.ProposalTokens)
	}
	if v := sp.Verify(); v < 2 || v > MaxVerifyTokens {
		return fmt.Errorf("speculative decoding: verified tokens must be in [2, %d], got %d", MaxVerifyTokens, v)
	}
	if !(sp.AcceptanceRate >= 0 && sp.AcceptanceRate < 1) {
		return fmt.Errorf("speculative decoding: acceptance rate must be in [0, 1), got %v", sp.AcceptanceRate)
	}
	c := p.Speculative.OrDefault()
	m := &specModel{k: sp.ProposalTokens, verify: sp.Verify(), tokens: sp.ExpectedTokens(), headCost: c.HeadCost, roundS: c.RoundS}
	switch sp.Method {
	case SpecDraft:
		// Over several devices the drafter runs tensor-parallel on the
		// target's stage devices, as vLLM (draft_tensor_parallel_size
		// defaults to the target's) and SGLang do; it is not pipelined.
		draft := sp.Draft
		if !s.inst.Layout.Trivial() && draft.Layout.Trivial() {
			tp, _, _ := s.inst.Layout.Degrees()
			draft.Layout = Layout{TP: tp, Link: s.inst.Layout.Link}
		}
		d, err := NewStepModel(hw, draft, p)
		if err != nil {
			return fmt.Errorf("speculative decoding: draft %s: %w", sp.Draft.Model.Name, err)
		}
		m.draft = d
	case SpecEagle, SpecMTP:
	default:
		return fmt.Errorf("speculative decoding: unknown method %q", sp.Method)
	}
	s.spec = m
	return nil
}

// TokensPerStep is the tokens a decode-only step yields per sequence in
// expectation: E for a speculative instance, 1 otherwise.
func (s *StepModel) TokensPerStep() float64 {
	if s.spec == nil {
		return 1
	}
	return s.spec.tokens
}

// specStep is Step for a speculative instance. A decode-only step is one
// round: the drafter's k steps over the batch, then the target verifying
// v tokens per sequence, then round_s. A step holding prompt chunks runs
// the target and the drafter over the same batch (the drafter prefills
// what the target does) with no verification: its decodes take one token
// each, as without speculation (see docs/performance-model.md).
func (s *StepModel) specStep(b Batch) StepCost {
	sp := s.spec
	if b.Tokens() == 0 {
		return s.base(b)
	}
	var c StepCost
	drafts := 1.0
	if b.PrefillTokens == 0 {
		c = s.verifyStep(b, sp.verify)
		c.Overhead += sp.roundS
		drafts = float64(sp.k)
	} else {
		c = s.base(b)
	}
	d := s.draftStep(b)
	c.DraftCompute, c.DraftMemory = drafts*d.Compute, drafts*d.Memory
	c.Overhead += drafts * d.Overhead
	c.Comm += drafts * d.Comm
	c.FLOPs += drafts * d.FLOPs
	c.Bytes += drafts * d.Bytes
	c.Seconds = c.total()
	return c
}

// total is a cost's wall time from its parts: max(compute, memory) +
// serial·min(compute, memory), the same for the draft's part, plus the
// overhead.
func (c StepCost) total() float64 {
	t := math.Max(c.Compute, c.Memory) + c.Overhead
	if c.Serial != 0 {
		t += c.Serial * math.Min(c.Compute, c.Memory)
	}
	if c.DraftCompute != 0 || c.DraftMemory != 0 {
		t += math.Max(c.DraftCompute, c.DraftMemory)
		if c.Serial != 0 {
			t += c.Serial * math.Min(c.DraftCompute, c.DraftMemory)
		}
	}
	return t
}

// draftStep is one draft step over batch b: the draft model's own step,
// or for heads head_cost layers of the target's step of b (its compute and
// memory over its layers, and head_cost layer overheads).
func (s *StepModel) draftStep(b Batch) StepCost {
	sp := s.spec
	if sp.draft != nil {
		return sp.draft.base(b)
	}
	t := s.base(b)
	// Heads of head_cost layers: that share of a step's work, and over
	// several devices that share of its collectives.
	f := sp.headCost / s.layers
	return StepCost{Compute: f * t.Compute, Memory: f * t.Memory, Overhead: sp.headCost*s.coef[termLayerOverhead] + f*t.Comm,
		Comm: f * t.Comm, FLOPs: f * t.FLOPs, Bytes: f * t.Bytes}
}

// VerifyBatch is the target's work verifying v tokens for each sequence of
// a decode batch b: v·D new tokens, each with its logits row (a decode step
// with v times the tokens), the i-th of a sequence at context c attending
// c+i positions, and each sequence's cache read once. Its Seqs() counts
// tokens; verifyStep charges per-sequence overheads for b's sequences.
func VerifyBatch(b Batch, v int) Batch {
	d, fv := float64(b.DecodeSeqs), float64(v)
	// From the decode batch: Σ(c+1) and Σ(c+1)² over its sequences.
	a, sq := b.AttendedPairs, b.AttendedSquares
	sumC := a - d
	sumC2 := sq - 2*a + d
	return Batch{
		DecodeSeqs:      b.DecodeSeqs * v,
		AttendedPairs:   fv*sumC + d*fv*(fv+1)/2,
		KVTokensRead:    b.KVTokensRead + d*(fv-1),
		AttendedSquares: fv*sumC2 + fv*(fv+1)*sumC + d*fv*(fv+1)*(2*fv+1)/6,
	}
}

// verifyStep is the target's step verifying v tokens per sequence of the
// decode batch b, its per-sequence overhead that of b's sequences.
func (s *StepModel) verifyStep(b Batch, v int) StepCost {
	if s.par != nil {
		return s.parallelSeqs(VerifyBatch(b, v), b.Seqs())
	}
	t, flops, bytes := s.terms(VerifyBatch(b, v))
	t[termSeqOverhead] = float64(b.Seqs())
	c := combine(&t, &s.coef, s.serial)
	c.FLOPs, c.Bytes = flops, bytes
	return c
}
