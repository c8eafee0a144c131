package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/calibrate"
)

// copyRun copies the recorded run (a real calibration against Ollama on
// the CI CPU, 84 requests) to a temporary directory: fit and check write
// into the run directory.
func copyRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "calibrate-run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", "calibrate-run", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const ciCatalog = "../../calibrate/testdata/ci-catalog.toml"

// TestCalibrateFitCheckRecordedRun fits and checks a recorded run: the
// offline half of calibration, deterministic, without an engine.
func TestCalibrateFitCheckRecordedRun(t *testing.T) {
	dir := copyRun(t)
	out, stderr, code := fleettwin(t, "calibrate", "fit", dir, "--catalog", ciCatalog)
	if code != 0 {
		t.Fatalf("fit: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"fit: 8 observations", "admission lag", "power not fitted", "wrote " + filepath.Join(dir, "profile.toml"),
		"sharing: mps_memory_contention 0.2052 ± 0.092", "fitted on 2 together experiments of run 20261125-094332-ci-cpu (mps)",
		"server ollama: ollama 0.0.0 serving ci-a, ci-b"} {
		if !strings.Contains(out, want) {
			t.Errorf("fit output lacks %q:\n%s", want, out)
		}
	}
	first, err := os.ReadFile(filepath.Join(dir, "profile.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), `method = "calibration"`) || !strings.Contains(string(first), `run = "20261125-094332-ci-cpu"`) || !strings.Contains(string(first), "held_out = [") {
		t.Errorf("profile lacks provenance:\n%s", first)
	}
	// Same run, same profile, byte for byte.
	if _, stderr, code := fleettwin(t, "calibrate", "fit", dir, "--catalog", ciCatalog); code != 0 {
		t.Fatal(stderr)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "profile.toml"))
	if string(again) != string(first) {
		t.Error("fitting the same run twice gave different profiles")
	}

	plot := filepath.Join(t.TempDir(), "check.svg")
	out, stderr, code = fleettwin(t, "calibrate", "check", dir, "--catalog", ciCatalog, "--plot", plot)
	if code != 0 {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"EXPERIMENT", "alone-ci-a-c2-i32-o16", "median |error| tpot_p50", "wrote " + plot} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alone-ci-a-c1-") {
		t.Errorf("check without --all lists an experiment the profile was fitted on:\n%s", out)
	}
	if svg, err := os.ReadFile(plot); err != nil || !strings.Contains(string(svg), "<svg") {
		t.Errorf("plot: %v", err)
	}
}

func TestCalibrateErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"calibrate"}, 2, "missing subcommand"},
		{[]string{"calibrate", "fit"}, 2, "give one run directory"},
		{[]string{"calibrate", "fit", "testdata/no-such-run"}, 1, "no-such-run"},
		{[]string{"calibrate", "run"}, 2, "give a plan file"},
		{[]string{"calibrate", "run", "../../calibrate/testdata/ci-plan.toml", "--catalog", ciCatalog}, 2, `have url = "local": pass --ollama`},
		{[]string{"calibrate", "run", "../../calibrate/testdata/ci-colocation.toml", "--catalog", ciCatalog}, 2, `server ollama-a is kind = "ollama" with no command: pass --ollama`},
		{[]string{"calibrate", "check", copyRun(t), "--catalog", ciCatalog, "--profile", "nope.toml"}, 1, "nope.toml"},
	}
	for _, c := range cases {
		_, stderr, code := fleettwin(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

// TestCalibrateResumeLocked: --resume on a run another process is
// writing is refused at once, before any model is served.
func TestCalibrateResumeLocked(t *testing.T) {
	dir := copyRun(t)
	holder := &calibrate.Runner{Dir: dir}
	if err := holder.Lock(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(holder.Unlock)
	_, stderr, code := fleettwin(t, "calibrate", "run", "--resume", dir, "--catalog", ciCatalog)
	if code != 1 || !strings.Contains(stderr, dir+" is in use") || strings.Contains(stderr, "--ollama") {
		t.Errorf("exit %d, stderr %q; want the run refused as in use", code, stderr)
	}
}
