package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fleettwin runs the command in-process and returns stdout, stderr and the
// exit code.
func fleettwin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'go test ./cmd/fleettwin -update' to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestPredictGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"predict-spark-14b.json", []string{"predict", "--hardware", "dgx-spark", "--engine", "llama.cpp", "--model", "qwen3-14b", "--quant", "q4_k_m", "--batch", "1", "--input", "2048", "--output", "128", "--json"}},
		{"predict-spark-8b-14b.json", []string{"predict", "--model", "qwen3-8b", "--model", "qwen3-14b", "--quant", "q4_k_m", "--json"}},
		{"predict-h100-30b-a3b.json", []string{"predict", "--hardware", "h100-sxm", "--engine", "vllm", "--model", "qwen3-30b-a3b", "--quant", "fp8", "--batch", "32", "--input", "1024", "--output", "256", "--depth", "512", "--json"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, stderr, code := fleettwin(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var rep PredictReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			golden(t, tt.golden, out)
		})
	}
}

// TestPredictDeterministic: the same request gives byte-identical output.
func TestPredictDeterministic(t *testing.T) {
	args := []string{"predict", "--model", "qwen3-8b,qwen3-14b", "--quant", "q4_k_m", "--json"}
	a, _, _ := fleettwin(t, args...)
	b, _, _ := fleettwin(t, args...)
	if a != b || a == "" {
		t.Fatal("two identical predictions differ")
	}
}

func TestPredictText(t *testing.T) {
	out, stderr, code := fleettwin(t, "predict", "--model", "qwen3-8b", "--model", "qwen3-14b", "--quant", "q4_k_m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"qwen3-8b", "qwen3-14b", "co-located", "fits: yes", "TTFT", "TPOT"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"no command", nil, 2, nil},
		{"unknown command", []string{"simulate-everything"}, 2, []string{`unknown command "simulate-everything"`}},
		{"unknown model", []string{"predict", "--model", "qwen3-7b"}, 2, []string{`unknown model "qwen3-7b"`, "nearest is qwen3-8b", "qwen3-14b", "qwen3-235b-a22b"}},
		{"unknown hardware", []string{"predict", "--model", "qwen3-8b", "--hardware", "tpu"}, 2, []string{`unknown hardware "tpu"`, "dgx-spark", "h100-sxm"}},
		{"unknown quant", []string{"predict", "--model", "qwen3-8b", "--quant", "q3"}, 2, []string{`unknown weight format "q3"`, "q4_k_m"}},
		{"no profile", []string{"predict", "--model", "qwen3-8b", "--hardware", "l40s", "--engine", "sglang"}, 2, []string{`no profile for hardware "l40s" with engine "sglang"`, "l40s/vllm"}},
		{"quant count", []string{"predict", "--model", "qwen3-8b,qwen3-14b,qwen3-4b", "--quant", "bf16,fp8"}, 2, []string{"one --quant for all models or one per model"}},
		{"bad flag", []string{"predict", "--modle", "x"}, 2, []string{"flag provided but not defined"}},
		{"bad batch", []string{"predict", "--model", "qwen3-8b", "--batch", "0"}, 2, []string{"batch must be at least 1"}},
		{"missing catalog", []string{"predict", "--model", "qwen3-8b", "--catalog", "/nonexistent/site.toml"}, 1, []string{"/nonexistent/site.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := fleettwin(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.code, stderr)
			}
			for _, c := range tt.contains {
				if !strings.Contains(stderr, c) {
					t.Errorf("stderr %q lacks %q", stderr, c)
				}
			}
		})
	}
}

// TestBadCatalogFile: a malformed user catalog is reported with its file,
// line and field, and nothing is predicted.
func TestBadCatalogFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "site.toml")
	if err := os.WriteFile(p, []byte("[hardware.dgx-spark]\nusable_memory_gib = 119.7\nmemory_bandwidth_gbs = -273\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, code := fleettwin(t, "predict", "--model", "qwen3-8b", "--catalog", p)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing printed", code, out)
	}
	for _, want := range []string{p + ":3: hardware.dgx-spark.memory_bandwidth_gbs: must be positive", "tflops_bf16: required field is missing"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q lacks %q", stderr, want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"predict", "--help"}, {"profile", "--help"}, {"profile", "fit", "--help"}, {"catalog", "--help"}} {
		out, stderr, code := fleettwin(t, args...)
		if code != 0 || !strings.Contains(out+stderr, "Usage") {
			t.Errorf("%v: exit %d, output %q %q; want usage and exit 0", args, code, out, stderr)
		}
	}
}

// TestProfileFitRoundTrip fits the published rows into a file, and the
// profile it writes loads back and checks cleanly.
func TestProfileFitRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dgx-spark.llama.cpp.toml")
	t.Chdir("../..") // run as `make generate` does, so the provenance paths match
	// The Makefile's generate line for the shipped profile.
	stdout, stderr, code := fleettwin(t, "profile", "fit", "--data", "testdata/published/published-serving.csv", "--chunk", "2048",
		"--hold-out", "q4km-pp8192$", "--check", "perf/testdata/validation-dgx-spark.csv", "--fix", "attention_depth",
		"--with", "serial_fraction", "--with", "expert_overlap", "--with", "multi_seq_expert_pass", "--out", out)
	if code != 0 {
		t.Fatalf("fit: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "fit: 25 rows") || !strings.Contains(stdout, "held out: 77 rows") || !strings.Contains(stdout, "outliers: 1 rows") {
		t.Errorf("fit output lacks the row summary:\n%s", stdout)
	}
	shipped, err := os.ReadFile("profiles/dgx-spark.llama.cpp.toml")
	if err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// The shipped file also has the [sharing] table a later generate line
	// carries into it (profile fit-sharing).
	if string(written) != withoutSharing(string(shipped)) {
		t.Error("fitting the published rows no longer gives the shipped profile: run 'make generate'")
	}
	stdout, stderr, code = fleettwin(t, "profile", "check", "--data", "perf/testdata/validation-dgx-spark.csv", "--profile", out)
	if code != 0 || !strings.Contains(stdout, "check: 75 rows") || !strings.Contains(stdout, "spark-lcpp-q3coder30b-q8-batched-pp512-b1-spp: the table's first measurement") {
		t.Fatalf("check: exit %d: %s\n%s", code, stderr, stdout)
	}
	_, stderr, code = fleettwin(t, "profile", "fit", "--data", "perf/testdata/validation-dgx-spark.csv", "--hardware", "h100-sxm")
	if code != 1 || !strings.Contains(stderr, "no bench rows of h100-sxm/llama.cpp") {
		t.Errorf("fitting Spark rows to an H100: exit %d, %q; want a refusal", code, stderr)
	}
}

func TestCatalogList(t *testing.T) {
	out, _, code := fleettwin(t, "catalog")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"qwen3-235b-a22b", "235.09B", "22.19B", "dgx-spark", "q4_k_m", "NODE TYPE", "hgx-h100-8           8 × h100-sxm      1         nvlink4-nvswitch     450"} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog output lacks %q", want)
		}
	}
}

// TestSimulateGolden runs every shipped scenario (every file of scenarios/,
// so a new one cannot go without a golden) through the CLI and compares the
// JSON result with testdata (rewrite with -update).
func TestSimulateGolden(t *testing.T) {
	files, err := filepath.Glob("../../scenarios/*.toml")
	if err != nil || len(files) < 7 {
		t.Fatalf("shipped scenarios: %v, %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".toml")
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			stdout, stderr, code := fleettwin(t, "simulate", "../../scenarios/"+name+".toml", "--json", out, "--quiet")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "Little's law") {
				t.Errorf("summary lacks the Little's law line:\n%s", stdout)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "simulate-"+name+".json", string(b))
		})
	}
}

func TestSimulateFiles(t *testing.T) {
	dir := t.TempDir()
	reqs, series, js := filepath.Join(dir, "req.csv"), filepath.Join(dir, "series.csv"), filepath.Join(dir, "r.json")
	_, stderr, code := fleettwin(t, "simulate", "../../scenarios/seed-separate.toml", "--seed", "5", "--requests", reqs, "--series", series, "--json", js, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Seed   int `json:"seed"`
		Models []struct {
			Completed, Rejected int
		} `json:"models"`
	}
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &res); err != nil || res.Seed != 5 {
		t.Fatalf("result: %v, seed %d", err, res.Seed)
	}
	rows, _ := os.ReadFile(reqs)
	want := 1 // header
	for _, m := range res.Models {
		want += m.Completed + m.Rejected
	}
	if got := strings.Count(string(rows), "\n"); got != want {
		t.Errorf("requests CSV has %d lines, want %d", got, want)
	}
	if _, err := os.Stat(reqs + ".partial"); !os.IsNotExist(err) {
		t.Error("the .partial file was left behind after a complete run")
	}
	s, _ := os.ReadFile(series)
	if !strings.HasPrefix(string(s), "node,t_s,utilization,mfu,mbu,kv_use,running,waiting,power_w,temp_c,clock,throttled\nspark-8b,0,") {
		t.Errorf("series CSV starts %q", string(s[:min(len(s), 80)]))
	}
}

func TestSimulateReplicasAndErrors(t *testing.T) {
	stdout, stderr, code := fleettwin(t, "simulate", "--replicas", "3", "../../scenarios/seed-separate.toml", "--quiet")
	if code != 0 || !strings.Contains(stdout, "3 replicas (seeds 1-3)") || !strings.Contains(stdout, "±") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("name = \"x\"\nduration_s = 10\n[[nodes]]\nname = \"n\"\nhardware = \"dgx-spark\"\nengine = \"llama.cpp\"\ncount = 1\n[[nodes.instances]]\nmodel = \"qwen3-8b\"\nquant = \"q4_k_m\"\n"), 0o644)
	_, stderr, code = fleettwin(t, "simulate", bad)
	if code != 1 || !strings.Contains(stderr, bad+":9: nodes[0].instances[0].model: no served model \"qwen3-8b\"") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = fleettwin(t, "simulate", "--replicas", "2", "--requests", "x.csv", bad)
	if code != 2 || !strings.Contains(stderr, "need a single replica") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestTCOGolden is the seed claim's money question: one Spark for both
// models against one Spark each, with every assumption printed.
func TestTCOGolden(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tco.json")
	stdout, stderr, code := fleettwin(t, "tco", "../../scenarios/seed-separate.toml", "../../scenarios/seed-colocated.toml", "--json", out, "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	golden(t, "tco-seed.txt", stdout)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "tco-seed.json", string(b))
	for _, want := range []string{"hardware spend 50.0% lower", "$0.15/kWh at a PUE of 1.3", "written off over 3 years"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("tco output lacks %q", want)
		}
	}
	_, stderr, code = fleettwin(t, "tco", "../../scenarios/seed-separate.toml")
	if code != 2 || !strings.Contains(stderr, "want a baseline and a candidate") {
		t.Errorf("one file: exit %d, %q", code, stderr)
	}
}

// The closet Spark throttles, and simulate says what that cost.
func TestSimulateReportsThrottling(t *testing.T) {
	stdout, stderr, code := fleettwin(t, "simulate", "../../scenarios/seed-colocated-closet.toml", "--quiet")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"What throttling cost", "THERMAL", "assumptions:", "0.70 C/W to 35 C air, slowdown at 82 C"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
}

// withoutSharing drops a profile file's [sharing] table and the header
// line saying how it was made.
func withoutSharing(s string) string {
	var out []string
	skip := false
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "# [sharing] by:"):
			continue
		case l == "[sharing]":
			skip = true
			continue
		case skip && strings.HasPrefix(l, "["):
			skip = false
		}
		if !skip {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
