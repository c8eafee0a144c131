package calibrate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/scenario"
)

func colocationPlan(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "ci-colocation.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// vllmPlan is two vLLM servers on a DGX Spark, as the shipped plan has.
const vllmPlan = `name = "spark"
hardware = "dgx-spark"
engine = "vllm"
sharing = ["time-slice", "mps"]

[[servers]]
name = "vllm-8b"
command = ["vllm", "serve", "Qwen/Qwen3-8B", "--port", "{port}", "--gpu-memory-utilization", "0.35"]
port = 8000
models = ["Qwen/Qwen3-8B"]
memory_fraction = 0.35
mps_active_thread_pct = 50

[[servers]]
name = "vllm-14b"
command = ["vllm", "serve", "Qwen/Qwen3-14B", "--port", "{port}"]
port = 8001
models = ["Qwen/Qwen3-14B"]

[[models]]
name = "Qwen/Qwen3-8B"
arch = "qwen3-8b"
format = "bf16"
max_seqs = 16

[[models]]
name = "Qwen/Qwen3-14B"
arch = "qwen3-14b"
format = "bf16"
max_seqs = 16

[experiments]
concurrency = [1, 4]
inputs = [1024]
outputs = [64]
requests = 8
rates = [0.5]
rate_requests = 8
`

func TestParsePlanServers(t *testing.T) {
	ci := colocationPlan(t)
	cat := ciCatalog(t)
	cases := []struct {
		name       string
		base       string
		from, to   string
		want       string // an error it must contain; "" for a plan that parses
		check      func(*testing.T, *Plan)
		defaultCat bool
	}{
		{name: "co-location plan", base: ci, check: func(t *testing.T, p *Plan) {
			if got := p.Modes(); !slices.Equal(got, []scenario.Sharing{scenario.MPS}) {
				t.Errorf("modes %v: the CI host's default is mps", got)
			}
			if p.Models[0].URL != "" || p.Servers[0].Health != "/api/version" || p.Servers[0].ReadyS != 60 || p.Servers[0].StopS != DefaultStopS {
				t.Errorf("defaults: url %q, server %+v", p.Models[0].URL, p.Servers[0])
			}
		}},
		{name: "fixed port derives the url", base: ci, from: `name = "ollama-a"`, to: "name = \"ollama-a\"\nport = 11500", check: func(t *testing.T, p *Plan) {
			if p.Models[0].URL != "http://127.0.0.1:11500/v1" || p.Models[1].URL != "" {
				t.Errorf("urls %q, %q", p.Models[0].URL, p.Models[1].URL)
			}
		}},
		{name: "vllm servers", base: vllmPlan, defaultCat: true, check: func(t *testing.T, p *Plan) {
			if p.Models[1].URL != "http://127.0.0.1:8001/v1" || p.Models[1].MetricsURL != "http://127.0.0.1:8001/metrics" || p.Servers[0].Health != "/health" {
				t.Errorf("derived %+v, health %q", p.Models[1], p.Servers[0].Health)
			}
		}},
		{name: "unknown sharing", base: ci, from: `name = "ci-colocation"`, to: "name = \"ci-colocation\"\nsharing = [\"mpss\"]", want: `plan.toml:9: sharing: entry 1: unknown sharing "mpss"`},
		{name: "mig", base: vllmPlan, defaultCat: true, from: `"time-slice", "mps"`, to: `"mig"`, want: "sharing: entry 1: mig is not run by calibrate yet"},
		{name: "twice", base: vllmPlan, defaultCat: true, from: `"time-slice", "mps"`, to: `"mps", "mps"`, want: `sharing: entry 2: "mps" is listed twice`},
		{name: "one-process on vllm", base: vllmPlan, defaultCat: true, from: `"time-slice", "mps"`, to: `"one-process"`, want: "vllm serves one model per process"},
		{name: "one-process of two commands", base: edit(vllmPlan, `engine = "vllm"`, `engine = "llama.cpp"`, "mps_active_thread_pct = 50", ""),
			defaultCat: true, from: `"time-slice", "mps"`, to: `"one-process"`, want: "sharing: entry 1: one-process needs one server hosting every model: one [[servers]] entry listing them all"},
		{name: "one-process of one llama-server", base: edit(vllmPlan, `engine = "vllm"`, `engine = "llama.cpp"`, "mps_active_thread_pct = 50", "",
			`models = ["Qwen/Qwen3-8B"]`, `models = ["Qwen/Qwen3-8B", "Qwen/Qwen3-14B"]`,
			"[[servers]]\nname = \"vllm-14b\"\ncommand = [\"vllm\", \"serve\", \"Qwen/Qwen3-14B\", \"--port\", \"{port}\"]\nport = 8001\nmodels = [\"Qwen/Qwen3-14B\"]\n", ""),
			defaultCat: true, from: `"time-slice", "mps"`, to: `"one-process"`, check: func(t *testing.T, p *Plan) {
				if len(p.Servers) != 1 || len(p.modeServers(scenario.OneProcess)) != 1 || p.Models[1].URL != "http://127.0.0.1:8000/v1" {
					t.Errorf("servers %+v, models %+v", p.Servers, p.Models)
				}
			}},
		{name: "modes without servers", base: vllmPlan, defaultCat: true, from: "[[servers]]\nname = \"vllm-8b\"", to: "[[servers_]]\nname = \"vllm-8b\"", want: "servers_: unknown field"},
		{name: "kind", base: ci, from: `kind = "ollama"      #`, to: `kind = "olama" #`, want: `plan.toml:19: servers[0].kind: must be empty (a server its command starts) or "ollama", got "olama"`},
		{name: "kind ollama on vllm", base: vllmPlan, defaultCat: true, from: `name = "vllm-14b"`, to: "name = \"vllm-14b\"\nkind = \"ollama\"", want: `servers[1].kind: kind = "ollama" serves with Ollama, but the plan's engine is "vllm"`},
		{name: "no command", base: vllmPlan, defaultCat: true, from: `command = ["vllm", "serve", "Qwen/Qwen3-14B", "--port", "{port}"]`, to: "", want: "servers[1].command: required: the argv"},
		{name: "empty program", base: vllmPlan, defaultCat: true, from: `command = ["vllm", "serve", "Qwen/Qwen3-14B"`, to: `command = ["", "serve", "Qwen/Qwen3-14B"`, want: "servers[1].command: the program (entry 1) is empty"},
		{name: "port and url", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "port = 8001\nurl = \"http://10.0.0.2:8001\"", want: "servers[1].url: give port or url, not both"},
		{name: "url with /v1", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "url = \"http://10.0.0.2:8001/v1\"", want: `servers[1].url: must be the server's root (models get /v1 appended), got path "/v1"`},
		{name: "url elsewhere", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "url = \"http://10.0.0.2:8001\"", check: func(t *testing.T, p *Plan) {
			if p.Models[1].URL != "http://10.0.0.2:8001/v1" {
				t.Errorf("url %q", p.Models[1].URL)
			}
		}},
		{name: "port range", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "port = 80010", want: "servers[1].port: must be between 0 and 65535, not 80010"},
		{name: "unknown model", base: ci, from: `models = ["ci-b"]`, to: `models = ["ci-c"]`, want: `servers[1].models: "ci-c" is not a served name`},
		{name: "hosted twice", base: ci, from: `models = ["ci-b"]`, to: `models = ["ci-b", "ci-a"]`, want: `servers[1].models: "ci-a" is hosted by server "ollama-a" already`},
		{name: "hosted by none", base: ci, from: `models = ["ci-b"]`, to: `models = ["ci-a"]`, want: `models[1].name: no [[servers]] entry hosts "ci-b"`},
		{name: "hosted model with a url", base: ci, from: `format = "fp16"
max_seqs = 4         #`, to: `format = "fp16"
url = "http://127.0.0.1:1/v1"
max_seqs = 4 #`, want: `models[0].url: "ci-a" is hosted by server "ollama-a", whose address gives its url: leave url empty`},
		{name: "health", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "port = 8001\nhealth = \"health\"", want: `servers[1].health: must be a URL path starting with '/'`},
		{name: "mps pct without mps", base: vllmPlan, defaultCat: true, from: `"time-slice", "mps"`, to: `"time-slice"`, want: `servers[0].mps_active_thread_pct: only with "mps" among the plan's sharing modes`},
		{name: "mps pct range", base: vllmPlan, defaultCat: true, from: "mps_active_thread_pct = 50", to: "mps_active_thread_pct = 150", want: "servers[0].mps_active_thread_pct: must be in (0, 100], got 150"},
		{name: "num_thread off ollama", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "port = 8001\nnum_thread = 2", want: `servers[1].num_thread: only for kind = "ollama" servers`},
		{name: "env name", base: vllmPlan, defaultCat: true, from: "port = 8001", to: "port = 8001\nenv = { \"A=B\" = \"1\" }", want: `servers[1].env: variable name "A=B"`},
		{name: "server name", base: ci, from: `name = "ollama-b"`, to: `name = "b/x"`, want: `servers[1].name: "b/x" may hold only letters, digits, '.', '_' and '-' (it names the server's log)`},
		{name: "server twice", base: ci, from: `name = "ollama-b"`, to: `name = "ollama-a"`, want: `servers[1].name: server "ollama-a" is listed twice`},
		{name: "ready_s", base: ci, from: "ready_s = 60\n\n[[models]]", to: "ready_s = -1\n\n[[models]]", want: "servers[1].ready_s: must be between 0.001 and 604800, not -1"},
		{name: "gguf without ollama", base: vllmPlan, defaultCat: true, from: "max_seqs = 16\n\n[[models]]", to: "max_seqs = 16\ngguf = \"x.gguf\"\n\n[[models]]", want: `models[0].gguf: only for a model a kind = "ollama" server hosts`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := strings.Replace(c.base, c.from, c.to, 1)
			if c.from != "" && data == c.base {
				t.Fatalf("%q not in the plan", c.from)
			}
			use := cat
			if c.defaultCat {
				use = catalog.Default()
			}
			p, err := ParsePlan("plan.toml", []byte(data), use)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.check != nil {
					c.check(t, p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %q", err, c.want)
			}
		})
	}
}

// edit applies from, to pairs to a plan's text.
func edit(s string, pairs ...string) string { return strings.NewReplacer(pairs...).Replace(s) }

// One-process is one program stepping every model in one loop: Ollama,
// even as one server, runs a runner process per model, so an Ollama plan
// cannot name it, with one server or two, or with url = "local".
func TestOneProcessNeedsOneLoop(t *testing.T) {
	cat := ciCatalog(t)
	oneServer := edit(colocationPlan(t), `models = ["ci-a"]`, `models = ["ci-a", "ci-b"]`,
		"[[servers]]\nname = \"ollama-b\"\nkind = \"ollama\"\nmodels = [\"ci-b\"]\nnum_thread = 1\nnum_ctx = 1024\nready_s = 60\n", "")
	if p, err := ParsePlan("plan.toml", []byte(oneServer), cat); err != nil || len(p.Servers) != 1 || len(p.modeServers(scenario.MPS)[0].Models) != 2 {
		t.Fatalf("one Ollama hosting both: %v", err)
	}
	ciPlan, err := os.ReadFile(filepath.Join("testdata", "ci-plan.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, plan := range map[string]string{"two servers": colocationPlan(t), "one server": oneServer, "local": string(ciPlan)} {
		data := strings.Replace(plan, "seed = 7", "seed = 7\nsharing = [\"one-process\"]", 1)
		if _, err := ParsePlan("plan.toml", []byte(data), cat); err == nil || !strings.Contains(err.Error(), "sharing: entry 1: Ollama runs each model in a runner process of its own") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// llama.cpp at two addresses is two processes.
	data := edit(vllmPlan, `engine = "vllm"`, `engine = "llama.cpp"`, "mps_active_thread_pct = 50", "", `"time-slice", "mps"`, `"one-process"`)
	data = data[:strings.Index(data, "[[servers]]")] + data[strings.Index(data, "[[models]]"):]
	data = strings.Replace(data, "max_seqs = 16\n\n[[models]]", "max_seqs = 16\nurl = \"http://127.0.0.1:8080/v1\"\n\n[[models]]", 1)
	data = strings.Replace(data, "max_seqs = 16\n\n[experiments]", "max_seqs = 16\nurl = \"http://127.0.0.1:8081/v1\"\n\n[experiments]", 1)
	if _, err := ParsePlan("plan.toml", []byte(data), catalog.Default()); err == nil || !strings.Contains(err.Error(), "one-process needs one server hosting every model, and the models' urls name 2") {
		t.Errorf("two llama.cpp addresses: %v", err)
	}
	if _, err := ParsePlan("plan.toml", []byte(strings.ReplaceAll(data, "8081", "8080")), catalog.Default()); err != nil {
		t.Errorf("one llama.cpp address: %v", err)
	}
}

// Each mode runs the grid's alone and together experiments, every pass;
// the rates and the sustained phase run in the first mode only. The
// first mode's IDs are those of a plan without modes.
func TestExpandModes(t *testing.T) {
	p, err := ParsePlan("plan.toml", []byte(vllmPlan), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	p.Experiments.Passes = 2
	p.Experiments.SustainedS, p.Experiments.SustainedConcurrency = 30, 2
	exps := p.Expand()
	if n := p.experimentCount(); n != len(exps) {
		t.Errorf("experimentCount %d, Expand %d", n, len(exps))
	}
	byMode := map[scenario.Sharing][]string{}
	for _, e := range exps {
		byMode[e.Sharing] = append(byMode[e.Sharing], e.ID)
	}
	for _, c := range []struct {
		mode      scenario.Sharing
		n         int
		has, lack string
	}{
		{scenario.TimeSlice, 2 * (3*2 + 2 + 1), "alone-Qwen/Qwen3-8B-c1-i1024-o64", "-time-slice"},
		{scenario.MPS, 2 * 3 * 2, "together-all-c4-i1024-o64-mps-pass2", "rate-"},
	} {
		ids := byMode[c.mode]
		joined := strings.Join(ids, " ")
		if len(ids) != c.n || !strings.Contains(joined, c.has) || strings.Contains(joined, c.lack) {
			t.Errorf("%s: %d experiments (want %d) %v", c.mode, len(ids), c.n, ids)
		}
	}
	// Modes run one after the other, never interleaved.
	for i := 1; i < len(exps); i++ {
		if exps[i].Sharing == scenario.TimeSlice && exps[i-1].Sharing == scenario.MPS {
			t.Fatalf("%s after %s", exps[i].ID, exps[i-1].ID)
		}
	}
}

// A run started under one catalog keeps its modes: the plan of a run
// that listed none reads back with the modes run.json recorded.
func TestRunKeepsItsModes(t *testing.T) {
	cat := ciCatalog(t)
	p, data, err := LoadPlan(filepath.Join("testdata", "ci-plan.toml"), cat)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := Start(t.TempDir(), p, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := ReadState(dir)
	if err != nil || !slices.Equal(st.Sharing, []scenario.Sharing{scenario.MPS}) {
		t.Fatalf("run.json sharing %v, %v", st.Sharing, err)
	}
	st.Sharing = []scenario.Sharing{scenario.TimeSlice}
	if err := st.write(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, RequestsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run, err := LoadRun(dir, cat)
	if err != nil {
		t.Fatal(err)
	}
	if e := run.Experiments[0]; e.Sharing != scenario.TimeSlice {
		t.Errorf("%s: sharing %q, want the recorded time-slice", e.ID, e.Sharing)
	}
}
