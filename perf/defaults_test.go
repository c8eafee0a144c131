package perf

import "testing"

func TestDefaultsFor(t *testing.T) {
	for _, c := range []struct {
		engine, device string
		gib            float64
		seqs, tokens   int
		block          int
	}{
		{"vllm", "h100-sxm", 80, 1024, 8192, 16},
		{"vllm", "h200", 141, 1024, 8192, 16},
		{"vllm", "a100-80gb", 80, 256, 2048, 16},
		{"vllm", "l40s", 48, 256, 2048, 16},
		{"sglang", "h100-sxm", 80, 4096, 8192, 1},
		{"sglang", "l40s", 48, 4096, 4096, 1},
		{"sglang", "b200", 180, 4096, 16384, 1},
		{"tensorrt-llm", "h100-sxm", 80, 2048, 8192, 32},
		{"trtllm", "h100-sxm", 80, 2048, 8192, 32},
		{"llama.cpp", "dgx-spark", 128, 4, 512, 16},
		{"ollama", "dgx-spark", 128, 4, 512, 16},
	} {
		d, ok := DefaultsFor(c.engine, c.device, c.gib)
		if !ok || d.MaxSeqs != c.seqs || d.MaxBatchedTokens != c.tokens || d.BlockTokens != c.block || d.Version == "" || d.Source == "" {
			t.Errorf("%s on %s: %+v, %v; want %d seqs, %d tokens, block %d, a version and a source", c.engine, c.device, d, ok, c.seqs, c.tokens, c.block)
		}
	}
	if _, ok := DefaultsFor("nope", "h100-sxm", 80); ok {
		t.Error("unknown engine has defaults")
	}
}

func TestNormalizeEngine(t *testing.T) {
	for in, want := range map[string]string{"trtllm": "tensorrt-llm", "TRTLLM": "tensorrt-llm", "vllm": "vllm", "tensorrt-llm": "tensorrt-llm"} {
		if got := NormalizeEngine(in); got != want {
			t.Errorf("NormalizeEngine(%q) = %q, want %q", in, got, want)
		}
	}
}
