package calibrate

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/scenario"
)

// PlanServer is one server process the run starts before the experiments
// of each sharing mode and stops after them ([[servers]]), so that a plan
// can measure the same servers shared in different ways, and so that no
// server outlives the run.
type PlanServer struct {
	Name string `toml:"name"` // names its log, servers/<name>.log
	// Kind is empty for a server Command starts, or "ollama": the run
	// starts `ollama serve` (the Ollama binary it is given, unless Command
	// names one) with its own OLLAMA_HOST and model store, and creates
	// each of Models on it from its gguf, or from random weights of its
	// arch.
	Kind string `toml:"kind"`
	// Command is the argv, with {port}, {dir} (the run folder) and {name}
	// replaced; other braces are left alone.
	Command []string `toml:"command"`
	// Env is added to the environment the run inherits (its values
	// expanded as Command's), and recorded in servers.json: secrets
	// belong in the inherited environment, which is not recorded.
	Env map[string]string `toml:"env"`
	// Port is where it listens on loopback; 0 with no URL: a free port
	// chosen at each start. URL is the root of a server elsewhere (no
	// /v1); at most one of the two.
	Port int    `toml:"port"`
	URL  string `toml:"url"`
	// Models are the served names (of the plan's [[models]]) it hosts;
	// their url is derived: the server's root and /v1.
	Models []string `toml:"models"`
	// Health is the path polled until it answers 200 (default by engine:
	// /health, Ollama /api/version); ReadyS bounds the wait (default
	// 600: a large model loads for minutes), StopS the wait between
	// SIGTERM and SIGKILL (default 10).
	Health string  `toml:"health"`
	ReadyS float64 `toml:"ready_s"`
	StopS  float64 `toml:"stop_s"`
	// MemoryFraction is the share of device memory it was told to take
	// (recorded; pass it in Command too, e.g. --gpu-memory-utilization).
	MemoryFraction float64 `toml:"memory_fraction"`
	// MPSActiveThreadPct sets CUDA_MPS_ACTIVE_THREAD_PERCENTAGE in its
	// environment under sharing "mps", capping its share of SMs.
	MPSActiveThreadPct float64 `toml:"mps_active_thread_pct"`
	// NumThread and NumCtx are the Ollama parameters (num_thread, num_ctx)
	// each model of a kind = "ollama" server is created with; 0 keeps
	// Ollama's thread count, and a context of 4096.
	NumThread int `toml:"num_thread"`
	NumCtx    int `toml:"num_ctx"`
}

// KindOllama is the PlanServer kind the run serves with Ollama itself.
const KindOllama = "ollama"

// Defaults of a PlanServer.
const (
	DefaultReadyS = 600
	DefaultStopS  = 10
	defaultNumCtx = 4096
)

// multiModelEngines are the engines one server process of which can host
// several models (scenario's list for sharing = "one-process").
var multiModelEngines = []string{"llama.cpp", "ollama"}

// HealthPath is the readiness path of an engine's server: vLLM, SGLang,
// TensorRT-LLM and llama.cpp answer /health once the model is loaded;
// Ollama has none, and /api/version answers once it listens.
func HealthPath(engine string) string {
	if engine == "ollama" {
		return "/api/version"
	}
	return "/health"
}

// Modes are the sharing modes the plan measures, in order: Sharing, or
// the hardware's default when it lists none.
func (p *Plan) Modes() []scenario.Sharing {
	switch {
	case len(p.modes) > 0:
		return p.modes
	case len(p.Sharing) > 0:
		return p.Sharing
	}
	return []scenario.Sharing{scenario.TimeSlice}
}

// root is the server's address without /v1, given the port it listens on
// (its Port, or the one chosen at start).
func (s PlanServer) root(port int) string {
	if s.URL != "" {
		return strings.TrimSuffix(s.URL, "/")
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

// checkServers checks the sharing modes and the [[servers]], resolves the
// modes, and derives the URLs of the models a server with a fixed address
// hosts.
func (p *Plan) checkServers(errs *tomlcheck.Errors, cat *catalog.Catalog) {
	add, addKind := errs.Add, errs.AddKind
	str := func(key []string, v string) bool {
		if msg := checkString(v); msg != "" {
			add(key, "%s", msg)
			return false
		}
		return true
	}
	str([]string{"mps_control"}, p.MPSControl)
	seen := map[scenario.Sharing]bool{}
	for i, s := range p.Sharing {
		k := []string{"sharing"}
		switch {
		case !str(k, string(s)):
		case !s.Valid():
			addKind(tomlcheck.NotFound, k, "entry %d: unknown sharing %q; valid: %s, %s, %s", i+1, s, scenario.TimeSlice, scenario.MPS, scenario.OneProcess)
		case seen[s]:
			add(k, "entry %d: %q is listed twice", i+1, s)
		case s == scenario.MIG:
			add(k, "entry %d: mig is not run by calibrate yet (partitions are made as root with nvidia-smi mig, and each server pinned to one by CUDA_VISIBLE_DEVICES=MIG-<uuid>); measure time-slice, mps or one-process", i+1)
		case s == scenario.OneProcess && p.Engine == "ollama":
			add(k, "entry %d: Ollama runs each model in a runner process of its own, even in one server (docs/simulator.md): that is time-slice on a GPU, mps on a host of pinned cores; one-process is one program stepping every model in one loop (engine llama.cpp)", i+1)
		case s == scenario.OneProcess && !slices.Contains(multiModelEngines, p.Engine):
			add(k, "entry %d: %s serves one model per process; one-process needs an engine that hosts several (%s)", i+1, p.Engine, strings.Join(multiModelEngines, ", "))
		case s == scenario.OneProcess && len(p.Servers) > 0 && !(len(p.Servers) == 1 && len(p.Servers[0].Models) == len(p.Models)):
			add(k, "entry %d: one-process needs one server hosting every model: one [[servers]] entry listing them all", i+1)
		case s == scenario.OneProcess && len(p.Servers) == 0 && len(p.roots()) > 1:
			add(k, "entry %d: one-process needs one server hosting every model, and the models' urls name %d", i+1, len(p.roots()))
		}
		seen[s] = true
	}
	if len(p.Sharing) > MaxListLen {
		addKind(tomlcheck.OutOfRange, []string{"sharing"}, "lists %d modes; at most %d", len(p.Sharing), MaxListLen)
	}
	if len(p.Sharing) > 1 && len(p.Servers) == 0 {
		add([]string{"sharing"}, "lists %d modes: switching between them needs [[servers]] that the run starts itself", len(p.Sharing))
	}
	p.modes = slices.Clone(p.Sharing)
	if len(p.modes) == 0 {
		p.modes = []scenario.Sharing{scenario.TimeSlice}
		// A name too long to check is not looked up: the catalog's
		// suggestions cost the product of two names' lengths.
		if hw, err := cat.HardwareNamed(p.Hardware); checkString(p.Hardware) == "" && err == nil {
			p.modes[0] = scenario.DefaultSharing(hw)
		}
	}
	if len(p.Servers) > MaxListLen {
		addKind(tomlcheck.OutOfRange, []string{"servers"}, "lists %d servers; at most %d", len(p.Servers), MaxListLen)
		return
	}
	hosted := map[string]int{} // served name -> index of its server
	names := map[string]bool{}
	for i := range p.Servers {
		s := &p.Servers[i]
		k := func(f string) []string { return []string{"servers", tomlcheck.Index(i), f} }
		if msg := CheckRunName(s.Name, MaxNameLen); msg != "" {
			add(k("name"), "%s", strings.Replace(msg, "it names the run folder", "it names the server's log", 1))
		} else if names[s.Name] {
			add(k("name"), "server %q is listed twice", s.Name)
		}
		names[s.Name] = true
		switch {
		case !str(k("kind"), s.Kind):
		case s.Kind == KindOllama && p.Engine != "ollama":
			add(k("kind"), "kind = %q serves with Ollama, but the plan's engine is %q", s.Kind, p.Engine)
		case s.Kind != "" && s.Kind != KindOllama:
			add(k("kind"), "must be empty (a server its command starts) or %q, got %q", KindOllama, s.Kind)
		}
		if len(s.Command) == 0 && s.Kind != KindOllama {
			addKind(tomlcheck.Missing, k("command"), "required: the argv that starts the server, e.g. [\"vllm\", \"serve\", \"Qwen/Qwen3-8B\", \"--port\", \"{port}\"]")
		} else if len(s.Command) > MaxListLen {
			addKind(tomlcheck.OutOfRange, k("command"), "has %d arguments; at most %d", len(s.Command), MaxListLen)
		} else {
			for j, a := range s.Command {
				if !str(k("command"), a) {
					break
				}
				if j == 0 && strings.TrimSpace(a) == "" {
					add(k("command"), "the program (entry 1) is empty")
				}
			}
		}
		if len(s.Env) > MaxListLen {
			addKind(tomlcheck.OutOfRange, k("env"), "has %d variables; at most %d", len(s.Env), MaxListLen)
		}
		for _, name := range sortedKeys(s.Env) {
			if !str(k("env"), name) || !str(k("env"), s.Env[name]) {
				break
			}
			if name == "" || strings.ContainsAny(name, "= ") {
				add(k("env"), "variable name %q: must be non-empty, without '=' or spaces", name)
			}
		}
		if msg := tomlcheck.Int(s.Port, 0, 65535); msg != "" {
			addKind(tomlcheck.OutOfRange, k("port"), "%s", msg)
		}
		if str(k("url"), s.URL) && s.URL != "" {
			u, err := url.Parse(s.URL)
			switch {
			case s.Port != 0:
				add(k("url"), "give port or url, not both")
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				add(k("url"), "must be an http(s) URL, the server's root, got %q", s.URL)
			case strings.Trim(u.Path, "/") != "":
				add(k("url"), "must be the server's root (models get /v1 appended), got path %q", u.Path)
			}
		}
		if len(s.Models) == 0 {
			addKind(tomlcheck.Missing, k("models"), "required: the served names of the [[models]] it hosts")
		}
		for _, m := range s.Models {
			if _, ok := p.Model(m); !ok {
				addKind(tomlcheck.NotFound, k("models"), "%q is not a served name of the plan's [[models]]", m)
			} else if j, dup := hosted[m]; dup {
				add(k("models"), "%q is hosted by server %q already", m, p.Servers[j].Name)
			} else {
				hosted[m] = i
			}
		}
		if s.Health == "" {
			s.Health = HealthPath(p.Engine)
		}
		if str(k("health"), s.Health) && !strings.HasPrefix(s.Health, "/") {
			add(k("health"), "must be a URL path starting with '/', got %q", s.Health)
		}
		s.ReadyS = defaultF(s.ReadyS, DefaultReadyS)
		s.StopS = defaultF(s.StopS, DefaultStopS)
		for _, f := range []struct {
			key string
			v   float64
		}{{"ready_s", s.ReadyS}, {"stop_s", s.StopS}} {
			if msg := tomlcheck.Number(f.v, MinTimeoutS, MaxTimeoutS); msg != "" {
				addKind(tomlcheck.OutOfRange, k(f.key), "%s", msg)
			}
		}
		if msg := tomlcheck.Number(s.MemoryFraction, 0, 1); msg != "" {
			addKind(tomlcheck.OutOfRange, k("memory_fraction"), "%s", msg)
		}
		switch pct := s.MPSActiveThreadPct; {
		case pct == 0:
		case !(pct > 0 && pct <= 100):
			addKind(tomlcheck.OutOfRange, k("mps_active_thread_pct"), "must be in (0, 100], got %v", pct)
		case !slices.Contains(p.Sharing, scenario.MPS):
			add(k("mps_active_thread_pct"), "only with \"mps\" among the plan's sharing modes (which start the MPS daemon), got %v", p.Sharing)
		}
		if s.Kind != KindOllama {
			for _, f := range []struct {
				key string
				v   int
			}{{"num_thread", s.NumThread}, {"num_ctx", s.NumCtx}} {
				if f.v != 0 {
					add(k(f.key), "only for kind = %q servers", KindOllama)
				}
			}
		}
		if msg := tomlcheck.Int(s.NumThread, 0, 4096); msg != "" {
			addKind(tomlcheck.OutOfRange, k("num_thread"), "%s", msg)
		}
		if s.NumCtx != 0 {
			if msg := tomlcheck.Int(s.NumCtx, 16, MaxTokens); msg != "" {
				addKind(tomlcheck.OutOfRange, k("num_ctx"), "%s", msg)
			}
		}
	}
	for i := range p.Models {
		m := &p.Models[i]
		k := func(f string) []string { return []string{"models", tomlcheck.Index(i), f} }
		j, ok := hosted[m.Name]
		switch {
		case len(p.Servers) == 0 && m.URL == "":
			addKind(tomlcheck.Missing, k("url"), "required: the server's OpenAI API root (http://host:port/v1), %q, or a [[servers]] entry hosting the model", Local)
		case len(p.Servers) == 0:
		case !ok:
			add(k("name"), "no [[servers]] entry hosts %q: a plan with servers starts every model's server", m.Name)
		case m.URL != "":
			add(k("url"), "%q is hosted by server %q, whose address gives its url: leave url empty", m.Name, p.Servers[j].Name)
		case m.GGUF != "" && p.Servers[j].Kind != KindOllama:
			add(k("gguf"), "only for a model a kind = %q server hosts", KindOllama)
		default:
			if s := p.Servers[j]; s.URL != "" || s.Port != 0 {
				p.deriveURL(i, s.root(s.Port))
			}
		}
	}
}

// serverOf is the [[servers]] entry hosting a model (zero if none).
func (p *Plan) serverOf(model string) PlanServer {
	for _, s := range p.Servers {
		if slices.Contains(s.Models, model) {
			return s
		}
	}
	return PlanServer{}
}

// deriveURL points model i at the server root hosting it.
func (p *Plan) deriveURL(i int, root string) {
	p.Models[i].URL = root + "/v1"
	if p.Engine == "vllm" && p.Models[i].MetricsURL == "" {
		p.Models[i].MetricsURL = root + "/metrics"
	}
}

// roots are the server addresses (scheme and host) the models' urls
// name.
func (p *Plan) roots() map[string]bool {
	out := map[string]bool{}
	for _, m := range p.Models {
		if u, err := url.Parse(m.URL); err == nil && u.Host != "" {
			out[u.Scheme+"://"+u.Host] = true
		} else {
			out[m.URL] = true // "local": one Ollama for all
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// modeServers are the servers a mode starts: the plan's, each with the
// mode it runs in.
func (p *Plan) modeServers(mode scenario.Sharing) []serverSpec {
	var out []serverSpec
	for _, s := range p.Servers {
		out = append(out, serverSpec{PlanServer: s, mode: mode})
	}
	return out
}

// serverSpec is a server as one mode starts it.
type serverSpec struct {
	PlanServer
	mode scenario.Sharing
}

func (s serverSpec) String() string { return fmt.Sprintf("%s (%s)", s.Name, s.mode) }
