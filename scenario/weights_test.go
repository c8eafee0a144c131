package scenario

import (
	"fmt"
	"math"
	"testing"
)

// oneInstance is a scenario of one node serving model in quant.
func oneInstance(model, hardware, engine, quant string) string {
	return fmt.Sprintf(`name = "w"
seed = 1
duration_s = 60
warmup_s = 0

[models.%[1]s.workload.arrival]
process = "poisson"
rate = 0.5
[models.%[1]s.workload.input]
dist = "fixed"
value = 512
[models.%[1]s.workload.output]
dist = "fixed"
value = 64

[[nodes]]
name = "box"
hardware = %[2]q
engine = %[3]q
count = 1

  [[nodes.instances]]
  model = %[1]q
  quant = %[4]q
`, model, hardware, engine, quant)
}

// TestInstanceWeightFormats: an instance of a release that quantizes only
// its experts (gpt-oss-20b in MXFP4) keeps its experts in that format and
// the rest in the catalog's dense format for the engine (Q8_0 in the GGUF
// llama.cpp loads, bf16 under vLLM), and its weight bytes count each part
// in its own format; a model without an expert format keeps one format.
func TestInstanceWeightFormats(t *testing.T) {
	for _, tc := range []struct {
		model, hardware, engine, quant string
		dense, experts                 string
	}{
		{"gpt-oss-20b", "dgx-spark", "llama.cpp", "mxfp4", "q8_0", "mxfp4"},
		{"gpt-oss-20b", "h100-sxm", "vllm", "mxfp4", "bf16", "mxfp4"},
		{"gpt-oss-20b", "h100-sxm", "vllm", "bf16", "bf16", "bf16"},
		{"qwen3-30b-a3b", "h100-sxm", "vllm", "fp8", "fp8", "fp8"},
	} {
		t.Run(tc.model+"/"+tc.engine+"/"+tc.quant, func(t *testing.T) {
			sc, err := Parse("w.toml", []byte(oneInstance(tc.model, tc.hardware, tc.engine, tc.quant)), cat, profiles, nil)
			if err != nil {
				t.Fatal(err)
			}
			in := sc.Nodes[0].Instances[0]
			if got, gotE := in.Deploy.Weights.Name, in.Deploy.ExpertFormat().Name; got != tc.dense || gotE != tc.experts {
				t.Errorf("formats: dense %s, experts %s; want %s, %s", got, gotE, tc.dense, tc.experts)
			}
			m := in.Deploy.Model
			d, err := cat.Format(tc.dense)
			if err != nil {
				t.Fatal(err)
			}
			e, err := cat.Format(tc.experts)
			if err != nil {
				t.Fatal(err)
			}
			experts := float64(m.Layers) * float64(m.Experts) * float64(m.ExpertParams())
			want := (float64(m.WeightParams())-experts)*d.BitsPerWeight/8 + experts*e.BitsPerWeight/8
			if math.Abs(in.WeightBytes-want) > 1e-9*want {
				t.Errorf("weight bytes %.6g, want %.6g", in.WeightBytes, want)
			}
		})
	}
}
