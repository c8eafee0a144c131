package calibrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing/fstest"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
)

// defaultProfiles parses the embedded profiles once per process: a fit
// compares about 22 times, and the dashboard on every file change.
var defaultProfiles = sync.OnceValues(perf.DefaultProfiles)

// simulate runs a replay; a variable so tests can count the replays that
// ran rather than came from a ReplayCache.
var simulate = sim.Run

// ReplayOptions say what Compare keeps.
type ReplayOptions struct {
	Dir   string       // when set, each replay's scenario and trace are written here (atomically), as today
	Cache *ReplayCache // when set, an experiment's replay is reused while its records, the profile and the catalog are unchanged
}

// ReplayCache keeps the last replay of each experiment of each run, keyed by
// a hash of everything the replay simulated: the scenario (the plan's
// settings, the measured lengths and spans, the interference), the traces
// (the measured arrivals and lengths), the whole profile and the whole
// catalog. A replay is deterministic (its seed is in the scenario), so a
// hit is exactly what simulating again would give. One entry per
// experiment: a new profile replaces the old replays rather than piling up.
type ReplayCache struct {
	mu    sync.Mutex
	byExp map[string]cachedReplay // by run directory and experiment ID
}

type cachedReplay struct {
	key  [sha256.Size]byte
	pred map[string]*Measured // read only once cached
}

// NewReplayCache returns an empty cache, safe for concurrent use.
func NewReplayCache() *ReplayCache {
	return &ReplayCache{byExp: map[string]cachedReplay{}}
}

func (c *ReplayCache) get(id string, key [sha256.Size]byte) (map[string]*Measured, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byExp[id]
	return e.pred, ok && e.key == key
}

func (c *ReplayCache) put(id string, key [sha256.Size]byte, pred map[string]*Measured) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byExp[id] = cachedReplay{key, pred}
}

// Compare replays every experiment (or only those with heldOut set as
// asked, when only is non-nil) and lists measured against predicted.
func (r *Run) Compare(ctx context.Context, cat *catalog.Catalog, p perf.Profile, only *bool, opt ReplayOptions) ([]Comparison, error) {
	cat = r.Plan.catalogOr(cat)
	base, err := defaultProfiles()
	if err != nil {
		return nil, err
	}
	profiles := maps.Clone(base) // the shared set stays as embedded
	profiles.Add(p)
	if opt.Dir != "" {
		if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
			return nil, err // names the folder
		}
	}
	var deps []byte
	if opt.Cache != nil {
		if deps, err = replayDeps(p, cat); err != nil {
			return nil, err
		}
	}
	return r.compare(only, func(e Experiment) (map[string]*Measured, error) {
		return r.replay(ctx, e, cat, profiles, p.Interference, opt, deps)
	})
}

// compare lists measured against predicted for every experiment with a
// replay (selected by only as in Compare), predict giving each one's
// simulated summaries by model.
func (r *Run) compare(only *bool, predict func(Experiment) (map[string]*Measured, error)) ([]Comparison, error) {
	var out []Comparison
	for _, e := range r.Experiments {
		if only != nil && e.HeldOut != *only {
			continue
		}
		if _, ok := r.Measured[e.ID]; !ok || e.Kind == Sustained {
			continue
		}
		pred, err := predict(e)
		if err != nil {
			return nil, err
		}
		for _, name := range e.Models {
			m, s := r.Measured[e.ID][name], pred[name]
			if s == nil { // nothing finished in the simulated span: no prediction
				s = &Measured{TTFT: percentiles(nil), TPOT: percentiles(nil), E2E: percentiles(nil), OutputTokPerS: math.NaN()}
			}
			add := func(metric string, meas, predicted float64) {
				if meas > 0 && !math.IsNaN(predicted) {
					out = append(out, Comparison{e.ID, e.HeldOut, name, metric, meas, predicted})
				}
			}
			add("ttft_p50", m.TTFT.P50, s.TTFT.P50)
			add("ttft_p90", m.TTFT.P90, s.TTFT.P90)
			add("tpot_p50", m.TPOT.P50, s.TPOT.P50)
			add("tpot_p90", m.TPOT.P90, s.TPOT.P90)
			add("e2e_p50", m.E2E.P50, s.E2E.P50)
			add("e2e_p90", m.E2E.P90, s.E2E.P90)
			add("output_tok_s", m.OutputTokPerS, s.OutputTokPerS)
		}
	}
	return out, nil
}

// replayDeps is what every replay of one comparison depends on besides
// its own scenario and traces: the profile and the catalog, as TOML
// (deterministic: the encoder sorts map keys, and prints each float in
// its shortest exact form, so any changed coefficient changes the bytes).
func replayDeps(p perf.Profile, cat *catalog.Catalog) ([]byte, error) {
	prof, err := perf.EncodeProfile(p, "")
	if err != nil {
		return nil, fmt.Errorf("replay cache: %w", err)
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(cat); err != nil {
		return nil, fmt.Errorf("replay cache: encode catalog: %w", err)
	}
	return append(prof, b.Bytes()...), nil
}

// replayInput is one experiment as a scenario to simulate, built in memory
// from the measured records.
type replayInput struct {
	file       *scenario.File
	name       string       // the scenario's file name
	traces     fstest.MapFS // the traces the scenario names, by file name
	traceNames []string     // the traces in the order of the experiment's models
}

// replay simulates one experiment as the run measured it and summarises
// the simulated requests per model. With opt.Dir set its scenario and
// traces are written there first, so a user can rerun them with
// `fleettwin simulate`; with opt.Cache set an unchanged replay is not
// simulated again.
func (r *Run) replay(ctx context.Context, e Experiment, cat *catalog.Catalog, profiles perf.ProfileSet, interference float64, opt ReplayOptions, deps []byte) (map[string]*Measured, error) {
	in, err := r.replayInput(e, interference)
	if err != nil {
		return nil, err
	}
	name := in.name
	var data []byte
	if opt.Dir != "" || opt.Cache != nil {
		if data, err = in.file.Encode(); err != nil {
			return nil, err
		}
	}
	if opt.Dir != "" {
		for _, t := range in.traceNames {
			if err := atomicfile.WriteFile(filepath.Join(opt.Dir, t), in.traces[t].Data, 0o644); err != nil {
				return nil, err
			}
		}
		name = filepath.Join(opt.Dir, in.name) // errors name the file a user would rerun
		if err := atomicfile.WriteFile(name, data, 0o644); err != nil {
			return nil, err
		}
	}
	var key [sha256.Size]byte
	id := r.Dir + "\x00" + e.ID
	if opt.Cache != nil {
		h := sha256.New()
		field(h, deps)
		field(h, data)
		for _, t := range in.traceNames {
			field(h, []byte(t))
			field(h, in.traces[t].Data)
		}
		h.Sum(key[:0])
		if pred, ok := opt.Cache.get(id, key); ok {
			return pred, nil
		}
	}
	sc, err := scenario.Resolve(name, in.file, cat, profiles, in.traces)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	pred, err := summarizeReplay(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", e.ID, err)
	}
	if opt.Cache != nil {
		opt.Cache.put(id, key, pred)
	}
	return pred, nil
}

// field writes b to h with its length first, so two fields cannot run
// into each other.
func field(h io.Writer, b []byte) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
	h.Write(n[:])
	h.Write(b)
}

// replayInput builds the scenario of one experiment: closed loops of the
// same users for the same span, or the measured arrivals and lengths as a
// trace.
func (r *Run) replayInput(e Experiment, interference float64) (*replayInput, error) {
	ms := r.Measured[e.ID]
	// All models' traces share one clock: the experiment's first send.
	var start time.Time
	for _, name := range e.Models {
		if m := ms[name]; m != nil && (start.IsZero() || m.Start.Before(start)) {
			start = m.Start
		}
	}
	in := &replayInput{name: fileName(e.ID) + ".toml", traces: fstest.MapFS{}}
	f := &scenario.File{Name: e.ID, Seed: r.Plan.Seed + 1, Models: map[string]scenario.ServedModel{}}
	chunked := true
	// The replay shares the device as the servers did (empty: the
	// hardware's default, as in a run made before modes).
	group := scenario.NodeGroup{Name: "box", Hardware: r.Plan.Hardware, Engine: r.Plan.Engine, Count: 1, Memory: scenario.MemoryDynamic,
		Sharing: e.Sharing, Interference: &interference}
	for _, name := range e.Models {
		m := ms[name]
		if m == nil || m.Requests == 0 {
			return nil, fmt.Errorf("experiment %s: no completed requests of %s", e.ID, name)
		}
		// Open loops run on past the last measured end so every request
		// can finish; closed loops run as long as the experiment did.
		if e.Kind == Rate {
			f.DurationS = max(f.DurationS, 2*(m.End.Sub(start).Seconds())+1)
		} else {
			f.DurationS = max(f.DurationS, m.End.Sub(start).Seconds())
		}
		pm, _ := r.Plan.Model(name)
		spec := workload.Spec{
			Input:  workload.Lengths{Dist: workload.Fixed, Value: int(math.Round(m.PromptTokens))},
			Output: workload.Lengths{Dist: workload.Fixed, Value: int(math.Round(m.OutputTokens))},
		}
		// Open-loop experiments replay their measured arrivals and
		// lengths. Closed loops stay closed loops: their arrivals follow
		// completions, so replaying measured arrivals would feed every
		// small timing error back as a queueing cascade.
		if e.Kind == Rate {
			trace := fileName(e.ID+"-"+name) + ".csv"
			in.traces[trace] = &fstest.MapFile{Data: traceCSV(m, start), Mode: 0o644}
			in.traceNames = append(in.traceNames, trace)
			spec.Arrival = workload.Arrival{Process: workload.Trace, Trace: trace}
		} else {
			spec.Arrival = workload.Arrival{Process: workload.Closed, Concurrency: e.Concurrency}
		}
		f.Models[name] = scenario.ServedModel{Model: pm.Arch, Workload: spec}
		inst := scenario.Instance{Model: name, Quant: pm.Format, KVCache: r.Plan.KVCache, MaxSeqs: pm.MaxSeqs, ChunkedPrefill: &chunked}
		if e.Sharing == scenario.MPS {
			inst.MPSActiveThreadPct = r.Plan.serverOf(name).MPSActiveThreadPct
		}
		group.Instances = append(group.Instances, inst)
	}
	f.Nodes = []scenario.NodeGroup{group}
	in.file = f
	return in, nil
}

// traceCSV is a model's measured arrivals (on the experiment's clock) and
// lengths as a trace file. Arrivals are kept to the microsecond, in memory
// as on disk, so a replay of the written files matches the in-memory one.
func traceCSV(m *Measured, start time.Time) []byte {
	var b strings.Builder
	b.WriteString("arrival_s,input_tokens,output_tokens\n")
	offset := m.Start.Sub(start).Seconds()
	for i, a := range m.Arrivals {
		fmt.Fprintf(&b, "%.6f,%d,%d\n", a+offset, m.Prompts[i], m.Outputs[i])
	}
	return []byte(b.String())
}

// summarizeReplay simulates a replay and summarises the simulated requests
// exactly as the measured ones (same percentile definition, throughput
// over first arrival to last end), so the two sides differ only by what
// the twin predicts.
func summarizeReplay(ctx context.Context, sc *scenario.Scenario) (map[string]*Measured, error) {
	type lat struct{ ttft, tpot, e2e []float64 }
	sims := map[string]*lat{}
	first, last, tokens := map[string]float64{}, map[string]float64{}, map[string]float64{}
	_, err := simulate(ctx, sc, sim.Options{OnRequest: func(q sim.RequestRecord) {
		if q.Rejected {
			return
		}
		l := sims[q.Model]
		if l == nil {
			l = &lat{}
			sims[q.Model] = l
			first[q.Model] = q.ArrivalS
		}
		l.ttft = append(l.ttft, q.TTFTS)
		l.e2e = append(l.e2e, q.E2ES)
		if q.Output > 1 {
			l.tpot = append(l.tpot, q.TPOTS)
		}
		first[q.Model] = min(first[q.Model], q.ArrivalS)
		last[q.Model] = max(last[q.Model], q.ArrivalS+q.E2ES)
		tokens[q.Model] += float64(q.Output)
	}})
	if err != nil {
		return nil, err
	}
	out := map[string]*Measured{}
	for name, l := range sims {
		m := &Measured{Model: name, Requests: len(l.e2e), TTFT: percentiles(l.ttft), TPOT: percentiles(l.tpot), E2E: percentiles(l.e2e)}
		if span := last[name] - first[name]; span > 0 {
			m.OutputTokPerS = tokens[name] / span
		}
		out[name] = m
	}
	return out, nil
}
