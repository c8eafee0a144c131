package sharefit

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
)

// publishedCases reads the repository's copies of the co-location data.
func publishedCases(t *testing.T) []Case {
	t.Helper()
	dir := filepath.Join("..", "testdata", "published")
	f, err := os.Open(filepath.Join(dir, "colocation.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := measure.Read("colocation.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "colocation-dedicated.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ded, err := ReadDedicated("colocation-dedicated.toml", b)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := Cases(rows, ded)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func builtinProfile(t *testing.T, hw, engine string) perf.Profile {
	t.Helper()
	set, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get(hw, engine)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMPSCaseReproduced is issue 14's bar: the published MPS case (two vLLM
// Qwen3-4B FP8 instances on one A100 under MPS) reproduced within 10% on
// each of its ratios, from the fitted coefficient.
func TestMPSCaseReproduced(t *testing.T) {
	cases := publishedCases(t)
	if len(cases) != 1 {
		t.Fatalf("want the one published case, got %d", len(cases))
	}
	c := cases[0]
	env := Env{Catalog: catalog.Default(), Profile: builtinProfile(t, c.Hardware, c.Engine)}
	r, err := Fit(context.Background(), env, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load %+v servers %+v (loss %.3g), dedicated %+v", r.Load, r.Servers, r.DedicatedLoss, r.Dedicated)
	t.Logf("κ = %.3f ± %.3f, κ_c = %.3f ± %.3f, ratio loss %.3g", r.Memory, r.MemoryStdErr, r.Compute, r.ComputeStdErr, r.RatioLoss)
	for _, m := range measure.RatioMetrics {
		t.Logf("%-28s published %.4f predicted %.4f (%.1f%%)", m, c.Ratios[m], r.Predicted[m], r.APE(m))
		if ape := r.APE(m); ape > 10 {
			t.Errorf("%s: predicted %.4f, published %.4f: %.1f%% off, more than 10%%", m, r.Predicted[m], c.Ratios[m], ape)
		}
	}
}
