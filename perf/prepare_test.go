package perf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refStep is a one-device step as it was priced before prepare: every
// quotient evaluated per step, the expert terms of a dense model too. It
// pins prepare's hoisting to the same bits. It returns the terms too: a
// term whose coefficient is 0 does not show in the cost.
func refStep(s *StepModel, b Batch) (StepCost, [numTerms]float64) {
	var t [numTerms]float64
	tokens := b.Tokens()
	if tokens == 0 {
		return combine(&t, &s.coef, s.serial), t
	}
	pf, df := float64(b.PrefillTokens), float64(b.DecodeSeqs)
	prefillFLOPs := pf*s.denseFLOPsPerToken + float64(b.PrefillSeqs)*s.lmHeadFLOPsPerSeq
	decodeFLOPs := df * (s.denseFLOPsPerToken + s.lmHeadFLOPsPerSeq)
	expertFLOPs := (pf + df) * s.expertFLOPsPerToken
	touched := s.DistinctExperts(tokens)
	expertBytes := touched * s.layers * s.expertBytes
	linear := s.linearScale / s.linearPeak
	t[termPrefillCompute] = prefillFLOPs * linear
	t[termDecodeCompute] = decodeFLOPs * linear
	t[termExpertCompute] = expertFLOPs / s.expertPeak
	pairs, squares, kvRead := s.attended(b)
	attnFLOPs := pairs * s.attnFLOPsPerPair
	kvBytes := (kvRead + float64(b.Tokens())) * s.kvBytesPerToken
	t[termAttentionCompute] = attnFLOPs / s.attnPeak
	t[termAttentionDepth] = squares * s.attnFLOPsPerPair / (s.attnPeak * depthScale)
	t[termKVMemory] = kvBytes / s.bandwidth
	t[termExpertGEMM] = touched * s.layers
	t[termWeightMemory] = s.denseWeightBytes / s.bandwidth
	t[termExpertMemory] = expertBytes / s.bandwidth
	t[termStepOverhead] = 1
	t[termLayerOverhead] = s.layers
	t[termSeqOverhead] = float64(b.Seqs())
	if tokens >= 2 {
		t[termMultiSeqWeightPass] = s.denseWeightBytes / s.bandwidth
		t[termMultiSeqExpertPass] = expertBytes / s.bandwidth
	}
	var c StepCost
	for i := range firstMemoryTerm {
		c.Compute += t[i] * s.coef[i]
	}
	for i := firstMemoryTerm; i < firstOverheadTerm; i++ {
		c.Memory += t[i] * s.coef[i]
	}
	for i := firstOverheadTerm; i < numTerms; i++ {
		c.Overhead += t[i] * s.coef[i]
	}
	c.Seconds = math.Max(c.Compute, c.Memory) + c.Overhead
	c.Serial = s.serial
	if s.serial != 0 {
		c.Seconds += s.serial * math.Min(c.Compute, c.Memory)
	}
	c.FLOPs = prefillFLOPs + decodeFLOPs + expertFLOPs + attnFLOPs
	c.Bytes = s.denseWeightBytes + expertBytes + kvBytes
	return c, t
}

// sameBits reports whether two costs agree bit for bit in every field.
func sameBits(a, b StepCost) bool {
	x := [...]float64{a.Seconds, a.Compute, a.Memory, a.Overhead, a.Serial, a.FLOPs, a.Bytes, a.Comm, a.DraftCompute, a.DraftMemory}
	y := [...]float64{b.Seconds, b.Compute, b.Memory, b.Overhead, b.Serial, b.FLOPs, b.Bytes, b.Comm, b.DraftCompute, b.DraftMemory}
	for i := range x {
		if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
			return false
		}
	}
	return true
}

// TestPreparedStepIsUnprepared: Step with prepare's hoisted quotients
// gives refStep's bits for dense, MoE (with and without expert_overlap and
// a serial fraction), k-quant (a format scale) and sliding-window models,
// over decode, prefill and mixed batches, and after setFactors changes the
// format scale (the fit's rebind).
func TestPreparedStepIsUnprepared(t *testing.T) {
	shaped := Prior("h100-sxm", "vllm")
	shaped.Coefficients.ExpertOverlap = 0.3
	shaped.Coefficients.SerialFraction = 0.2
	spark := defaultProfile(t, "dgx-spark", "llama.cpp")
	rebound := *stepModel(t, "dgx-spark", "qwen3-8b", "q4_k_m", "fp16", spark)
	c := spark.Coefficients
	c.KQuantComputeRel = 0.37
	rebound.setFactors(c)
	if rebound.linear == stepModel(t, "dgx-spark", "qwen3-8b", "q4_k_m", "fp16", spark).linear {
		t.Fatal("setFactors kept the old format scale's quotient")
	}
	models := map[string]*StepModel{
		"8b":             stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "fp16", Prior("h100-sxm", "vllm")),
		"8b-shaped":      stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "fp16", shaped),
		"30b-a3b":        stepModel(t, "h100-sxm", "qwen3-30b-a3b", "fp8", "fp16", Prior("h100-sxm", "vllm")),
		"30b-a3b-shaped": stepModel(t, "h100-sxm", "qwen3-30b-a3b", "fp8", "fp16", shaped),
		"spark-8b-q4":    stepModel(t, "dgx-spark", "qwen3-8b", "q4_k_m", "fp16", spark),
		"spark-moe-q4":   stepModel(t, "dgx-spark", "qwen3-30b-a3b", "q4_k_m", "fp16", spark),
		"gpt-oss-window": nativeStepModel(t, "dgx-spark", "gpt-oss-20b", "mxfp4", "fp16", spark),
		"rebound":        &rebound,
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for name, m := range models {
		for trial := range 2000 {
			var b Batch
			for range rng.IntN(200) * (trial % 3) { // trial%3 == 0: no decodes
				b.AddDecode(rng.IntN(40000))
			}
			if trial%3 != 1 {
				b.AddPrefill(1+rng.IntN(8192), rng.IntN(30000))
			}
			if trial%50 == 0 {
				b = Batch{}
			}
			want, wantTerms := refStep(m, b)
			if got := m.Step(b); !sameBits(got, want) {
				t.Fatalf("%s trial %d: Step %+v, unprepared %+v", name, trial, got, want)
			}
			terms, _, _ := m.terms(b)
			for i := range terms {
				if math.Float64bits(terms[i]) != math.Float64bits(wantTerms[i]) {
					t.Fatalf("%s trial %d: term %d = %v, unprepared %v", name, trial, i, terms[i], wantTerms[i])
				}
			}
		}
	}
}

// TestFmaxFmin: fmax and fmin are math.Max and math.Min bit for bit,
// signed zeros, infinities and NaN included.
func TestFmaxFmin(t *testing.T) {
	vals := []float64{math.Inf(-1), -2, math.Copysign(0, -1), 0, 5e-324, 3, math.Inf(1), math.NaN()}
	for _, a := range vals {
		for _, b := range vals {
			if got, want := fmax(a, b), math.Max(a, b); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("fmax(%v, %v) = %v, math.Max %v", a, b, got, want)
			}
			if got, want := fmin(a, b), math.Min(a, b); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("fmin(%v, %v) = %v, math.Min %v", a, b, got, want)
			}
		}
	}
}
