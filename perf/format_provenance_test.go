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
