package perf_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// Predict how Qwen3-14B at 4 bits serves one 2048-token request on a DGX
// Spark with llama.cpp, using the built-in fitted profile.
func ExampleStepModel_Predict() {
	cat := catalog.Default()
	hw, _ := cat.HardwareNamed("dgx-spark")
	model, _ := cat.Model("qwen3-14b")
	quant, _ := cat.Format("q4_k_m")
	kv, _ := cat.KVType("fp16")
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		panic(err)
	}
	prof, _ := profiles.Get("dgx-spark", "llama.cpp")
	sm, err := perf.NewStepModel(hw, perf.Instance{Model: model, Weights: quant, KV: kv}, prof)
	if err != nil {
		panic(err)
	}
	p, err := sm.Predict(perf.Workload{Batch: 1, Input: 2048, Output: 128})
	if err != nil {
		panic(err)
	}
	fmt.Printf("prefill %s-bound, decode %s-bound, fits: %v\n", p.Prefill.Bound(), p.Decode.Bound(), p.Memory.Fits)
	fmt.Printf("decode %.0f tok/s, weights %.1f GiB\n", p.DecodeTokensPerSecSeq, p.Memory.WeightBytes/(1<<30))
	// Output:
	// prefill compute-bound, decode memory-bound, fits: true
	// decode 25 tok/s, weights 8.3 GiB
}

// An instance's provenance line names the weight formats that rest on a
// prior: the Spark's llama.cpp profile was fitted on no FP4 rows, so
// gpt-oss-20b's MXFP4 experts are priced on one.
func ExampleStepModel_Label() {
	cat := catalog.Default()
	hw, _ := cat.HardwareNamed("dgx-spark")
	model, _ := cat.Model("gpt-oss-20b")
	dense, experts, _ := cat.WeightFormats(model, "mxfp4", "llama.cpp")
	kv, _ := cat.KVType("fp16")
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		panic(err)
	}
	prof, _ := profiles.Get("dgx-spark", "llama.cpp")
	sm, err := perf.NewStepModel(hw, perf.Instance{Model: model, Weights: dense, Experts: experts, KV: kv}, prof)
	if err != nil {
		panic(err)
	}
	for _, f := range prof.FormatPriors(sm.Instance()) {
		fmt.Println(f)
	}
	// Output:
	// mxfp4 experts: prior (fp4_compute_rel not fitted: 1 × the base formats' efficiency, on the int8 tensor cores)
}

// Carry the FP8 factor TensorRT-LLM's H100 fit set into a profile whose
// own measurements (bf16 runs only) cannot set it.
func ExampleCoefficients_CarryRels() {
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		panic(err)
	}
	trt, _ := profiles.Get("h100-sxm", "tensorrt-llm")
	var c perf.Coefficients // a fit that set no format factor
	carried := c.CarryRels(trt.Coefficients, nil, trt.Provenance.Fitted)
	fmt.Println(carried, c.FP8ComputeRel == trt.Coefficients.FP8ComputeRel)
	// Output:
	// [fp8_compute_rel] true
}
