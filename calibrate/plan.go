// Package calibrate measures real inference servers and fits the twin to
// them. A Plan names the OpenAI-compatible endpoints, the models they serve
// (with their Qwen3 architecture from the catalog) and the experiments:
// each model alone and all together, concurrency and request-rate sweeps
// over input and output lengths, and a sustained phase for thermals.
//
// Run executes a plan into a run directory, writing every request record
// and telemetry sample as it arrives, so nothing measured is lost to a
// crash, a Ctrl-C or a dying server; a broken run resumes. Fit turns a run
// into a perf.Profile (step-time coefficients, interference, power curve,
// thermal constants), and Check replays the run's experiments through the
// simulator and compares.
//
// Metric names follow vLLM (see openai.Timing): TTFT, TPOT, ITL, E2E,
// output tokens/s, goodput.
package calibrate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/calibrate/openai"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// Plan is a calibration plan, decoded from TOML.
type Plan struct {
	Name     string `toml:"name"`
	Hardware string `toml:"hardware"` // catalog hardware the servers run on
	Engine   string `toml:"engine"`   // one of perf.Engines
	// API is "completions" (default) or "chat".
	API  string `toml:"api"`
	Seed uint64 `toml:"seed"`
	// TimeoutS bounds one request, StallS the wait for its next streamed
	// byte. Defaults 300 and 60.
	TimeoutS float64 `toml:"timeout_s"`
	StallS   float64 `toml:"stall_s"`
	// TelemetryHz is the sampling rate (default 10).
	TelemetryHz float64 `toml:"telemetry_hz"`
	// KVCache is the servers' KV-cache type (default fp16).
	KVCache     string      `toml:"kv_cache"`
	Models      []PlanModel `toml:"models"`
	Experiments Experiments `toml:"experiments"`
	// Servers are the server processes the run starts and stops itself
	// (see PlanServer); empty: the models' URLs are servers already up.
	Servers []PlanServer `toml:"servers"`
	// Sharing lists the ways the servers share the device that the run
	// measures, in order (see Plan.Modes): for each, the servers are
	// started that way, and the grid's alone and together experiments
	// run; "mps" listed runs them under an MPS control daemon. Empty:
	// the servers as they are, recorded as the hardware's default
	// (scenario.DefaultSharing: time-slice on a GPU, mps on a host whose
	// servers compute on their own cores), and no daemon.
	Sharing []scenario.Sharing `toml:"sharing"`
	// MPSControl is the nvidia-cuda-mps-control binary a "mps" mode
	// starts the MPS daemon with (default: that name, on PATH).
	MPSControl string `toml:"mps_control"`
	// CatalogFile names a catalog file beside the plan whose entries
	// extend the catalog for this plan (plan_catalog.go).
	CatalogFile string `toml:"catalog"`

	modes       []scenario.Sharing // Sharing, or the hardware's default; set by parsePlan
	cat         *catalog.Catalog   // the catalog extended by CatalogFile; nil without one
	catalogData []byte             // CatalogFile's contents, copied into the run folder
}

// PlanModel is one served model.
type PlanModel struct {
	Name   string `toml:"name"`   // the name the server serves it under
	Arch   string `toml:"arch"`   // catalog model with its architecture
	Format string `toml:"format"` // catalog weight format
	// URL is the OpenAI API root, e.g. http://127.0.0.1:8000/v1, or Local
	// for a random-weight model of Arch that fleettwin serves with Ollama.
	URL     string `toml:"url"`
	MaxSeqs int    `toml:"max_seqs"` // sequences the server batches (vLLM max_num_seqs, OLLAMA_NUM_PARALLEL)
	// MetricsURL is a Prometheus endpoint to scrape (vLLM's /metrics);
	// empty for none, or, for a vLLM model a [[servers]] entry hosts, that
	// server's /metrics.
	MetricsURL string `toml:"metrics_url"`
	// GGUF is the weights file a kind = "ollama" server creates the model
	// from; empty: a random-weight GGUF of Arch and Format (randmodel).
	GGUF string `toml:"gguf"`
}

// Local is the URL of a model fleettwin serves itself (ServeLocal).
const Local = "local"

// Experiments is the grid a plan sweeps.
type Experiments struct {
	Alone    *bool `toml:"alone"`    // each model on its own (default true)
	Together *bool `toml:"together"` // all models at once (default true)
	// Concurrency sweep: closed loops of this many users per model.
	Concurrency []int `toml:"concurrency"`
	Inputs      []int `toml:"inputs"`  // prompt tokens
	Outputs     []int `toml:"outputs"` // max_tokens
	// Requests per model per closed-loop point.
	Requests int `toml:"requests"`
	// Rate sweep: Poisson arrivals per model, RateRequests each, at the
	// first input and output length.
	Rates        []float64 `toml:"rates"`
	RateRequests int       `toml:"rate_requests"`
	// Sustained phase: all models at SustainedConcurrency for SustainedS.
	SustainedS           float64 `toml:"sustained_s"`
	SustainedConcurrency int     `toml:"sustained_concurrency"`
	// HoldoutEvery: every n-th concurrency level, and every n-th rate, is
	// held out of the fit and used only to check it (default 2).
	HoldoutEvery int `toml:"holdout_every"`
	// Passes runs the whole grid this many times (default 1). A machine
	// whose speed drifts (neighbours on a shared host, a GPU warming up)
	// then spreads its slow spells over fit and held-out experiments
	// alike; pass n > 1 suffixes the experiment IDs with "-pass<n>".
	Passes int `toml:"passes"`
}

// ExperimentKind is what an experiment measures, and so how it is run
// (closed loops or open-loop arrivals, for a count or for a span) and what
// the fit and the check take from it.
type ExperimentKind string

// The kinds of experiment a plan expands to, and the run's warmup.
const (
	Alone     ExperimentKind = "alone"     // one model, closed loops: the step-time fit
	Together  ExperimentKind = "together"  // all models at once, closed loops: the interference fit
	Rate      ExperimentKind = "rate"      // one model, Poisson arrivals: replayed as a trace
	Sustained ExperimentKind = "sustained" // all models for a span: thermals, never replayed
	Warmup    ExperimentKind = "warmup"    // a few requests before the first experiment, never analysed
)

// ExperimentKinds lists every kind, in the order a plan runs them, so a
// check and its message name the same set.
var ExperimentKinds = []ExperimentKind{Warmup, Alone, Together, Rate, Sustained}

// Valid reports whether k is one of ExperimentKinds.
func (k ExperimentKind) Valid() bool { return slices.Contains(ExperimentKinds, k) }

// Experiment is one point of the plan.
type Experiment struct {
	ID          string
	Kind        ExperimentKind
	Models      []string // served names
	Concurrency int      // closed loop users per model; 0 for rate
	Rate        float64  // requests/s per model (rate)
	Input       int
	Output      int
	Requests    int     // per model; 0 for sustained
	DurationS   float64 // sustained only
	HeldOut     bool
	// Sharing is how the servers shared the device while it ran (one of
	// the plan's Modes); replays simulate it so.
	Sharing scenario.Sharing
}

// LoadPlan reads and validates a plan.
func LoadPlan(path string, cat *catalog.Catalog) (*Plan, []byte, error) {
	return loadPlan(path, cat, true)
}

// LoadRunPlan reads the plan of an existing run directory. Its name is
// not checked as a folder name: the folder exists.
func LoadRunPlan(dir string, cat *catalog.Catalog) (*Plan, []byte, error) {
	return loadPlan(filepath.Join(dir, PlanFile), cat, false)
}

// loadPlan reads a plan; checkName false accepts any name, for the plan
// of a run already made (its name no longer makes a folder).
func loadPlan(path string, cat *catalog.Catalog, checkName bool) (*Plan, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load plan: %w", err)
	}
	p, err := parsePlan(path, data, cat, checkName, readBeside(filepath.Dir(path)))
	return p, data, err
}

// ParsePlan decodes and validates a plan; name is used in errors, which
// carry the file, line and field. A plan naming a catalog file needs
// ParsePlanFrom.
func ParsePlan(name string, data []byte, cat *catalog.Catalog) (*Plan, error) {
	return parsePlan(name, data, cat, true, nil)
}

func parsePlan(name string, data []byte, cat *catalog.Catalog, checkName bool, read ReadFunc) (*Plan, error) {
	// Decode bounds the document before the decoder (which recurses per
	// nesting level) sees it, and refuses nan and inf by field.
	var p Plan
	md, err := tomlcheck.Decode(name, data, &p)
	if err != nil {
		return nil, err
	}
	errs := tomlcheck.NewErrors(name, data)
	add, addKind := errs.Add, errs.AddKind
	errs.Unknown(md)
	// Strings are bounded before they reach the catalog, whose
	// suggestions cost the product of two names' lengths.
	str := func(key []string, v string) bool {
		if msg := checkString(v); msg != "" {
			add(key, "%s", msg)
			return false
		}
		return true
	}
	if !checkName {
		str([]string{"name"}, p.Name)
	} else if msg := CheckRunName(p.Name, MaxNameLen); msg != "" {
		add([]string{"name"}, "%s", msg)
	}
	if str([]string{"catalog"}, p.CatalogFile) {
		cat = p.loadCatalog(errs, cat, read)
	}
	if str([]string{"hardware"}, p.Hardware) {
		if _, err := cat.HardwareNamed(p.Hardware); err != nil {
			addKind(tomlcheck.NotFound, []string{"hardware"}, "%v", err)
		}
	}
	if str([]string{"engine"}, p.Engine) && !slices.Contains(perf.Engines, p.Engine) {
		addKind(tomlcheck.NotFound, []string{"engine"}, "unknown engine %q; valid: %s", p.Engine, strings.Join(perf.Engines, ", "))
	}
	switch {
	case !str([]string{"api"}, p.API):
	case p.API == "":
		p.API = string(openai.Completions)
	case p.API == string(openai.Completions), p.API == string(openai.Chat):
	default:
		add([]string{"api"}, "must be completions or chat, got %q", p.API)
	}
	if p.KVCache == "" {
		p.KVCache = "fp16"
	}
	if str([]string{"kv_cache"}, p.KVCache) {
		if _, err := cat.KVType(p.KVCache); err != nil {
			addKind(tomlcheck.NotFound, []string{"kv_cache"}, "%v", err)
		}
	}
	p.TimeoutS = defaultF(p.TimeoutS, 300)
	p.StallS = defaultF(p.StallS, 60)
	p.TelemetryHz = defaultF(p.TelemetryHz, 10)
	if len(p.Models) == 0 {
		addKind(tomlcheck.Missing, []string{"models"}, "at least one model is required")
	}
	seen := map[string]bool{}
	for i, m := range p.Models {
		k := func(f string) []string { return []string{"models", tomlcheck.Index(i), f} }
		switch {
		case !str(k("name"), m.Name):
		case strings.TrimSpace(m.Name) == "":
			addKind(tomlcheck.Missing, k("name"), "required field is missing")
		case seen[m.Name]:
			add(k("name"), "model %q is listed twice", m.Name)
		}
		seen[m.Name] = true
		if str(k("arch"), m.Arch) {
			if _, err := cat.Model(m.Arch); err != nil {
				addKind(tomlcheck.NotFound, k("arch"), "%v", err)
			}
		}
		if str(k("format"), m.Format) {
			if _, err := cat.Format(m.Format); err != nil {
				addKind(tomlcheck.NotFound, k("format"), "%v", err)
			}
		}
		// An empty url is a model a [[servers]] entry hosts: checkServers
		// derives it, or says none does.
		if str(k("url"), m.URL) && m.URL != "" && m.URL != Local && !strings.HasPrefix(m.URL, "http://") && !strings.HasPrefix(m.URL, "https://") {
			add(k("url"), "must be an http(s) URL ending in /v1, or %q, got %q", Local, m.URL)
		}
		str(k("metrics_url"), m.MetricsURL)
		str(k("gguf"), m.GGUF)
		if m.MaxSeqs <= 0 {
			addKind(tomlcheck.OutOfRange, k("max_seqs"), "must be positive (the sequences the server batches), got %d", m.MaxSeqs)
		} else if msg := tomlcheck.Int(m.MaxSeqs, 1, MaxSeqs); msg != "" {
			addKind(tomlcheck.OutOfRange, k("max_seqs"), "%s", msg)
		}
	}
	e := &p.Experiments
	for _, f := range []struct {
		key  string
		vals []int
	}{{"inputs", e.Inputs}, {"outputs", e.Outputs}} {
		if len(f.vals) == 0 {
			addKind(tomlcheck.Missing, []string{"experiments", f.key}, "at least one length is required")
		}
	}
	if len(e.Concurrency) > 0 && e.Requests < 1 {
		addKind(tomlcheck.OutOfRange, []string{"experiments", "requests"}, "must be at least 1 with a concurrency sweep, got %d", e.Requests)
	}
	if len(e.Rates) > 0 && e.RateRequests < 1 {
		addKind(tomlcheck.OutOfRange, []string{"experiments", "rate_requests"}, "must be at least 1 with a rate sweep, got %d", e.RateRequests)
	}
	if e.SustainedS > 0 && e.SustainedConcurrency < 1 {
		addKind(tomlcheck.OutOfRange, []string{"experiments", "sustained_concurrency"}, "a sustained phase needs sustained_s > 0 and sustained_concurrency >= 1")
	}
	if e.HoldoutEvery == 0 {
		e.HoldoutEvery = 2
	}
	if e.Passes == 0 {
		e.Passes = 1
	}
	p.checkServers(errs, cat)
	p.checkNumbers(errs)
	// The problems are reported in the order they were checked, as
	// before the collector was shared: Err would sort them by line.
	if errs.Len() > 0 {
		return nil, errs.List
	}
	return &p, nil
}

func defaultF(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// Model returns the plan's entry for a served name.
func (p *Plan) Model(name string) (PlanModel, bool) {
	for _, m := range p.Models {
		if m.Name == name {
			return m, true
		}
	}
	return PlanModel{}, false
}

// Expand lists the plan's experiments in the order they run, marking those
// held out of the fit. Each sharing mode (Modes) runs the whole grid, all
// passes; the rate sweep and the sustained phase, which measure one model
// at a time or the box's heat, run in the first mode only. The first
// mode's IDs are as they were before modes existed; a later mode's carry
// "-<mode>" before any "-pass<n>".
func (p *Plan) Expand() []Experiment {
	var out []Experiment
	for mi, mode := range p.Modes() {
		one := p.expandPass(mi == 0)
		suffix := ""
		if mi > 0 {
			suffix = "-" + string(mode)
		}
		for pass := 1; pass <= max(p.Experiments.Passes, 1); pass++ {
			for _, e := range one {
				e.ID += suffix
				if pass > 1 {
					e.ID = fmt.Sprintf("%s-pass%d", e.ID, pass)
				}
				e.Sharing = mode
				out = append(out, e)
			}
		}
	}
	return out
}

func (p *Plan) expandPass(first bool) []Experiment {
	e := p.Experiments
	var names []string
	for _, m := range p.Models {
		names = append(names, m.Name)
	}
	var out []Experiment
	// In a concurrency sweep the held-out points are concurrency levels
	// (the 2nd, 4th, ... of the list), at every length, so the fit always
	// sees the first level (single requests: clean prefill times) and the
	// check interpolates between levels it saw.
	grid := func(kind ExperimentKind, models []string, tag string) {
		for _, in := range e.Inputs {
			for _, o := range e.Outputs {
				for ci, c := range e.Concurrency {
					out = append(out, Experiment{
						ID:   fmt.Sprintf("%s-%s-c%d-i%d-o%d", kind, tag, c, in, o),
						Kind: kind, Models: models, Concurrency: c, Input: in, Output: o, Requests: e.Requests,
						HeldOut: e.HoldoutEvery > 0 && len(e.Concurrency) > 1 && (ci+1)%e.HoldoutEvery == 0,
					})
				}
			}
		}
	}
	if e.Alone == nil || *e.Alone {
		for _, n := range names {
			grid(Alone, []string{n}, n)
		}
	}
	if len(names) > 1 && (e.Together == nil || *e.Together) {
		grid(Together, names, "all")
	}
	if !first {
		return out
	}
	var rates []Experiment
	for _, n := range names {
		for _, r := range e.Rates {
			rates = append(rates, Experiment{
				ID:   fmt.Sprintf("rate-%s-r%g-i%d-o%d", n, r, e.Inputs[0], e.Outputs[0]),
				Kind: Rate, Models: []string{n}, Rate: r, Input: e.Inputs[0], Output: e.Outputs[0], Requests: e.RateRequests,
			})
		}
	}
	out = append(out, holdout(rates, e.HoldoutEvery)...)
	if e.SustainedS > 0 {
		out = append(out, Experiment{
			ID:   fmt.Sprintf("sustained-c%d-%gs", e.SustainedConcurrency, e.SustainedS),
			Kind: Sustained, Models: names, Concurrency: e.SustainedConcurrency,
			Input: e.Inputs[0], Output: e.Outputs[len(e.Outputs)-1], DurationS: e.SustainedS,
		})
	}
	return out
}

func holdout(pts []Experiment, every int) []Experiment {
	if every > 0 && len(pts) > 1 {
		for i := range pts {
			pts[i].HeldOut = (i+1)%every == 0
		}
	}
	return pts
}
