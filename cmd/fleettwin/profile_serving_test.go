package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// publishedRows writes the header and the rows of
// testdata/published/published-serving.csv whose id starts with prefix
// to a file in dir, and returns its path.
func publishedRows(t *testing.T, dir, prefix string) string {
	t.Helper()
	src, err := os.ReadFile("testdata/published/published-serving.csv")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "id,") || strings.HasPrefix(l, prefix) {
			keep = append(keep, l)
		}
	}
	data := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(data, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

// TestFitServingFormatsFrom: a fit on bf16 runs alone cannot set
// fp8_compute_rel, so --formats-from carries the donor's fitted factor,
// records where from in [provenance.carried] and leaves it out of the
// fitted terms; a donor for another device is refused, naming the file,
// before any fitting.
func TestFitServingFormatsFrom(t *testing.T) {
	t.Chdir("../..")
	dir := t.TempDir()
	data := publishedRows(t, dir, "h100-vllm-qwen3-8b-bf16-c1-")
	out := filepath.Join(dir, "vllm.toml")
	donor := "profiles/h100-sxm.tensorrt-llm.toml"
	_, stderr, code := fleettwin(t, "profile", "fit-serving", "--data", data, "--hardware", "h100-sxm", "--engine", "vllm",
		"--sweeps", "1", "--formats-from", donor, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, _, err := readProfile(out)
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := readProfile(donor)
	if err != nil {
		t.Fatal(err)
	}
	if p.Coefficients.FP8ComputeRel != d.Coefficients.FP8ComputeRel || !(p.Coefficients.FP8ComputeRel > 0) {
		t.Errorf("fp8_compute_rel = %v, want the donor's %v", p.Coefficients.FP8ComputeRel, d.Coefficients.FP8ComputeRel)
	}
	if got := p.Provenance.Carried["fp8_compute_rel"]; got != "h100-sxm/tensorrt-llm ("+donor+")" {
		t.Errorf("[provenance.carried] fp8_compute_rel = %q", got)
	}
	for _, f := range p.Provenance.Fitted {
		if f == "fp8_compute_rel" {
			t.Errorf("fitted lists fp8_compute_rel, which bf16 runs cannot set: %v", p.Provenance.Fitted)
		}
	}

	_, stderr, code = fleettwin(t, "profile", "fit-serving", "--data", data, "--hardware", "h100-sxm", "--engine", "vllm",
		"--formats-from", "profiles/dgx-spark.vllm.toml", "--out", filepath.Join(dir, "no.toml"))
	if code != 1 || !strings.Contains(stderr, "--formats-from profiles/dgx-spark.vllm.toml: a profile for dgx-spark, not h100-sxm") {
		t.Errorf("a donor for another device: exit %d, %q; want a refusal naming it", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "no.toml")); err == nil {
		t.Error("a refused fit wrote its profile")
	}
}

// TestFitServingCrossValidate: --cross-validate fits once per experiment
// with it left out, prints each one's error and the summary line, and
// records the result in the profile's provenance, which its label shows.
func TestFitServingCrossValidate(t *testing.T) {
	t.Chdir("../..")
	dir := t.TempDir()
	data := publishedRows(t, dir, "h100-vllm-qwen3-8b-bf16-c")
	out := filepath.Join(dir, "vllm.toml")
	stdout, stderr, code := fleettwin(t, "profile", "fit-serving", "--data", data, "--hardware", "h100-sxm", "--engine", "vllm",
		"--sweeps", "1", "--cross-validate", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, id := range []string{"c1", "c2", "c8"} {
		if !strings.Contains(stdout, "left out h100-vllm-qwen3-8b-bf16-"+id+"-") {
			t.Errorf("no line for the %s experiment left out:\n%s", id, stdout)
		}
	}
	if !strings.Contains(stdout, "cross-validation: 3 experiments left out in turn: ") {
		t.Errorf("no summary line:\n%s", stdout)
	}
	if !strings.Contains(stderr, "cross-validation: done in") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	p, _, err := readProfile(out)
	if err != nil {
		t.Fatal(err)
	}
	cv := p.Provenance.CrossValidation
	if cv == nil || cv.Experiments != 3 || cv.Rows == 0 || cv.MaxRow == "" || !(cv.MedianAPE <= cv.MaxAPE) {
		t.Fatalf("provenance cross_validation = %+v", cv)
	}
	if l := p.Label(); !strings.Contains(l, "on 3 experiments each left out in turn") {
		t.Errorf("label %q does not show the cross-validation", l)
	}

	_, stderr, code = fleettwin(t, "profile", "fit-serving", "--carry-from", out, "--hardware", "l40s", "--engine", "vllm",
		"--cross-validate", "--out", filepath.Join(dir, "l40s.toml"))
	if code == 0 || !strings.Contains(stderr, "--cross-validate needs --data") {
		t.Errorf("--cross-validate with --carry-from: exit %d, %s", code, stderr)
	}
}
