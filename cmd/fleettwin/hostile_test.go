package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 11: inputs an adversarial review sent through the CLI. Each used to
// end in a stack trace, a livelock or exhausted memory; each must now be a
// clear error with the documented exit code, naming the file, line, field or
// flag and the limit.
func TestHostileInput(t *testing.T) {
	seed, err := os.ReadFile("../../scenarios/seed-colocated.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	scenario := func(name, old, new string) string {
		t.Helper()
		if !strings.Contains(string(seed), old) {
			t.Fatalf("seed-colocated.toml has no %q", old)
		}
		p := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(p, []byte(strings.Replace(string(seed), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inf := scenario("inf", "duration_s = 14400", "duration_s = inf")
	huge := scenario("huge", "duration_s = 14400", "duration_s = 1e12")
	nodes := scenario("nodes", "count = 1", "count = 100000")
	bins := scenario("bins", "series_resolution_s = 30", "series_resolution_s = 1e-9")
	tokens := scenario("tokens", "max = 8192", "max = 4294967300")
	rate := scenario("rate", "rate = 0.10", "rate = 1e9")
	nested := filepath.Join(dir, "nested.toml")
	os.WriteFile(nested, []byte("x = "+strings.Repeat("[", 4<<20)), 0o644)
	good := "../../scenarios/seed-colocated.toml"

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"duration inf", []string{"simulate", "--quiet", inf}, 1, "inf.toml:10: duration_s: must be a finite number"},
		{"duration 1e12", []string{"simulate", "--quiet", huge}, 1, "huge.toml:10: duration_s: must be at most 2678400 s"},
		{"100000 nodes", []string{"simulate", "--quiet", nodes}, 1, "nodes[0].count: the scenario's node groups may hold at most 10000 nodes"},
		{"series bins", []string{"simulate", "--quiet", bins}, 1, "series_resolution_s: must be at least duration_s / 100000"},
		{"2^32 tokens", []string{"simulate", "--quiet", tokens}, 1, "models.qwen3-8b.workload.input.max: must be at most 1048576 tokens"},
		{"1e9 rate", []string{"simulate", "--quiet", rate}, 1, "rate.toml:22: models.qwen3-8b.workload.arrival.rate: must be at most 1e+06 requests/s"},
		{"4 MB of [", []string{"simulate", "--quiet", nested}, 1, "nested.toml: file is 4194308 bytes; the limit is 1048576"},
		{"tco too", []string{"tco", "--quiet", good, inf}, 1, "inf.toml:10: duration_s"},
		{"replicas 1e6", []string{"simulate", "--quiet", "--replicas", "1000000", good}, 2, "--replicas must be between 1 and 1000"},
		{"pace nan", []string{"simulate", "--quiet", "--pace", "NaN", good}, 2, "--pace must be 0"},
		{"seed -5", []string{"simulate", "--quiet", "--seed", "-5", good}, 2, "--seed must not be negative"},
		{"predict batch 1e9", []string{"predict", "--model", "qwen3-8b", "--batch", "1000000000"}, 2, "batch must be at most 65536"},
		{"predict input 2^31", []string{"predict", "--model", "qwen3-8b", "--input", "2147483648"}, 2, "must be at most 1048576 tokens"},
		{"plan workers -1", []string{"plan", "--quiet", "--workers", "-1", "../../plans/seed.toml"}, 2, "--workers must be 0"},
		{"randmodel context -1", []string{"randmodel", "--model", "qwen3-0.6b", "--out", filepath.Join(dir, "x.gguf"), "--context", "-1"}, 2, "--context must be 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := fleettwin(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q lacks %q", stderr, tt.want)
			}
		})
	}
}
