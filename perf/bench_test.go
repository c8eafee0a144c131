package perf

import (
	"testing"
)

func BenchmarkStep(b *testing.B) {
	s := stepModel(b, "dgx-spark", "qwen3-30b-a3b", "q8_0", "fp16", defaultProfile(b, "dgx-spark", "llama.cpp"))
	var batch Batch
	batch.AddPrefill(512, 100)
	for range 16 {
		batch.AddDecode(4000)
	}
	var sink float64
	for b.Loop() {
		sink += s.Step(batch).Seconds
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	_ = sink
}

func BenchmarkPredict(b *testing.B) {
	s := stepModel(b, "dgx-spark", "qwen3-14b", "q4_k_m", "fp16", defaultProfile(b, "dgx-spark", "llama.cpp"))
	w := Workload{Batch: 8, Input: 2048, Output: 256}
	for b.Loop() {
		if _, err := s.Predict(w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitSparkProfile(b *testing.B) {
	prior := Prior("dgx-spark", "llama.cpp")
	prior.PrefillChunk = 2048
	obs := publishedObservations(b, publishedServing, prior, nil)
	for b.Loop() {
		if _, err := FitProfile(prior, obs); err != nil {
			b.Fatal(err)
		}
	}
}
