package planner

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
)

// A space that mixes a fitted profile (llama.cpp on the Spark) and a prior
// (Ollama on the Spark, made one here) marks each configuration with its
// own.
func TestOutcomesMarkPriors(t *testing.T) {
	src := strings.Replace(harnessPlan(0.2, 2, 1, `"q4_k_m"`, "4"), `engines = ["llama.cpp"]`, `engines = ["llama.cpp", "ollama"]`, 1)
	cat, shipped := env(t)
	profs := perf.ProfileSet{}
	for _, p := range shipped {
		profs.Add(p)
	}
	ollama, err := profs.Get("dgx-spark", "ollama")
	if err != nil {
		t.Fatal(err)
	}
	ollama.Provenance = perf.Prior("dgx-spark", "ollama").Provenance // whatever the shipped one says
	profs.Add(ollama)
	fitted, err := profs.Get("dgx-spark", "llama.cpp")
	if err != nil || fitted.Provenance.IsPrior() {
		t.Skip("the shipped llama.cpp Spark profile is a prior")
	}
	p, err := Parse("mixed.toml", []byte(src), cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, r := searchAndFinish(t, p)
	seen := map[string]bool{}
	for _, o := range append(append([]Outcome(nil), r.Ranked...), r.Rejected...) {
		wantPrior := o.Engine == "ollama"
		if o.Prior != wantPrior || !strings.HasPrefix(o.Provenance, o.Engine+" on dgx-spark: ") {
			t.Errorf("#%d %s: prior %v, provenance %q", o.Index, o.Engine, o.Prior, o.Provenance)
		}
		seen[o.Engine] = true
	}
	if !seen["ollama"] || !seen["llama.cpp"] {
		t.Fatalf("the space lacks an engine: %v", seen)
	}
	if len(r.Profiles) != 2 {
		t.Errorf("profiles %+v, want one per engine", r.Profiles)
	}
	for _, p := range r.Profiles {
		if p.Prior != (p.Engine == "ollama") || p.Label == "" {
			t.Errorf("profile %+v", p)
		}
	}
	for _, i := range r.Priors() {
		for _, o := range r.Ranked {
			if o.Index == i && o.Engine != "ollama" {
				t.Errorf("Priors lists #%d, a %s configuration", i, o.Engine)
			}
		}
	}
}

// H100 vLLM in fp8 and bf16: the profile is fitted, but its fit saw no FP8
// run and carries TensorRT-LLM's fp8_compute_rel, so every fp8
// configuration names the carried factor (FormatPriors, the provenance
// line, Result.FormatPriors) and no bf16 one does.
func TestOutcomesMarkFormatPriors(t *testing.T) {
	p := disaggPlan(t, "h100-sxm", 4, 1024, 256, 4, 0.05, "")
	p.File.Search.Quants = []string{"fp8", "bf16"}
	_, r := searchAndFinish(t, p)
	seen := map[string]bool{}
	for _, o := range append(append([]Outcome(nil), r.Ranked...), r.Rejected...) {
		fp8 := o.Quant == "fp8"
		seen[o.Quant] = true
		if o.Prior || (len(o.FormatPriors) > 0) != fp8 || strings.Contains(o.Provenance, "fp8 weights: carried (fp8_compute_rel") != fp8 {
			t.Errorf("#%d %s: prior %v, format priors %v, provenance %q", o.Index, o.Quant, o.Prior, o.FormatPriors, o.Provenance)
		}
	}
	if !seen["fp8"] || !seen["bf16"] {
		t.Fatalf("the space lacks a format: %v", seen)
	}
	fps := r.FormatPriors()
	for _, o := range r.Ranked {
		if slices.Contains(fps, o.Index) != (o.Quant == "fp8") {
			t.Errorf("FormatPriors %v and #%d in %s", fps, o.Index, o.Quant)
		}
	}
	if len(fps) == 0 {
		t.Error("no ranked fp8 configuration to mark")
	}
}
