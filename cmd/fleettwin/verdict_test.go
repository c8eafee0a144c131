package main

import (
	"os"
	"strings"
	"testing"
)

// The verdict in simulate and tco: the seed claim's answers, each with
// its number and target, and a cheaper fleet that misses an SLO never
// called cheaper without saying so.
func TestVerdictInCLI(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		want, lack []string
	}{
		{"simulate, time-slice: 14B misses TTFT", []string{"simulate", "--quiet", "../../scenarios/seed-colocated.toml"},
			[]string{"verdict: holds on utilization and throttling; not on latency: qwen3-14b misses TTFT p95 3.58 s > 3 s",
				"utilization  yes  utilization 78.5% ≥ 70.0% (after warm-up; target 70.0%: the seed claim's >70%)",
				"cost         -    hardware $4,699, $0.1945/h: no baseline to compare with"}, nil},
		{"simulate, closet: throttles", []string{"simulate", "--quiet", "../../scenarios/seed-colocated-closet.toml"},
			[]string{"throttling   NO   spark throttled 50.3% of the run, held by heat"}, nil},
		{"tco, time-slice: cheaper but misses", []string{"tco", "--quiet", "../../scenarios/seed-separate.toml", "../../scenarios/seed-colocated.toml"},
			[]string{"qwen3-14b SLO met            yes            no",
				"hardware spend 50.0% lower, total cost per hour 49.0% lower, cost per token 49.0% lower, but qwen3-14b misses TTFT p95 3.58 s > 3 s, where the baseline meets every SLO",
				"cost         only if  against seed-separate: hardware spend 50.0% lower ($4,699 against $9,398)"}, nil},
		{"tco, mps: cheaper at the same SLOs", []string{"tco", "--quiet", "../../scenarios/seed-separate.toml", "../../scenarios/seed-colocated-mps.toml"},
			[]string{"verdict against seed-separate: holds on latency, utilization, throttling and cost: hardware spend 50.0% lower than seed-separate (cost 49.0% lower)"},
			[]string{"but", "only if"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := fleettwin(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.lack {
				if strings.Contains(stdout, w) {
					t.Errorf("output has %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// report --scenario --baseline: the HTML report's verdict names the
// failing metric and the saving with its caveat.
func TestReportVerdictCLI(t *testing.T) {
	dir := t.TempDir()
	colo, sep, page := dir+"/colo.json", dir+"/sep.json", dir+"/r.html"
	for _, a := range [][]string{{"../../scenarios/seed-colocated.toml", colo}, {"../../scenarios/seed-separate.toml", sep}} {
		if _, stderr, code := fleettwin(t, "simulate", "--quiet", a[0], "--json", a[1]); code != 0 {
			t.Fatalf("simulate %s: exit %d: %s", a[0], code, stderr)
		}
	}
	if _, stderr, code := fleettwin(t, "report", colo, "--scenario", "../../scenarios/seed-colocated.toml", "--baseline", sep, "--out", page); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(page)
	for _, w := range []string{`data-testid="verdict"`, "qwen3-14b misses TTFT p95 3.58 s &gt; 3 s", "hardware spend 50.0% lower ($4,699 against $9,398)"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("report lacks %q", w)
		}
	}
	if _, stderr, code := fleettwin(t, "report", colo, "--baseline", page); code != 1 || !strings.Contains(stderr, "not a simulation") {
		t.Errorf("an HTML baseline: exit %d, %q", code, stderr)
	}
}

// simulate --help says the seed's default once.
func TestSimulateHelpSeed(t *testing.T) {
	_, stderr, _ := fleettwin(t, "simulate", "--help")
	if !strings.Contains(stderr, "-seed seed\n") || !strings.Contains(stderr, "the random seed (default: the scenario's)\n") || strings.Contains(stderr, "(default -1)") {
		t.Errorf("simulate --help:\n%s", stderr)
	}
	for _, tc := range []struct {
		seed string
		code int
		want string
	}{{"7", 0, "seed-separate · seed 7 ·"}, {"x", 2, `invalid value "x" for flag -seed`}} {
		stdout, stderr, code := fleettwin(t, "simulate", "--quiet", "--seed", tc.seed, "../../scenarios/seed-separate.toml")
		if code != tc.code || !strings.Contains(stdout+stderr, tc.want) {
			t.Errorf("--seed %s: exit %d, want %d with %q: %s%s", tc.seed, code, tc.code, tc.want, stdout, stderr)
		}
	}
}
