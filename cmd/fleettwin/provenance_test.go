package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
)

// priorProfile writes the datasheet prior of a pair to a file, for
// --profile: whatever the shipped profile says, the numbers then rest on
// a prior.
func priorProfile(t *testing.T, hardware, engine string) string {
	t.Helper()
	data, err := perf.EncodeProfile(perf.Prior(hardware, engine), "a prior, for the test")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), hardware+"."+engine+".toml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// shortScenario is a shipped scenario cut to a minute.
func shortScenario(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile("../../scenarios/" + name + ".toml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer("duration_s = 3600", "duration_s = 60", "warmup_s = 300", "warmup_s = 10").Replace(string(data))
	path := filepath.Join(t.TempDir(), name+".toml")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func hasLine(out, prefix string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// simulate prints a profile line per pair, and a note naming the pairs
// that rest on a prior.
func TestSimulatePrintsProvenance(t *testing.T) {
	prior := priorProfile(t, "h100-sxm", "vllm")
	for _, tc := range []struct {
		name  string
		args  []string
		lines []string
		note  bool
	}{
		{"fitted", []string{"../../scenarios/seed-colocated.toml"}, []string{"profile: llama.cpp on dgx-spark: "}, false},
		{"prior", []string{shortScenario(t, "fleet-h100"), "--profile", prior},
			[]string{"profile: vllm on h100-sxm: prior: not validated", "note: rests on a prior: vllm on h100-sxm"}, true},
		{"prior replicas", []string{shortScenario(t, "fleet-h100"), "--profile", prior, "--replicas", "2"},
			[]string{"profile: vllm on h100-sxm: prior: not validated", "note: rests on a prior: vllm on h100-sxm"}, true},
		// Fitted, but fp8 carries TensorRT-LLM's fp8_compute_rel.
		{"carried format", []string{"../../scenarios/disagg-h100.toml"},
			[]string{"profile: vllm on h100-sxm: fitted on ", "note: rests on weight-format factors not fitted for their engine: vllm on h100-sxm: fp8 weights: carried (fp8_compute_rel "}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := fleettwin(t, append([]string{"simulate", "--quiet"}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, l := range tc.lines {
				if !hasLine(out, l) {
					t.Errorf("no line %q in:\n%s", l, out)
				}
			}
			if got := hasLine(out, "note: rests on a prior:"); got != tc.note {
				t.Errorf("prior note: %v, want %v:\n%s", got, tc.note, out)
			}
		})
	}
}

// predict prints the profile's label under the prediction.
func TestPredictPrintsProvenance(t *testing.T) {
	out, stderr, code := fleettwin(t, "predict", "--hardware", "h100-sxm", "--engine", "vllm", "--model", "qwen3-8b", "--quant", "fp8",
		"--profile", priorProfile(t, "h100-sxm", "vllm"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !hasLine(out, "profile: vllm on h100-sxm: prior: not validated") {
		t.Errorf("no profile line:\n%s", out)
	}
	out, _, _ = fleettwin(t, "predict", "--model", "qwen3-8b", "--json")
	if !strings.Contains(out, `"label": "llama.cpp on dgx-spark: `) || !strings.Contains(out, `"prior": false`) {
		t.Errorf("JSON lacks the label:\n%s", out)
	}
}

// plan marks the configurations resting on a prior: the table's profile
// column, the CSV's prior and provenance columns, the winner's note.
func TestPlanMarksPriors(t *testing.T) {
	data, err := os.ReadFile("../../planner/testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer(`engines = ["llama.cpp"]`, `engines = ["ollama"]`, `quants = ["q4_k_m", "q8_0", "bf16"]`, `quants = ["q4_k_m"]`).Replace(string(data))
	dir := t.TempDir()
	plan := filepath.Join(dir, "small.toml")
	if err := os.WriteFile(plan, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	csvPath := filepath.Join(dir, "plan.csv")
	out, stderr, code := fleettwin(t, "plan", plan, "--quiet", "--csv", csvPath, "--profile", priorProfile(t, "dgx-spark", "ollama"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, l := range []string{"profile: ollama on dgx-spark: prior: not validated", "note: ", "  note: the winner rests on a prior: ollama on dgx-spark"} {
		if !hasLine(out, l) {
			t.Errorf("no line %q in:\n%s", l, out)
		}
	}
	if !strings.Contains(out, " prior ") {
		t.Errorf("the table marks no configuration prior:\n%s", out)
	}
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if !strings.HasSuffix(lines[0], ",prior,provenance,tp,pp,ep,dp,speculative") || !strings.Contains(lines[1], ",true,ollama on dgx-spark: prior: not validated") {
		t.Errorf("CSV header %q, first row %q", lines[0], lines[1])
	}
}

// tco says which profiles each side's figures rest on.
func TestTCOPrintsProvenance(t *testing.T) {
	out, stderr, code := fleettwin(t, "tco", "../../scenarios/seed-separate.toml", shortScenario(t, "fleet-h100"), "--quiet",
		"--profile", priorProfile(t, "h100-sxm", "vllm"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, l := range []string{"profile (baseline): llama.cpp on dgx-spark: ", "profile (candidate): vllm on h100-sxm: prior: not validated", "note: rests on a prior: vllm on h100-sxm"} {
		if !hasLine(out, l) {
			t.Errorf("no line %q in:\n%s", l, out)
		}
	}
}

// profile prior --check scores a prior on the rows of its own hardware and
// engine and records the error, which the label then states; a file
// without such rows leaves the prior "not validated".
func TestProfilePriorCheck(t *testing.T) {
	dir := t.TempDir()
	rows := "id,hardware,engine,model,quant,kv_cache,tp,kind,concurrency,requests,rate_rps,input_tokens,output_tokens,depth_tokens,length_cv,settings,metric,value,unit,source,notes\n" +
		"a,dgx-spark,vllm,qwen3-8b,bf16,,,bench-decode,1,,,0,128,0,0,,decode_tps,10,tok/s,test,\n" +
		"b,h100-sxm,vllm,qwen3-8b,bf16,,,bench-decode,1,,,0,128,0,0,,decode_tps,100,tok/s,test,\n"
	csv := filepath.Join(dir, "rows.csv")
	if err := os.WriteFile(csv, []byte(rows), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		hw, want string
	}{
		{"dgx-spark", "prior: not fitted, median error"}, // one row of its own, far from the twin
		{"l40s", "prior: not validated"},                 // none
	} {
		out := filepath.Join(dir, tc.hw+".vllm.toml")
		if _, stderr, code := fleettwin(t, "profile", "prior", "--hardware", tc.hw, "--engine", "vllm", "--check", csv, "--out", out); code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.hw, code, stderr)
		}
		got, stderr, code := fleettwin(t, "predict", "--hardware", tc.hw, "--engine", "vllm", "--model", "qwen3-8b", "--profile", out)
		if code != 0 {
			t.Fatalf("%s: predict exit %d: %s", tc.hw, code, stderr)
		}
		if !strings.Contains(got, "profile: vllm on "+tc.hw+": "+tc.want) {
			t.Errorf("%s: want a profile line with %q:\n%s", tc.hw, tc.want, got)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "dgx-spark.vllm.toml"))
	if !strings.Contains(string(data), "rows = 1") || !strings.Contains(string(data), "1 dgx-spark/vllm rows of") {
		t.Errorf("the check is not recorded:\n%s", data)
	}
}

// The plan table's profile column tells a prior profile from a fitted one
// with a format prior.
func TestProfileMark(t *testing.T) {
	for _, tc := range []struct {
		o    planner.Outcome
		want string
	}{
		{planner.Outcome{}, "fitted"},
		{planner.Outcome{Prior: true}, "prior"},
		{planner.Outcome{FormatPriors: []string{"fp8 weights: carried (...)"}}, "format prior"},
	} {
		if got := profileMark(tc.o); got != tc.want {
			t.Errorf("profileMark(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}
