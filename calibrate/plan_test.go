package calibrate

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

func ciCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load(filepath.Join("testdata", "ci-catalog.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func TestParsePlanErrors(t *testing.T) {
	cat := ciCatalog(t)
	good, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown key", `seed = 7`, "seed = 7\ncolour = \"red\"", "plan.toml:8: colour: unknown field"},
		{"qwen3-7b", `arch = "qwen3-ci-b"`, `arch = "qwen3-7b"`, "plan.toml:21: models[1].arch: unknown model \"qwen3-7b\" (there is no Qwen3-7B; the nearest is qwen3-8b)"},
		{"bad url", `url = "local"       # served by fleettwin: a random-weight model in Ollama
max_seqs = 4

[[models]]`, `url = "localhost:8000"
max_seqs = 4

[[models]]`, `models[0].url: must be an http(s) URL ending in /v1, or "local", got "localhost:8000"`},
		{"engine", `engine = "ollama"`, `engine = "olama"`, `engine: unknown engine "olama"`},
		{"concurrency", `concurrency = [1, 2, 3, 4]`, `concurrency = [1, 0]`, "experiments.concurrency: entry 2 must be at least 1"},
		{"syntax", `seed = 7`, `seed = = 7`, "plan.toml:7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
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

func TestExpandHoldsOutConcurrencyLevels(t *testing.T) {
	cat := ciCatalog(t)
	p, _, err := LoadPlan(filepath.Join("testdata", "ci-plan.toml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	exps := p.Expand()
	// 2 models alone + together, each 4 levels x 2 inputs; 3 rates x 2
	// models; two passes.
	if len(exps) != 2*(3*4*2+3*2) {
		t.Fatalf("%d experiments", len(exps))
	}
	seen := map[string]bool{}
	for _, e := range exps {
		if seen[e.ID] {
			t.Errorf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
		wantHeld := e.Concurrency == 3 || (e.Kind == "rate" && e.Rate == 3)
		if e.HeldOut != wantHeld {
			t.Errorf("%s: held out %v", e.ID, e.HeldOut)
		}
		if e.Kind == "together" && len(e.Models) != 2 {
			t.Errorf("%s: models %v", e.ID, e.Models)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	cat := ciCatalog(f)
	good, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("[[models]]\nname = 1"))
	for _, edit := range [][2]string{
		{"telemetry_hz = 10", "telemetry_hz = nan"},
		{"telemetry_hz = 10", "telemetry_hz = -inf"},
		{"timeout_s = 120", "timeout_s = 1e308"},
		{"stall_s = 60", "stall_s = -0.0"},
		{"concurrency = [1, 2, 3, 4]", "concurrency = [9223372036854775807]"},
		{"rates = [1.0, 2.0, 3.0]", "rates = [nan, inf, 5e-324]"},
		{"inputs = [48, 192]", "inputs = [" + strings.Repeat("1, ", 250) + "1]"},
		{"seed = 7", "seed = " + strings.Repeat("[", 50) + strings.Repeat("]", 50)},
		{"seed = 7", "a" + strings.Repeat(".a", 40) + " = 1"},
		{`name = "ci-cpu"`, `name = "../../x"`},
		{`name = "ci-cpu"`, "name = \"a\\u0000\x7f\""},
		{`arch = "qwen3-ci-a"`, `arch = "` + strings.Repeat("qwen3-", 200) + `"`},
	} {
		f.Add([]byte(strings.Replace(string(good), edit[0], edit[1], 1)))
	}
	f.Add([]byte("\xff\xfe\x00[models\n=\"\"\"\n"))
	co, err := os.ReadFile(filepath.Join("testdata", "ci-colocation.toml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(co)
	for _, edit := range [][2]string{
		{`name = "ci-colocation"`, "name = \"x\"\nsharing = [\"mps\", \"one-process\", \"time-slice\"]"},
		{`name = "ci-colocation"`, "name = \"x\"\nsharing = [\"mig\", \"" + strings.Repeat("m", 2000) + "\"]"},
		{`models = ["ci-b"]`, `models = ["ci-b", "ci-a", "ci-a"]`},
		{`kind = "ollama"      #`, "command = [\"{port}{dir}{name}\"]\nenv = { \"{port}\" = \"{dir}\" } #"},
	} {
		f.Add([]byte(strings.Replace(string(co), edit[0], edit[1], 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan("fuzz.toml", data, cat)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.toml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		exps := p.Expand()
		for _, e := range exps {
			if len(e.Models) == 0 || e.Input < 1 || e.Output < 1 || !e.Sharing.Valid() {
				t.Fatalf("valid plan expands to a bad experiment %+v", e)
			}
		}
		if n := p.experimentCount(); n != len(exps) {
			t.Fatalf("experimentCount %d, Expand %d", n, len(exps))
		}
		for _, m := range p.Models { // every model has an address, or a server to give it one
			if m.URL == "" && p.serverOf(m.Name).Name == "" {
				t.Fatalf("model %s has neither a url nor a server", m.Name)
			}
		}
	})
}

// TestShippedPlans parses every plan under calibration-plans/ with the
// built-in catalog (and the entries a plan brings beside it).
func TestShippedPlans(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "calibration-plans", "*.toml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no plans: %v", err)
	}
	for _, p := range paths {
		if strings.HasSuffix(p, ".catalog.toml") {
			continue // a plan's catalog entries, not a plan
		}
		plan, _, err := LoadPlan(p, catalog.Default())
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if len(plan.Expand()) == 0 || len(plan.Models) < 2 {
			t.Errorf("%s: %d experiments, %d models", p, len(plan.Expand()), len(plan.Models))
		}
	}
}

func TestExperimentKinds(t *testing.T) {
	cat := ciCatalog(t)
	p, _, err := LoadPlan(filepath.Join("testdata", "ci-plan.toml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	p.Experiments.SustainedS, p.Experiments.SustainedConcurrency = 60, 2
	seen := map[ExperimentKind]bool{Warmup: true}
	for _, e := range p.Expand() {
		if !e.Kind.Valid() {
			t.Errorf("%s: kind %q not in ExperimentKinds", e.ID, e.Kind)
		}
		seen[e.Kind] = true
	}
	for _, k := range ExperimentKinds {
		if !seen[k] {
			t.Errorf("kind %q never expanded", k)
		}
	}
	if ExperimentKind("alon").Valid() {
		t.Error(`"alon" is valid`)
	}
	// A named string encodes as the string it was.
	data, err := json.Marshal(Experiment{ID: "r", Kind: Rate})
	if err != nil || !strings.Contains(string(data), `"Kind":"rate"`) {
		t.Errorf("JSON %s, %v", data, err)
	}
}

// TestParsePlanErrorKinds: callers test what sort of problem a plan has,
// not its message.
func TestParsePlanErrorKinds(t *testing.T) {
	cat := ciCatalog(t)
	good, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		from, to string
		kind     tomlcheck.Kind
	}{
		{`seed = 7`, "seed = 7\ncolour = \"red\"", tomlcheck.Unknown},
		{`arch = "qwen3-ci-b"`, `arch = "qwen3-7b"`, tomlcheck.NotFound},
		{`engine = "ollama"`, `engine = "olama"`, tomlcheck.NotFound},
		{`concurrency = [1, 2, 3, 4]`, `concurrency = [1, 0]`, tomlcheck.OutOfRange},
		{`inputs = [48, 192]`, `inputs = []`, tomlcheck.Missing},
		{`seed = 7`, `seed = = 7`, tomlcheck.Syntax},
	} {
		data := strings.Replace(string(good), c.from, c.to, 1)
		if data == string(good) {
			t.Fatalf("%q not in the plan", c.from)
		}
		if _, err := ParsePlan("plan.toml", []byte(data), cat); !tomlcheck.Has(err, c.kind) {
			t.Errorf("%s: %v is not of kind %v", c.to, err, c.kind)
		}
	}
}
