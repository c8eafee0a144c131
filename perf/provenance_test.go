package perf

import (
	"strings"
	"testing"
)

func TestLabel(t *testing.T) {
	fitted := func(rows int, check *Check) Profile {
		p := Profile{Hardware: "h100-sxm", Engine: "vllm", Provenance: Provenance{Method: MethodFit}}
		p.Provenance.SetFit(rows, []string{"b", "a", "b"}, "2025-01-02", "testdata/published/published-serving.csv")
		p.Provenance.Check = check
		return p
	}
	calibrated := Profile{Hardware: "dgx-spark", Engine: "ollama", Provenance: Provenance{Method: MethodCalibration, Run: "cal-1"}}
	scored := Prior("l40s", "vllm")
	scored.Provenance.SetHeldOut(12, -18.44, 31.2, "v.csv")
	crossed := fitted(32, &Check{Rows: 11, MedianAPE: 4.3, MaxAPE: 26.3})
	crossed.Provenance.CrossValidation = &CrossCheck{Experiments: 8, Rows: 43, MedianAPE: 3.5, MaxAPE: 79.8, MaxRow: "x"}
	legacy := Profile{Hardware: "dgx-spark", Engine: "llama.cpp", Provenance: Provenance{Method: MethodFit}, Rows: make([]FitRow, 16)}
	for _, tc := range []struct {
		name  string
		p     Profile
		want  string
		prior bool
	}{
		{"fitted and checked", fitted(27, &Check{Rows: 19, MedianAPE: 6, MaxAPE: 14.4}),
			"vllm on h100-sxm: fitted on 27 published measurements, median error 6% on 19 others, max 14%", false},
		{"fitted, checked and cross-validated", crossed,
			"vllm on h100-sxm: fitted on 32 published measurements, median error 4.3% on 11 others, max 26%; 3.5% on 8 experiments each left out in turn, max 80%", false},
		{"fitted, not checked", fitted(16, nil),
			"vllm on h100-sxm: fitted on 16 published measurements (not yet checked on others)", false},
		{"rows from the fit table", legacy,
			"llama.cpp on dgx-spark: fitted on 16 published measurements (not yet checked on others)", false},
		{"one row", fitted(1, &Check{Rows: 1, MedianAPE: 0.42, MaxAPE: 0.42}),
			"vllm on h100-sxm: fitted on 1 published measurement, median error 0.4% on 1 other, max 0.4%", false},
		{"prior", Prior("l40s", "vllm"), "vllm on l40s: prior: not validated", true},
		{"prior scored", scored, "vllm on l40s: prior: not fitted, median error 18% on 12 published measurements, max 31%", true},
		{"carried", Profile{Hardware: "l40s", Engine: "vllm", Provenance: Provenance{Method: MethodCarried, CarriedFrom: "h100-sxm"}},
			"vllm on l40s: prior: engine terms carried from the h100-sxm fit, device terms from the datasheet: not validated", true},
		{"no method", Profile{Hardware: "x", Engine: "vllm"}, "vllm on x: prior: not validated", true},
		{"calibrated", calibrated, "ollama on dgx-spark: calibrated on run cal-1 (not yet checked on others)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Label(); got != tc.want {
				t.Errorf("Label() = %q, want %q", got, tc.want)
			}
			if got := tc.p.Provenance.IsPrior(); got != tc.prior {
				t.Errorf("IsPrior() = %v, want %v", got, tc.prior)
			}
			if info := tc.p.Info(); info.Label != tc.want || info.Prior != tc.prior {
				t.Errorf("Info() = %+v", info)
			}
		})
	}
}

func TestSetFitAndHeldOut(t *testing.T) {
	var p Provenance
	p.SetFit(3, []string{"z", "a", "z"}, "2025-06-01", "d.csv")
	if strings.Join(p.FitSources, ",") != "a,z" || p.FitRows != 3 || p.Date != "2025-06-01" || p.FitData != "d.csv" {
		t.Errorf("SetFit: %+v", p)
	}
	p.SetHeldOut(4, -5, -9, "v.csv")
	if p.Check == nil || p.Check.MedianAPE != 5 || p.Check.MaxAPE != 9 || p.Check.Rows != 4 {
		t.Errorf("SetHeldOut: %+v", p.Check)
	}
	p.SetHeldOut(0, 0, 0, "")
	if p.Check != nil {
		t.Errorf("SetHeldOut(0) kept %+v", p.Check)
	}
}

// The new fields round-trip through a file, and a profile without them
// still parses.
func TestProvenanceRoundTrip(t *testing.T) {
	p := Prior("h100-sxm", "vllm")
	p.Provenance.Method = MethodFit
	p.Provenance.SetFit(27, []string{"gpustack"}, "2025-05-01", "testdata/published/published-serving.csv")
	p.Provenance.SetHeldOut(19, 6, 14, "testdata/validation/serving.csv")
	data, err := EncodeProfile(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseProfile("p.toml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got.Label() != p.Label() {
		t.Errorf("round trip: %q, want %q\n%s", got.Label(), p.Label(), data)
	}
	old, err := EncodeProfile(Prior("h100-sxm", "vllm"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(old), "fit_rows") || strings.Contains(string(old), "[provenance.check]") {
		t.Errorf("a prior writes the new fields:\n%s", old)
	}
}
