package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/workload"
)

// traceSamples are the shipped sample traces and the options each needs.
var traceSamples = []struct {
	file  string
	opt   workload.TraceImport
	flags []string
	toml  string // the arrival fields besides process and trace
}{
	{"azure.csv", workload.TraceImport{Format: workload.TraceAzure}, []string{"--format", "azure"}, `trace_format = "azure"`},
	{"burstgpt.csv", workload.TraceImport{Format: workload.TraceBurstGPT, Model: "ChatGPT", Speedup: 2}, []string{"--format", "burstgpt", "--model", "ChatGPT", "--speedup", "2"}, "trace_format = \"burstgpt\"\ntrace_model = \"ChatGPT\"\nspeedup = 2.0"},
	{"mooncake.jsonl", workload.TraceImport{Format: workload.TraceMooncake, StartS: 60, DurationS: 120}, []string{"--format", "mooncake", "--start-s", "60", "--duration-s", "120"}, "trace_format = \"mooncake\"\nstart_s = 60.0\nduration_s = 120.0"},
	{"sharegpt.json", workload.TraceImport{Format: workload.TraceShareGPT, CharsPerToken: 4, Rate: 0.5}, []string{"--format", "sharegpt", "--chars-per-token", "4", "--rate", "0.5"}, "trace_format = \"sharegpt\"\nchars_per_token = 4.0\nrate = 0.5"},
}

func readSampleTrace(t *testing.T, file string, opt workload.TraceImport) []workload.TraceRecord {
	t.Helper()
	f, err := os.Open(filepath.Join("../../workload/testdata/traces", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := workload.ReadTraceAs(file, f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestTraceCommand prints each sample's summary and writes it as JSON:
// the numbers of workload.SummarizeTrace over the same reading.
func TestTraceCommand(t *testing.T) {
	for _, s := range traceSamples {
		t.Run(s.file, func(t *testing.T) {
			want := workload.SummarizeTrace(readSampleTrace(t, s.file, s.opt), 5)
			js := filepath.Join(t.TempDir(), "s.json")
			args := append([]string{"trace", "../../workload/testdata/traces/" + s.file, "--bins", "5", "--json", js}, s.flags...)
			stdout, stderr, code := fleettwin(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if line := fmt.Sprintf("%d requests over %.1f s", want.Requests, want.DurationS); !strings.Contains(stdout, line) {
				t.Errorf("summary lacks %q:\n%s", line, stdout)
			}
			for _, l := range []struct {
				name string
				p    workload.LengthPercentiles
			}{{"input", want.Input}, {"output", want.Output}} {
				row := fmt.Sprintf("%s %.0f %d %d %d %d", l.name, l.p.Mean, l.p.P50, l.p.P90, l.p.P99, l.p.Max)
				if !slices.Contains(rows(stdout), row) {
					t.Errorf("summary lacks the row %q:\n%s", row, stdout)
				}
			}
			if n := strings.Count(stdout, "#"); n < 5 {
				t.Errorf("rate bars: %d marks for 5 bins:\n%s", n, stdout)
			}
			if reuse := strings.Contains(stdout, "hash-id blocks"); reuse != (want.HashBlocks > 0) {
				t.Errorf("prefix reuse line printed %v, want %v (hash blocks %d)", reuse, want.HashBlocks > 0, want.HashBlocks)
			}
			b, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			var got workload.TraceSummary
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			// The JSON keeps 6 significant digits of a float.
			near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-5*math.Max(math.Abs(a), math.Abs(b)) }
			ok := got.Requests == want.Requests && near(got.DurationS, want.DurationS) && near(got.MeanRate, want.MeanRate) &&
				got.Input.P99 == want.Input.P99 && got.Output.P50 == want.Output.P50 && got.ReusedBlocks == want.ReusedBlocks &&
				got.HashBlocks == want.HashBlocks && near(got.PrefixReuse, want.PrefixReuse) && len(got.Rates) == len(want.Rates)
			for i := range min(len(got.Rates), len(want.Rates)) {
				ok = ok && got.Rates[i].Requests == want.Rates[i].Requests && near(got.Rates[i].Rate, want.Rates[i].Rate)
			}
			if !ok {
				t.Errorf("JSON summary\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestTraceCommandErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.1,10,5\n2023-11-16 18:15:47.1,ten,5\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"format", []string{"trace", bad, "--format", "splitwise"}, 2, "--format: unknown trace format \"splitwise\"; valid: azure, burstgpt, mooncake, sharegpt"},
		{"sharegpt rate", []string{"trace", bad, "--format", "sharegpt", "--chars-per-token", "4"}, 2, "--rate: required"},
		{"speedup", []string{"trace", bad, "--format", "azure", "--speedup", "-1"}, 2, "--speedup: must be between"},
		{"no file", []string{"trace", "--format", "azure"}, 2, "want exactly one trace file"},
		{"malformed row", []string{"trace", bad, "--format", "azure"}, 1, bad + ":3:23: ContextTokens: want a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := fleettwin(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

// TestTraceSamplesSimulate replays each sample in a scenario: every
// request of the trace that arrives within the run arrives in the
// simulation, and simulate prints what it read.
func TestTraceSamplesSimulate(t *testing.T) {
	const duration = 90.0
	for _, s := range traceSamples {
		t.Run(s.file, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(filepath.Join("../../workload/testdata/traces", s.file))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, s.file), data, 0o644)
			sc := fmt.Sprintf(`name = "replay"
seed = 3
duration_s = %g
[models.qwen3-8b.workload]
input = { dist = "fixed", value = 1 }
output = { dist = "fixed", value = 1 }
[models.qwen3-8b.workload.arrival]
process = "trace"
trace = %q
%s
[[nodes]]
name = "h100"
hardware = "h100-sxm"
engine = "vllm"
count = 1
[[nodes.instances]]
model = "qwen3-8b"
quant = "fp8"
`, duration, s.file, s.toml)
			path := filepath.Join(dir, "replay.toml")
			os.WriteFile(path, []byte(sc), 0o644)
			js := filepath.Join(dir, "r.json")
			_, stderr, code := fleettwin(t, "simulate", path, "--json", js)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			recs := readSampleTrace(t, s.file, s.opt)
			want := countBefore(recs, duration)
			if !strings.Contains(stderr, fmt.Sprintf("trace qwen3-8b: %s (%s): %d requests", s.file, s.opt.Format, len(recs))) {
				t.Errorf("simulate does not print what it read:\n%s", stderr)
			}
			b, _ := os.ReadFile(js)
			var res struct {
				Models []struct{ Arrived, Completed int }
			}
			if err := json.Unmarshal(b, &res); err != nil {
				t.Fatal(err)
			}
			if m := res.Models[0]; m.Arrived != want || m.Completed == 0 || want == 0 {
				t.Errorf("arrived %d (completed %d), want the trace's %d requests before %g s", m.Arrived, m.Completed, want, duration)
			}
		})
	}
}

// rows are the lines of out with their runs of spaces made one.
func rows(out string) []string {
	var r []string
	for _, l := range strings.Split(out, "\n") {
		r = append(r, strings.Join(strings.Fields(l), " "))
	}
	return r
}
