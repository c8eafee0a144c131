package twin

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
)

// TestProfilesFormatPriors: disagg-h100 runs Qwen3-8B in fp8 under the
// H100 vLLM profile, whose fit saw no FP8 run and carries TensorRT-LLM's
// fp8_compute_rel: the scenario's provenance names the carried factor and
// the prior note says the format was not fitted for its engine. A scenario
// of fitted formats only (the seed claim on the Spark, q8_0 and q4_k_m
// under the fitted llama.cpp profile) has no such note.
func TestProfilesFormatPriors(t *testing.T) {
	infos := Profiles(load(t, "disagg-h100.toml"))
	if len(infos) != 1 || len(infos[0].FormatPriors) != 1 || !strings.HasPrefix(infos[0].FormatPriors[0], "fp8 weights: carried (fp8_compute_rel") {
		t.Fatalf("Profiles = %+v, want vllm on h100-sxm with its fp8 weights carried", infos)
	}
	note := PriorNote(infos)
	if !strings.HasPrefix(note, "rests on weight-format factors not fitted for their engine: vllm on h100-sxm: fp8 weights: carried") || strings.Contains(note, "rests on a prior") {
		t.Errorf("PriorNote = %q", note)
	}
	both := append(infos, perf.ProvenanceInfo{Hardware: "l40s", Engine: "vllm", Prior: true})
	if n := PriorNote(both); !strings.HasPrefix(n, "rests on a prior: vllm on l40s (") || !strings.Contains(n, "; rests on weight-format factors not fitted for their engine: vllm on h100-sxm") {
		t.Errorf("PriorNote with a prior profile = %q", n)
	}
	if n := PriorNote(Profiles(load(t, "seed-colocated.toml"))); n != "" {
		t.Errorf("seed-colocated: PriorNote = %q, want none", n)
	}
}
