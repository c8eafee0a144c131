// Package perf predicts how long one serving step of one model instance takes
// on one accelerator, from first principles and a few fitted coefficients.
//
// A step processes a batch: prefill chunks of some sequences and one decode
// token for others, each at its own context length. Its time is
//
//	max(compute, memory) + overheads
//
// where compute is the step's FLOPs (linear layers, routed experts,
// attention) at fitted fractions of the device's tensor-core peak, memory is
// its bytes (weights once per step, the experts the batch touches, the KV
// cache read and written) at fitted fractions of peak bandwidth, and the
// overheads are fixed costs per step, per layer and per sequence (kernel
// launches, scheduling, sampling). The fractions and overheads live in a
// Profile per (hardware, engine).
//
// The time depends on the batch only through a few sums (Batch), so a
// simulator can keep them up to date incrementally instead of walking every
// sequence every step.
package perf

import (
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/catalog"
)

// Instance is a model deployed in a given weight format and KV-cache type.
type Instance struct {
	Model   catalog.Model
	Weights catalog.Format
	KV      catalog.KVType
	// Experts is the routed experts' format where it differs from Weights
	// (catalog.Catalog.WeightFormats: a model released with only its
	// experts quantized); the zero value means Weights (formats.go).
	Experts catalog.Format
	// Layout spreads the instance over several devices of its node
	// (parallel.go); the zero value is one device.
	Layout Layout
	// Speculative is the instance's speculative decoding (perf/speculative.go);
	// nil for none.
	Speculative *Speculative
}

// Batch is the work of one step, reduced to the sums the step time depends on.
// Build it with AddPrefill and AddDecode.
type Batch struct {
	PrefillTokens int     // prompt tokens processed this step
	PrefillSeqs   int     // sequences with a prefill chunk this step
	DecodeSeqs    int     // sequences generating one token each
	AttendedPairs float64 // Σ over new tokens of the positions each attends to (causal)
	KVTokensRead  float64 // Σ over sequences of the cached tokens the step reads
	// AttendedSquares is Σ over new tokens of the square of the positions
	// each attends to: attention work weighted by its depth, for the
	// attention_depth term (flash attention slows as the context grows).
	AttendedSquares float64
}

// AddPrefill adds a prefill chunk of n prompt tokens for a sequence that
// already holds context tokens in its KV cache.
func (b *Batch) AddPrefill(n, context int) {
	if n <= 0 {
		return
	}
	fn, fc := float64(n), float64(context)
	b.PrefillTokens += n
	b.PrefillSeqs++
	b.AttendedPairs += fn*fc + fn*(fn+1)/2
	b.KVTokensRead += fc + fn
	// Σ_{i=1..n} (c+i)²
	b.AttendedSquares += fn*fc*fc + fc*fn*(fn+1) + fn*(fn+1)*(2*fn+1)/6
}

// AddDecode adds one decode token for a sequence with context cached tokens.
func (b *Batch) AddDecode(context int) {
	b.DecodeSeqs++
	b.AttendedPairs += float64(context) + 1
	b.KVTokensRead += float64(context) + 1
	b.AttendedSquares += (float64(context) + 1) * (float64(context) + 1)
}

// AddDecodes adds one decode token for each of n sequences whose contexts
// plus one sum to attended and whose squares of that sum to squares: n
// AddDecode calls at once, for a caller that keeps the sums (sim). While
// the sums stay below 2^53 the result is bit for bit the calls'.
func (b *Batch) AddDecodes(n int, attended, squares int64) {
	b.DecodeSeqs += n
	b.AttendedPairs += float64(attended)
	b.KVTokensRead += float64(attended)
	b.AttendedSquares += float64(squares)
}

// Tokens is the number of new tokens the step processes.
func (b Batch) Tokens() int { return b.PrefillTokens + b.DecodeSeqs }

// Seqs is the number of sequences in the step.
func (b Batch) Seqs() int { return b.PrefillSeqs + b.DecodeSeqs }

// StepCost is the predicted cost of one step.
type StepCost struct {
	Seconds  float64 // wall time of the step
	Compute  float64 // seconds the tensor cores need at the fitted efficiencies
	Memory   float64 // seconds the memory system needs at the fitted efficiencies
	Overhead float64 // fixed seconds (launches, scheduling, sampling)
	// Serial is the share of the smaller of Compute and Memory that does
	// not overlap the larger (the profile's serial_fraction): Seconds is
	// max + Serial × min + Overhead.
	Serial float64
	FLOPs  float64 // floating-point operations performed
	Bytes  float64 // bytes moved to or from device memory
	// Comm is the collectives' seconds on the step's critical path, of an
	// instance over several devices (parallel.go); Overhead includes it.
	// FLOPs and Bytes are then one device's, the most loaded.
	Comm float64
	// DraftCompute and DraftMemory are the compute and memory seconds of
	// a speculative step's draft steps (perf/speculative.go), which run
	// apart from the target's kernels: Seconds adds their max (and Serial ×
	// their min). 0 without speculative decoding.
	DraftCompute, DraftMemory float64
}

// MemoryBound reports whether memory, not compute, set the step's time.
func (c StepCost) MemoryBound() bool { return c.Memory >= c.Compute }

// StepModel predicts step times for one instance on one device with one
// profile. It is immutable and safe for concurrent use.
type StepModel struct {
	inst    Instance
	hw      catalog.Hardware
	profile Profile
	coef    [numTerms]float64

	// Work per unit, precomputed so Step does a handful of multiplications.
	denseFLOPsPerToken  float64 // linear layers every token uses
	lmHeadFLOPsPerSeq   float64 // output projection, one logits row per sequence
	expertFLOPsPerToken float64 // routed experts
	attnFLOPsPerPair    float64 // QK and PV over all layers per attended position
	denseWeightBytes    float64 // read once per step
	expertBytes         float64 // one expert in one layer
	kvBytesPerToken     float64

	linearPeak, attnPeak, bandwidth float64 // FLOP/s, FLOP/s, byte/s
	expertPeak                      float64 // FLOP/s of the experts' format
	// window is the sliding window in tokens and windowShare the share
	// of layers attending through it (window.go); 0 for none.
	window, windowShare   float64
	layers, experts, topK float64
	// linearScale multiplies the dense linear-layer compute terms: 1 / the
	// weight format family's compute efficiency relative to the profile's
	// (kquant_compute_rel, fp4_compute_rel; 1 where none applies).
	linearScale float64
	// serial is the profile's serial_fraction; tokenShare is 1 -
	// expert_overlap, the share of a step's tokens after the first that
	// draw experts independently.
	serial, tokenShare float64
	logMiss            float64 // log(1 - topK/experts): a token misses a given expert
	// distinct[T] is DistinctExperts(T) for T < distinctTable (nil for a
	// dense model). Shared by copies (without expert_overlap by every
	// model of the same experts, independentTable), never written after
	// setFactors.
	distinct []float64
	// par is the layout of an instance over several devices; nil for one
	// device, whose steps are priced as before parallelism.
	par *parallelState
	// spec is the speculative decoding part (perf/speculative.go); nil for
	// none.
	spec *specModel

	// Quotients and sums of the fields above that every step used to
	// recompute, kept by prepare; each is the same expression, so a step
	// is bit for bit what it was, with fewer divisions.
	linear         float64 // linearScale / linearPeak
	weightSeconds  float64 // denseWeightBytes / bandwidth
	decodeFLOPsSeq float64 // denseFLOPsPerToken + lmHeadFLOPsPerSeq
	depthPeak      float64 // attnPeak * depthScale
}

// prepare computes the step's constant quotients from the fields they
// depend on; NewStepModel and setFactors (which changes linearScale) call
// it once they are set.
func (s *StepModel) prepare() {
	s.linear = s.linearScale / s.linearPeak
	s.weightSeconds = s.denseWeightBytes / s.bandwidth
	s.decodeFLOPsSeq = s.denseFLOPsPerToken + s.lmHeadFLOPsPerSeq
	s.depthPeak = s.attnPeak * depthScale
}

// NewStepModel builds the step model for an instance on hardware hw.
func NewStepModel(hw catalog.Hardware, inst Instance, p Profile) (*StepModel, error) {
	if err := p.Coefficients.validate(); err != nil {
		return nil, fmt.Errorf("profile %s/%s: %w", p.Hardware, p.Engine, err)
	}
	m := inst.Model
	s := &StepModel{inst: inst, hw: hw}
	bpw := inst.Weights.BitsPerWeight / 8
	s.layers = float64(m.Layers)
	s.denseFLOPsPerToken = 2 * s.layers * float64(m.DenseLayerParams())
	s.lmHeadFLOPsPerSeq = 2 * float64(m.LMHeadParams())
	s.attnFLOPsPerPair = 4 * s.layers * float64(m.AttentionHeads*m.HeadDim)
	s.denseWeightBytes = (s.layers*float64(m.DenseLayerParams()) + float64(m.LMHeadParams())) * bpw
	if m.MoE() {
		s.experts, s.topK = float64(m.Experts), float64(m.ExpertsPerToken)
		s.expertFLOPsPerToken = 2 * s.layers * s.topK * float64(m.ExpertParams())
		s.expertBytes = float64(m.ExpertParams()) * inst.ExpertFormat().BitsPerWeight / 8
		s.logMiss = math.Log1p(-s.topK / s.experts)
	}
	s.kvBytesPerToken = m.KVBytesPerToken(inst.KV)
	s.setProfile(p)
	s.linearPeak = hw.FLOPS(kernelDtype(inst.Weights, p.Engine))
	s.expertPeak = hw.FLOPS(kernelDtype(inst.ExpertFormat(), p.Engine))
	s.attnPeak = hw.FLOPS(inst.KV.Compute)
	s.bandwidth = hw.BandwidthBytesPerSecond()
	s.setWindow()
	if !(s.linearPeak > 0) || !(s.expertPeak > 0) || !(s.attnPeak > 0) || !(s.bandwidth > 0) {
		return nil, fmt.Errorf("hardware %s: no peak for %s/%s compute or no bandwidth", hw.Name, inst.Weights.Compute, inst.KV.Compute)
	}
	if !inst.Layout.Trivial() {
		if err := s.applyLayout(p); err != nil {
			return nil, fmt.Errorf("%s on %s: %w", m.Name, hw.Name, err)
		}
	}
	s.prepare()
	if err := s.setSpeculative(hw, p); err != nil {
		return nil, err
	}
	return s, nil
}

// setProfile makes p the profile in use: its coefficients and the factors
// they set (format family, serial fraction, expert overlap).
func (s *StepModel) setProfile(p Profile) {
	s.profile = p
	s.coef = p.Coefficients.vector()
	s.setFactors(p.Coefficients)
	s.setParallel(p)
}

// setFactors takes the coefficients that are not linear terms from c.
func (s *StepModel) setFactors(c Coefficients) {
	s.linearScale = 1 / c.computeRel(s.inst.Weights)
	s.serial = c.SerialFraction
	share := 1 - c.ExpertOverlap
	if share != s.tokenShare || s.distinct == nil {
		s.tokenShare = share
		s.distinct = nil
		if s.experts > 0 && share == 1 {
			s.distinct = independentTable(s.experts, s.topK)
		}
		if s.experts > 0 && share != 1 {
			s.distinct = make([]float64, distinctTable)
			for n := 1; n < distinctTable; n++ {
				s.distinct[n] = s.distinctOverlap(n)
			}
		}
	}
	s.prepare()
}

// Instance returns the deployed model.
func (s *StepModel) Instance() Instance { return s.inst }

// Hardware returns the device.
func (s *StepModel) Hardware() catalog.Hardware { return s.hw }

// Profile returns the profile in use.
func (s *StepModel) Profile() Profile { return s.profile }

// WeightBytes is the memory the weights occupy, over all the instance's
// devices.
func (s *StepModel) WeightBytes() float64 { return s.inst.WeightBytes() }

// KVBytesPerToken is the KV-cache memory one token of context occupies,
// over all the instance's devices.
func (s *StepModel) KVBytesPerToken() float64 {
	if s.par != nil {
		return float64(s.par.devices) * s.kvBytesPerToken
	}
	return s.kvBytesPerToken
}

// Terms of the step-time model. Efficiency terms are seconds at 100% of
// peak, scaled by 1/efficiency; the others are counts or seconds scaled by
// their coefficient (seconds, a factor). Compute terms come first, then
// memory terms, then overheads.
const (
	termPrefillCompute = iota
	termDecodeCompute
	termExpertCompute
	termAttentionCompute
	termAttentionDepth // attention seconds at peak × attended position / depthScale
	termExpertGEMM     // touched (expert, layer) pairs: a fixed cost per grouped-GEMM tile
	termWeightMemory
	termExpertMemory
	termKVMemory
	termStepOverhead
	termLayerOverhead
	termSeqOverhead
	termMultiSeqWeightPass
	termMultiSeqExpertPass // touched expert bytes at peak, in steps of two or more tokens
	numTerms

	firstMemoryTerm   = termWeightMemory
	firstOverheadTerm = termStepOverhead

	// depthScale is the context (tokens) at which attention_depth is
	// quoted: a coefficient a makes attention at 32K positions cost
	// (1/attention_compute_eff + a) times its FLOPs at peak.
	depthScale = 32768
)

// terms returns the step's work in each term of the model: seconds at peak
// for the compute and memory terms, counts for the overhead terms.
func (s *StepModel) terms(b Batch) (t [numTerms]float64, flops, bytes float64) {
	countFLOPs, attnFLOPs, countBytes, kvBytes := s.termParts(&t, b)
	return t, countFLOPs + attnFLOPs, countBytes + kvBytes
}

// termParts is terms, into t (zero on entry), with its FLOPs and bytes in two parts each: what the
// batch's token and sequence counts set (linear layers and experts;
// weights and experts) and what its contexts add (attention; the KV
// cache), for StepPair, which reuses the first.
func (s *StepModel) termParts(t *[numTerms]float64, b Batch) (countFLOPs, attnFLOPs, countBytes, kvBytes float64) {
	tokens := b.Tokens()
	if tokens == 0 {
		return 0, 0, 0, 0
	}
	pf, df := float64(b.PrefillTokens), float64(b.DecodeSeqs)
	prefillFLOPs := pf*s.denseFLOPsPerToken + float64(b.PrefillSeqs)*s.lmHeadFLOPsPerSeq
	decodeFLOPs := df * s.decodeFLOPsSeq
	// A dense model's expert terms are all +0 (t is zero on entry), as
	// their products by its zero expert sizes were.
	var expertFLOPs, expertBytes, expertSeconds float64
	if s.experts > 0 {
		expertFLOPs = (pf + df) * s.expertFLOPsPerToken
		touched := s.DistinctExperts(tokens)
		expertBytes = touched * s.layers * s.expertBytes
		expertSeconds = expertBytes / s.bandwidth
		t[termExpertCompute] = expertFLOPs / s.expertPeak
		t[termExpertGEMM] = touched * s.layers
		t[termExpertMemory] = expertSeconds
	}

	t[termPrefillCompute] = prefillFLOPs * s.linear
	t[termDecodeCompute] = decodeFLOPs * s.linear
	attnFLOPs, kvBytes = s.contextTerms(t, b)
	t[termWeightMemory] = s.weightSeconds
	t[termStepOverhead] = 1
	t[termLayerOverhead] = s.layers
	t[termSeqOverhead] = float64(b.Seqs())
	if tokens >= 2 {
		// ggml switches from matrix-vector to matrix-matrix kernels on the
		// tokens of the batch, whether they come from one prompt or many
		// sequences (issue 13: a 16-token prefill of Qwen3-8B costs a third
		// more than a decode step).
		t[termMultiSeqWeightPass] = s.weightSeconds
		// The routed experts' matrix multiplications switch kernels too
		// (ggml's mul_mat_id): passes over the experts the step touches.
		t[termMultiSeqExpertPass] = expertSeconds
	}
	return prefillFLOPs + decodeFLOPs + expertFLOPs, attnFLOPs, s.denseWeightBytes + expertBytes, kvBytes
}

// contextTerms sets the terms that depend on the batch's contexts
// (attention compute and depth, KV memory) and returns the attention FLOPs
// and the KV bytes.
func (s *StepModel) contextTerms(t *[numTerms]float64, b Batch) (attnFLOPs, kvBytes float64) {
	pairs, squares, kvRead := s.attended(b) // window.go: capped on windowed layers
	attnFLOPs = pairs * s.attnFLOPsPerPair
	kvBytes = (kvRead + float64(b.Tokens())) * s.kvBytesPerToken
	t[termAttentionCompute] = attnFLOPs / s.attnPeak
	t[termAttentionDepth] = squares * s.attnFLOPsPerPair / s.depthPeak
	t[termKVMemory] = kvBytes / s.bandwidth
	return attnFLOPs, kvBytes
}

// Step predicts the cost of one step. It does not allocate. A speculative
// instance's decode-only step is one round of speculative decoding
// (perf/speculative.go), which yields TokensPerStep tokens per sequence.
func (s *StepModel) Step(b Batch) StepCost {
	if s.spec != nil {
		return s.specStep(b)
	}
	if s.par != nil {
		return s.parallelStep(b)
	}
	return s.step(b)
}

// base is a step of the target without speculative decoding: over its
// layout's devices, or on one.
func (s *StepModel) base(b Batch) StepCost {
	if s.par != nil {
		return s.parallelStep(b)
	}
	return s.step(b)
}

// step is the target's step, without speculative decoding.
func (s *StepModel) step(b Batch) StepCost {
	t, flops, bytes := s.terms(b)
	c := combine(&t, &s.coef, s.serial)
	c.FLOPs, c.Bytes = flops, bytes
	return c
}

// combine applies coefficients to terms: max(compute, memory) + serial ×
// min(compute, memory) + overhead.
func combine(t, coef *[numTerms]float64, serial float64) StepCost {
	// The loops over the terms, unrolled (a fifth of a step's
	// instructions were loop control): the same sums in the same order,
	// from +0. A term added to the model must join them (the array
	// below stops the build until it does).
	var _ [numTerms - 14][14 - numTerms]struct{}
	var c StepCost
	c.Compute += t[termPrefillCompute] * coef[termPrefillCompute]
	c.Compute += t[termDecodeCompute] * coef[termDecodeCompute]
	c.Compute += t[termExpertCompute] * coef[termExpertCompute]
	c.Compute += t[termAttentionCompute] * coef[termAttentionCompute]
	c.Compute += t[termAttentionDepth] * coef[termAttentionDepth]
	c.Compute += t[termExpertGEMM] * coef[termExpertGEMM]
	c.Memory += t[termWeightMemory] * coef[termWeightMemory]
	c.Memory += t[termExpertMemory] * coef[termExpertMemory]
	c.Memory += t[termKVMemory] * coef[termKVMemory]
	c.Overhead += t[termStepOverhead] * coef[termStepOverhead]
	c.Overhead += t[termLayerOverhead] * coef[termLayerOverhead]
	c.Overhead += t[termSeqOverhead] * coef[termSeqOverhead]
	c.Overhead += t[termMultiSeqWeightPass] * coef[termMultiSeqWeightPass]
	c.Overhead += t[termMultiSeqExpertPass] * coef[termMultiSeqExpertPass]
	c.Seconds = fmax(c.Compute, c.Memory) + c.Overhead
	c.Serial = serial
	if serial != 0 {
		c.Seconds += serial * fmin(c.Compute, c.Memory)
	}
	return c
}

// fmax is math.Max, inlined where the operands are ordered (math.Max is a
// call on amd64); ties (signed zeros) and NaN take math.Max.
func fmax(a, b float64) float64 {
	if a > b {
		return a
	}
	if b > a {
		return b
	}
	return math.Max(a, b)
}

// fmin is math.Min, inlined where the operands are ordered.
func fmin(a, b float64) float64 {
	if a < b {
		return a
	}
	if b < a {
		return b
	}
	return math.Min(a, b)
}

// shape is a coefficient that is not a linear term of the model
// (serial_fraction, expert_overlap): the fit sets it by a 1-D search.
type shape struct {
	name   string
	v      float64
	hi     float64 // upper bound
	openHi bool    // hi itself is out of range
}

// shapes lists the shape coefficients as in the file.
func (c Coefficients) shapes() [2]shape {
	return [2]shape{
		{name: "serial_fraction", v: c.SerialFraction, hi: 1},
		{name: "expert_overlap", v: c.ExpertOverlap, hi: 1, openHi: true},
	}
}

func (sh shape) ok() bool {
	return sh.v >= 0 && (sh.v < sh.hi || !sh.openHi && sh.v == sh.hi)
}

func (sh shape) bounds() string {
	if sh.openHi {
		return fmt.Sprintf("[0, %g)", sh.hi)
	}
	return fmt.Sprintf("[0, %g]", sh.hi)
}

// setShape sets the shape coefficient named name.
func (c *Coefficients) setShape(name string, v float64) {
	switch name {
	case "serial_fraction":
		c.SerialFraction = v
	case "expert_overlap":
		c.ExpertOverlap = v
	}
}
