package perf

import (
	"strings"
	"testing"
)

// TestFormatPriors: the dgx-spark llama.cpp profile fitted kquant_compute_rel
// but no FP4 rows, so gpt-oss's MXFP4 experts rest on a prior and the
// instance's label says so; its Q8_0 dense weights and a Q4_K_M model do
// not; a prior profile lists its FP4 factor as the prior's.
func TestFormatPriors(t *testing.T) {
	lcpp := defaultProfile(t, "dgx-spark", "llama.cpp")
	gptoss := nativeStepModel(t, "dgx-spark", "gpt-oss-20b", "mxfp4", "fp16", lcpp)
	got := lcpp.FormatPriors(gptoss.Instance())
	want := FormatPrior{Part: "experts", Format: "mxfp4", Coefficient: "fp4_compute_rel", Rel: 1, Dtype: "int8"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("FormatPriors = %+v, want [%+v]", got, want)
	}
	label := gptoss.Label()
	if !strings.HasPrefix(label, lcpp.Label()+"; ") || !strings.Contains(label, "mxfp4 experts: prior (fp4_compute_rel not fitted: 1 × the base formats' efficiency, on the int8 tensor cores)") {
		t.Errorf("Label = %q", label)
	}
	for _, model := range []string{"qwen3-8b", "qwen3-30b-a3b"} {
		s := stepModel(t, "dgx-spark", model, "q4_k_m", "fp16", lcpp)
		if ps := lcpp.FormatPriors(s.Instance()); len(ps) != 0 || s.Label() != lcpp.Label() {
			t.Errorf("%s q4_k_m: FormatPriors = %+v, Label %q; want none (kquant_compute_rel is fitted)", model, ps, s.Label())
		}
	}
	vllm := defaultProfile(t, "dgx-spark", "vllm")
	nv := stepModel(t, "dgx-spark", "qwen3-8b", "nvfp4", "fp16", vllm)
	ps := vllm.FormatPriors(nv.Instance())
	if len(ps) != 1 || ps[0].Rel != 0.6 || ps[0].Dtype != "fp4" || !strings.Contains(ps[0].String(), "the profile's prior 0.6") {
		t.Errorf("vllm nvfp4 FormatPriors = %+v, want fp4_compute_rel at the prior's 0.6", ps)
	}
}

// TestCarriedFormatFactor: the H100 vLLM profile's fit saw no FP8 runs and
// carries TensorRT-LLM's fitted fp8_compute_rel (profile fit-serving
// --formats-from): FP8 weights under vLLM are labelled as carried, naming
// the donor; under TensorRT-LLM, whose fit set it, they are not listed.
func TestCarriedFormatFactor(t *testing.T) {
	trt := defaultProfile(t, "h100-sxm", "tensorrt-llm")
	vllm := defaultProfile(t, "h100-sxm", "vllm")
	if !(trt.Coefficients.FP8ComputeRel > 0) || vllm.Coefficients.FP8ComputeRel != trt.Coefficients.FP8ComputeRel {
		t.Fatalf("fp8_compute_rel: trt %v, vllm %v; want vllm's carried from trt's fit", trt.Coefficients.FP8ComputeRel, vllm.Coefficients.FP8ComputeRel)
	}
	s := stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "bf16", trt)
	if ps := trt.FormatPriors(s.Instance()); len(ps) != 0 {
		t.Errorf("tensorrt-llm fp8: FormatPriors = %+v, want none (fitted)", ps)
	}
	s = stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "bf16", vllm)
	ps := vllm.FormatPriors(s.Instance())
	if len(ps) != 1 || ps[0].Coefficient != "fp8_compute_rel" || !strings.HasPrefix(ps[0].CarriedFrom, "h100-sxm/tensorrt-llm") ||
		!strings.Contains(ps[0].String(), "fp8 weights: carried (fp8_compute_rel ") {
		t.Errorf("vllm fp8: FormatPriors = %+v (%v), want fp8_compute_rel carried from h100-sxm/tensorrt-llm", ps, ps)
	}
	var c Coefficients
	if got := c.CarryRels(trt.Coefficients, nil, nil); len(got) != 0 {
		t.Errorf("CarryRels from a donor that fitted nothing = %v, want none", got)
	}
	if got := c.CarryRels(trt.Coefficients, []string{"fp8_compute_rel"}, trt.Provenance.Fitted); len(got) != 0 || c.FP8ComputeRel != 0 {
		t.Errorf("CarryRels over a factor the fit set = %v (%v), want none", got, c.FP8ComputeRel)
	}
}
