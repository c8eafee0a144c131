package calibrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParsePlanRejectsUnphysicalNumbers: every number a plan decodes is
// finite and in a physical range, or the plan is refused with the file,
// line and field. telemetry_hz = -1 used to reach time.NewTicker, which
// panics.
func TestParsePlanRejectsUnphysicalNumbers(t *testing.T) {
	cat := ciCatalog(t)
	good, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		from, to, want string
	}{
		{"telemetry_hz = 10", "telemetry_hz = -1", "plan.toml:10: telemetry_hz: must be between 0.01 and 1000, not -1"},
		{"telemetry_hz = 10", "telemetry_hz = nan", "plan.toml:10: telemetry_hz: must be a finite number"},
		{"telemetry_hz = 10", "telemetry_hz = inf", "plan.toml:10: telemetry_hz: must be a finite number"},
		{"telemetry_hz = 10", "telemetry_hz = 1e-300", "plan.toml:10: telemetry_hz: must be between"},
		{"telemetry_hz = 10", "telemetry_hz = 1e6", "plan.toml:10: telemetry_hz: must be between"},
		{"timeout_s = 120", "timeout_s = -5", "plan.toml:8: timeout_s: must be between 0.001 and 604800, not -5"},
		{"timeout_s = 120", "timeout_s = 1e300", "plan.toml:8: timeout_s: must be between"},
		{"timeout_s = 120", "timeout_s = 1e-12", "plan.toml:8: timeout_s: must be between"},
		{"stall_s = 60", "stall_s = -inf", "plan.toml:9: stall_s: must be a finite number"},
		{"stall_s = 60", "stall_s = nan", "plan.toml:9: stall_s: must be a finite number"},
		{"max_seqs = 4", "max_seqs = 100000000", "plan.toml:17: models[0].max_seqs: must be between 1 and 65536"},
		{"concurrency = [1, 2, 3, 4]", "concurrency = [1, 100000]", "plan.toml:27: experiments.concurrency: entry 2 must be between 1 and 4096, not 100000"},
		{"inputs = [48, 192]", "inputs = [48, 9999999999]", "plan.toml:28: experiments.inputs: entry 2 must be between 1 and 1048576"},
		{"outputs = [24]", "outputs = [-3]", "plan.toml:29: experiments.outputs: entry 1 must be at least 1, got -3"},
		{"requests = 10", "requests = 1000000000", "plan.toml:30: experiments.requests: must be between 0 and 1048576"},
		{"rates = [1.0, 2.0, 3.0]", "rates = [1.0, nan]", "plan.toml:31: experiments.rates[1]: must be a finite number"},
		{"rates = [1.0, 2.0, 3.0]", "rates = [inf]", "plan.toml:31: experiments.rates[0]: must be a finite number"},
		{"rates = [1.0, 2.0, 3.0]", "rates = [1e-300]", "plan.toml:31: experiments.rates: entry 1 must be between 0.0001 and 100000"},
		{"rates = [1.0, 2.0, 3.0]", "rates = [-1.0]", "plan.toml:31: experiments.rates: entry 1 must be positive, got -1"},
		{"rate_requests = 6", "rate_requests = -6", "plan.toml:32: experiments.rate_requests: must be"},
		{"sustained_s = 0", "sustained_s = nan", "plan.toml:33: experiments.sustained_s: must be a finite number"},
		{"sustained_s = 0", "sustained_s = 1e12\nsustained_concurrency = 2", "plan.toml:33: experiments.sustained_s: must be between 0 and 604800"},
		{"sustained_s = 0", "sustained_s = 10\nsustained_concurrency = 5000", "plan.toml:34: experiments.sustained_concurrency: must be between 0 and 4096"},
		{"holdout_every = 3", "holdout_every = -1", "plan.toml:34: experiments.holdout_every: must be between 0 and 1000, not -1"},
		{"passes = 2 ", "passes = 101 ", "plan.toml:35: experiments.passes: must be between 1 and 100, not 101"},
		{"concurrency = [1, 2, 3, 4]", "concurrency = [" + strings.Repeat("1, ", 300) + "1]", "plan.toml:27: experiments.concurrency: has 301 entries; at most 256"},
		// (2 alone + together) x 200 x 200 x 4 levels + 6 rates, x 2 passes: the grid, not one list, is too big.
		{"inputs = [48, 192]\noutputs = [24]", "inputs = [" + strings.Repeat("8, ", 199) + "8]\noutputs = [" + strings.Repeat("8, ", 199) + "8]", "experiments: the grid expands to 960012 experiments; at most 100000"},
		{"seed = 7", "seed = [" + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "]", "plan.toml:7: arrays and inline tables nest deeper than 32 levels"},
		{`arch = "qwen3-ci-a"`, `arch = "` + strings.Repeat("q", 2000) + `"`, "plan.toml:14: models[0].arch: is 2000 bytes long; at most 1024"},
		{`name = "ci-a"`, `name = "ci\u0007a"`, `plan.toml:13: models[0].name: contains a control character ("\a" at byte 2)`},
		{`name = "ci-a"`, `name = "  "`, "plan.toml:13: models[0].name: required field is missing"},
	}
	for _, c := range cases {
		t.Run(c.to[:min(len(c.to), 40)], func(t *testing.T) {
			data := strings.Replace(string(good), c.from, c.to, 1)
			if data == string(good) {
				t.Fatalf("%q not in the plan", c.from)
			}
			_, err := ParsePlan("plan.toml", []byte(data), cat)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
}

// TestParsePlanRunName: the plan's name becomes a folder under the runs
// root, so it may not climb out of it or hide.
func TestParsePlanRunName(t *testing.T) {
	cat := ciCatalog(t)
	good, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, want string }{
		{`../../etc`, `plan.toml:3: name: "../../etc" must not start with '.'`},
		{`a/../../b`, `plan.toml:3: name: "a/../../b" may hold only letters, digits, '.', '_' and '-' (it names the run folder); "/" at byte 1 is not allowed`},
		{`a\\b`, `"\\" at byte 1 is not allowed`},
		{`.hidden`, `must not start with '.'`},
		{``, `plan.toml:3: name: is required`},
		{`   `, `" " at byte 0 is not allowed`},
		{`a\tb`, `"\t" at byte 1 is not allowed`},
		{`a\u0000b`, `"\x00" at byte 1 is not allowed`},
		{strings.Repeat("n", 65), `name: is 65 bytes long; at most 64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := strings.Replace(string(good), `name = "ci-cpu"`, `name = "`+c.name+`"`, 1)
			_, err := ParsePlan("plan.toml", []byte(data), cat)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
	for _, ok := range []string{"ci-cpu", "spark_8b.v2", "A-1"} {
		data := strings.Replace(string(good), `name = "ci-cpu"`, `name = "`+ok+`"`, 1)
		if _, err := ParsePlan("plan.toml", []byte(data), cat); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestStartStaysInsideRoot: Start refuses a plan name that is not a safe
// folder name even when the plan was built in code rather than parsed,
// and two runs started in the same second get folders of their own.
func TestStartStaysInsideRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "runs")
	for _, name := range []string{"../escape", "a/b", "", ".."} {
		if dir, err := Start(root, &Plan{Name: name}, nil, nil); err == nil {
			t.Errorf("Start with name %q made %s", name, dir)
		} else if !strings.Contains(err.Error(), "plan name") {
			t.Errorf("name %q: error does not name the field: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "escape")); err == nil {
		t.Error("a folder was made outside the runs root")
	}
	a, err := Start(root, &Plan{Name: "same"}, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(root, &Plan{Name: "same"}, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || filepath.Dir(a) != root || filepath.Dir(b) != root {
		t.Errorf("two starts: %s and %s (root %s)", a, b, root)
	}
	for _, bad := range []string{"..", "../x", "a/b", ".x", ""} {
		if dir, err := RunDir(root, bad); err == nil {
			t.Errorf("RunDir(%q) = %s", bad, dir)
		}
	}
}

// TestLoadRunOldName: a run made before names were restricted still
// loads for fit and check; only starting a run checks the name.
func TestLoadRunOldName(t *testing.T) {
	srv := fakeServer(t, nil)
	p, data := fakePlan(t, srv.URL)
	dir, err := Start(t.TempDir(), p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), `name = "fake"`, `name = "my run"`, 1)
	if err := os.WriteFile(filepath.Join(dir, PlanFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, RequestsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if run, err := LoadRun(dir, ciCatalog(t)); err != nil || run.Plan.Name != "my run" {
		t.Errorf("LoadRun: %v", err)
	}
}
