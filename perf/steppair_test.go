package perf

import (
	"math/rand/v2"
	"testing"
)

// TestStepPairIsTwoSteps: StepPair gives bit for bit what two Step calls
// give, for decode batches one token apart (the simulator's use), mixed
// batches, batches of different counts (the fallback) and a dense and an
// MoE model, with and without expert_overlap and a serial fraction.
func TestStepPairIsTwoSteps(t *testing.T) {
	overlap := Prior("h100-sxm", "vllm")
	overlap.Coefficients.ExpertOverlap = 0.3
	overlap.Coefficients.SerialFraction = 0.2
	models := map[string]*StepModel{
		"8b":            stepModel(t, "h100-sxm", "qwen3-8b", "fp8", "fp16", Prior("h100-sxm", "vllm")),
		"30b-a3b":       stepModel(t, "h100-sxm", "qwen3-30b-a3b", "fp8", "fp16", Prior("h100-sxm", "vllm")),
		"30b-a3b-shape": stepModel(t, "h100-sxm", "qwen3-30b-a3b", "fp8", "fp16", overlap),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for name, m := range models {
		for trial := range 300 {
			var first, second Batch
			n := 1 + rng.IntN(300)
			for range n {
				c := rng.IntN(30000)
				first.AddDecode(c)
				second.AddDecode(c + 1)
			}
			if trial%3 == 1 { // a prompt chunk in both
				p, c := 1+rng.IntN(4000), rng.IntN(8000)
				first.AddPrefill(p, c)
				second.AddPrefill(p, c+1)
			}
			if trial%3 == 2 { // different counts: two Steps
				second.AddDecode(rng.IntN(1000))
			}
			a, b := m.StepPair(first, second)
			if wa, wb := m.Step(first), m.Step(second); a != wa || b != wb {
				t.Fatalf("%s trial %d: StepPair = %+v, %+v; two Steps %+v, %+v", name, trial, a, b, wa, wb)
			}
		}
	}
	var none Batch
	if a, b := models["8b"].StepPair(none, none); a != (StepCost{}) || b != (StepCost{}) {
		t.Errorf("empty batches cost %+v, %+v", a, b)
	}
}

// BenchmarkDecodePair prices a decode run's first two steps (the
// simulator's planDecodeRun) by two Steps and by one StepPair, for a dense
// and an MoE model.
func BenchmarkDecodePair(b *testing.B) {
	for _, model := range []string{"qwen3-8b", "qwen3-30b-a3b"} {
		m := stepModel(b, "h100-sxm", model, "fp8", "fp16", Prior("h100-sxm", "vllm"))
		var first, second Batch
		for i := range 24 {
			first.AddDecode(1000 + 97*i)
			second.AddDecode(1001 + 97*i)
		}
		var sink float64
		b.Run(model+"/two-steps", func(b *testing.B) {
			for b.Loop() {
				sink += m.Step(first).Seconds + m.Step(second).Seconds
			}
		})
		b.Run(model+"/pair", func(b *testing.B) {
			for b.Loop() {
				x, y := m.StepPair(first, second)
				sink += x.Seconds + y.Seconds
			}
		})
		_ = sink
	}
}
