// Package planner answers "what should I buy, and how should I place the
// models?": it searches fleet configurations (hardware, weight format,
// engine settings, which models share a node, power cap, node counts) for
// the cheapest that meets every SLO, judging each with the simulator.
//
// The search is pure and deterministic: a candidate's outcome depends only
// on the plan and the candidate, never on the order candidates ran in, the
// number of workers, or which shard ran it. That is what lets a plan run as
// n independent shards and merge into exactly the result of one run.
package planner

import (
	"io/fs"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/workload"
)

// File is a plan document as written in TOML. Its models, router, site and
// cost keys are those of a scenario; the nodes are what the plan searches.
type File struct {
	Name        string `toml:"name"`
	Description string `toml:"description,omitempty"`
	Seed        uint64 `toml:"seed"`
	// WindowS is the simulated span each configuration is judged on, at the
	// design load (after WarmupS).
	WindowS float64 `toml:"window_s"`
	WarmupS float64 `toml:"warmup_s"`
	// Growth multiplies every model's load: plan for next year's traffic.
	Growth float64 `toml:"growth,omitempty"`
	// Replicas is how many seeds a configuration must meet the SLOs on
	// (seed, seed+1, ...); more is slower and less likely to pick a
	// configuration that passed by luck.
	Replicas int `toml:"replicas,omitempty"`
	// VerifySeeds re-simulates the winner on this many fresh seeds.
	VerifySeeds int `toml:"verify_seeds,omitempty"`
	// MaxThrottledPct rejects configurations whose devices are held below
	// full clock by heat for more than this share of the time (a power
	// cap's slowdown is judged by the latency targets instead).
	MaxThrottledPct *float64 `toml:"max_throttled_pct,omitempty"`
	// MaxCostRatio skips configurations that cannot cost less than this
	// multiple of the cheapest feasible one: the ranked table and the
	// Pareto front then cover that range of cost. 0 evaluates everything.
	MaxCostRatio *float64 `toml:"max_cost_ratio,omitempty"`

	Router scenario.Router `toml:"router,omitempty"`
	Site   *scenario.Site  `toml:"site,omitempty"`
	Cost   *scenario.Cost  `toml:"cost,omitempty"`
	// Network is a scenario's [network]: the link between nodes that a
	// disaggregated candidate's KV crosses when its pools are on
	// different nodes (scenario.DefaultNetwork when left out).
	Network *scenario.Network               `toml:"network,omitempty"`
	Models  map[string]scenario.ServedModel `toml:"models"`
	Search  Space                           `toml:"search"`
	// Autoscale, if set, also runs the winner's day with its node groups
	// autoscaled on this rule (planner/autoscale.go): max is the winner's
	// count, min when 0 what the quietest hour needs.
	Autoscale *scenario.Autoscale `toml:"autoscale,omitempty"`
}

// Space is the search space: every combination of its lists is a candidate.
type Space struct {
	Hardware []string `toml:"hardware"`
	// Engines pair with each hardware type that has a profile for them.
	Engines []string `toml:"engines"`
	Quants  []string `toml:"quants"`
	KVCache string   `toml:"kv_cache,omitempty"`
	// Layouts: "colocated" (every model on every node), "separate" (one
	// node group per model), "all" (every way of grouping the models onto
	// node groups, both of those included).
	Layouts []string `toml:"layouts,omitempty"`
	// Memory is how co-located instances share memory: static, dynamic.
	Memory []scenario.MemorySharing `toml:"memory,omitempty"`
	// Sharing is how co-located instances share the device's compute:
	// time-slice, mps, one-process (engines that host several models). MIG
	// is not searched: it needs a partition per instance, which a scenario
	// names. Empty means each device's default (scenario.DefaultSharing).
	Sharing []scenario.Sharing `toml:"sharing,omitempty"`
	// MaxSeqs and MaxBatchedTokens are engine settings; 0 is the engine's
	// default.
	MaxSeqs          []int `toml:"max_seqs,omitempty"`
	MaxBatchedTokens []int `toml:"max_batched_tokens,omitempty"`
	// PowerCapW caps each device; 0 is the catalog's power limit.
	PowerCapW []float64 `toml:"power_cap_w,omitempty"`
	// MaxNodes bounds each node group's count.
	MaxNodes int `toml:"max_nodes,omitempty"`
	// TP, PP and EP are the parallel layouts searched on node types of
	// several devices (planner/layout.go): every instance of a candidate
	// spans tp × pp devices, ep of them holding experts apart, and runs as
	// many dp replicas as fill the node. A node of one device takes only
	// 1. Empty means [1].
	TP []int `toml:"tp,omitempty"`
	PP []int `toml:"pp,omitempty"`
	EP []int `toml:"ep,omitempty"`
	// Speculative lists the speculative decodings searched, each a
	// scenario's instance [speculative] table; method "off" is none.
	// Empty means off only.
	Speculative []scenario.Speculative `toml:"speculative,omitempty"`
	// Disaggregation lists whether candidates serve co-located (false)
	// or with separate prefill and decode pools (true; planner/disagg.go).
	// Empty means [false].
	Disaggregation []bool `toml:"disaggregation,omitempty"`
	// PrefillShare lists the shares of a disaggregated group's devices
	// (or nodes) given to the prefill pool; empty derives one share from
	// the load.
	PrefillShare []float64 `toml:"prefill_share,omitempty"`
}

// Layouts a plan may name.
const (
	LayoutColocated = "colocated"
	LayoutSeparate  = "separate"
	LayoutAll       = "all"
)

// Plan is a File checked against the catalog and the profiles, defaults
// applied.
type Plan struct {
	File   File
	Source []byte // the document, so shard files can carry it to a merge
	Name   string
	Models []string // served names, sorted
	// Simulate runs each configuration the search and the verification
	// judge; nil is sim.Run. Setting it puts a fake simulator behind the
	// planner, so that the bisection, the bounds and the pruning can be
	// tested in milliseconds (see harness_test.go).
	Simulate Simulator

	cat      *catalog.Catalog
	profiles perf.ProfileSet
	files    fs.FS
	// tapes holds each model's design-load arrivals, which every trial
	// of the plan draws alike whatever its fleet (sim.Tapes).
	tapes *sim.Tapes
}

// tapeLimit bounds a trial's taped stream (about 20 bytes an arrival);
// longer ones are drawn in each trial as usual.
const tapeLimit = 1 << 20

// Defaults.
const (
	defaultWindowS     = 1800
	defaultWarmupS     = 300
	defaultVerifySeeds = 2
	defaultMaxNodes    = 64
	defaultThrottled   = 1.0
	defaultCostRatio   = 3.0
)

// Parse decodes and checks a plan. name is used in errors; files holds any
// files its workloads name (nil if none).
func Parse(name string, data []byte, cat *catalog.Catalog, profiles perf.ProfileSet, files fs.FS) (*Plan, error) {
	var f File
	md, err := tomlcheck.Decode(name, data, &f)
	if err != nil {
		return nil, err
	}
	c := checker{tomlcheck.NewErrors(name, data)}
	c.Unknown(md)
	// The served models, site and cost are a scenario's: check them the
	// same way, against this file's lines.
	if err := scenario.CheckServed(name, data, cat, files); err != nil {
		l, ok := err.(tomlcheck.ErrorList)
		if !ok {
			return nil, err
		}
		c.List = append(c.List, l...)
	}
	c.plan(&f, cat, profiles)
	if err := c.Err(); err != nil {
		return nil, err
	}
	p := &Plan{File: f, Source: slices.Clone(data), Name: f.Name, cat: cat, profiles: profiles, files: files, tapes: sim.NewTapes(tapeLimit)}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(name, ".toml")
	}
	for m := range f.Models {
		p.Models = append(p.Models, m)
	}
	slices.Sort(p.Models)
	return p, nil
}

// checker collects the problems of a plan file: the scenario's checks of
// its served models and the plan's own, in one list sorted by line.
type checker struct {
	*tomlcheck.Errors
}

// plan applies defaults to f and checks what scenario.CheckServed does not.
func (c *checker) plan(f *File, cat *catalog.Catalog, profiles perf.ProfileSet) {
	if f.WindowS == 0 {
		f.WindowS = defaultWindowS
	}
	if f.WarmupS == 0 {
		f.WarmupS = defaultWarmupS
	}
	if f.Growth == 0 {
		f.Growth = 1
	}
	if f.Replicas == 0 {
		f.Replicas = 1
	}
	if f.VerifySeeds == 0 {
		f.VerifySeeds = defaultVerifySeeds
	}
	if f.MaxThrottledPct == nil {
		v := defaultThrottled
		f.MaxThrottledPct = &v
	}
	if f.MaxCostRatio == nil {
		v := defaultCostRatio
		f.MaxCostRatio = &v
	}
	if v := *f.MaxCostRatio; v != 0 && !(v >= 1 && v <= 1000) {
		c.Add([]string{"max_cost_ratio"}, "must be 0 (off) or in [1, 1000], got %v", v)
	}
	positive := []struct {
		v    float64
		name string
	}{{f.WindowS, "window_s"}, {f.Growth, "growth"}}
	for _, p := range positive {
		if !(p.v > 0) || math.IsInf(p.v, 0) {
			c.Add([]string{p.name}, "must be positive, got %v", p.v)
		}
	}
	if !(f.WarmupS >= 0) {
		c.Add([]string{"warmup_s"}, "must not be negative, got %v", f.WarmupS)
	}
	c.limits(f)
	c.checkAutoscale(f)
	if f.Replicas < 1 || f.Replicas > 32 {
		c.Add([]string{"replicas"}, "must be in [1, 32], got %d", f.Replicas)
	}
	if f.VerifySeeds < 0 || f.VerifySeeds > 32 {
		c.Add([]string{"verify_seeds"}, "must be in [0, 32], got %d", f.VerifySeeds)
	}
	if v := *f.MaxThrottledPct; !(v >= 0 && v <= 100) {
		c.Add([]string{"max_throttled_pct"}, "must be in [0, 100], got %v", v)
	}
	for name, m := range f.Models {
		if m.Workload.Arrival.Process == workload.Trace {
			c.Add([]string{"models", name, "workload", "arrival", "process"}, "a plan scales its load to the design rate; replay a trace with fleettwin simulate instead")
		}
	}

	s := &f.Search
	k := func(parts ...string) []string { return append([]string{"search"}, parts...) }
	if len(s.Hardware) == 0 {
		c.Add(k("hardware"), "name at least one hardware type")
	}
	for i, h := range s.Hardware {
		if _, err := cat.NodeSpec(h); err != nil {
			c.Add(k("hardware", tomlcheck.Index(i)), "%v", err)
		}
	}
	if len(s.Engines) == 0 {
		c.Add(k("engines"), "name at least one engine")
	}
	pairs := 0
	for _, h := range s.Hardware {
		for _, e := range s.Engines {
			if _, err := profiles.Get(deviceOf(cat, h), e); err == nil {
				pairs++
			}
		}
	}
	if pairs == 0 && len(s.Hardware) > 0 && len(s.Engines) > 0 {
		c.Add(k("engines"), "no profile for any of these engines on any of the hardware; fleettwin profile list shows what exists")
	}
	if len(s.Quants) == 0 {
		c.Add(k("quants"), "name at least one weight format")
	}
	for i, q := range s.Quants {
		if _, err := cat.Format(q); err != nil {
			c.Add(k("quants", tomlcheck.Index(i)), "%v", err)
		}
	}
	if s.KVCache == "" {
		s.KVCache = "fp16"
	}
	if _, err := cat.KVType(s.KVCache); err != nil {
		c.Add(k("kv_cache"), "%v", err)
	}
	if len(s.Layouts) == 0 {
		s.Layouts = []string{LayoutAll}
	}
	for i, l := range s.Layouts {
		if l != LayoutColocated && l != LayoutSeparate && l != LayoutAll {
			c.Add(k("layouts", tomlcheck.Index(i)), "unknown layout %q; valid: colocated, separate, all", l)
		}
	}
	if len(s.Memory) == 0 {
		s.Memory = []scenario.MemorySharing{scenario.MemoryStatic}
	}
	for i, m := range s.Memory {
		if !m.Valid() {
			c.Add(k("memory", tomlcheck.Index(i)), "unknown memory sharing %q; valid: %s", m, workload.Join(scenario.MemorySharings))
		}
	}
	c.sharing(s, cat, profiles, k)
	if len(s.MaxSeqs) == 0 {
		s.MaxSeqs = []int{0}
	}
	for i, v := range s.MaxSeqs {
		if v < 0 || v > scenario.MaxSeqs {
			c.Add(k("max_seqs", tomlcheck.Index(i)), "must be in [0, %d], got %d", scenario.MaxSeqs, v)
		}
	}
	if len(s.MaxBatchedTokens) == 0 {
		s.MaxBatchedTokens = []int{0}
	}
	for i, v := range s.MaxBatchedTokens {
		if v < 0 || v > workload.MaxTokens {
			c.Add(k("max_batched_tokens", tomlcheck.Index(i)), "must be in [0, %d], got %d", workload.MaxTokens, v)
		}
	}
	if len(s.PowerCapW) == 0 {
		s.PowerCapW = []float64{0}
	}
	for i, v := range s.PowerCapW {
		if !(v >= 0 && v <= 1e5) {
			c.Add(k("power_cap_w", tomlcheck.Index(i)), "must be in [0, 100000] W, got %v", v)
		}
	}
	if s.MaxNodes == 0 {
		s.MaxNodes = defaultMaxNodes
	}
	if s.MaxNodes < 1 || s.MaxNodes > scenario.MaxNodes {
		c.Add(k("max_nodes"), "must be in [1, %d], got %d", scenario.MaxNodes, s.MaxNodes)
	}
	c.layout(s, k)
	c.disaggregation(s, k)
	c.network(f, cat)
	if len(f.Models) > 6 && slices.Contains(s.Layouts, LayoutAll) {
		c.Add(k("layouts"), "\"all\" groupings of %d models are too many (Bell number); name colocated or separate", len(f.Models))
	}
}

// sharing checks the space's sharings and defaults them to each device's
// own. A sharing that no hardware and engine of the space supports would
// add no candidate, so it is an error rather than silently nothing.
func (c *checker) sharing(s *Space, cat *catalog.Catalog, profiles perf.ProfileSet, k func(...string) []string) {
	if len(s.Sharing) == 0 {
		s.Sharing = []scenario.Sharing{""}
		return
	}
	for i, sh := range s.Sharing {
		ik := k("sharing", tomlcheck.Index(i))
		switch {
		case sh == scenario.MIG:
			c.Add(ik, "the planner does not choose MIG partitions: write a scenario that names each instance's mig")
			continue
		case !sh.Valid():
			c.Add(ik, "unknown sharing %q; valid here: %s, %s, %s", sh, scenario.TimeSlice, scenario.MPS, scenario.OneProcess)
			continue
		case slices.Index(s.Sharing, sh) < i:
			c.Add(ik, "%q is listed twice", sh)
			continue
		}
		supported := false
		for _, hw := range s.Hardware {
			spec, err := cat.NodeSpec(hw)
			h := spec.Hardware
			for _, eng := range s.Engines {
				if _, perr := profiles.Get(h.Name, eng); err == nil && perr == nil && sh.Supported(h, eng) {
					supported = true
				}
			}
		}
		if !supported && len(s.Hardware) > 0 && len(s.Engines) > 0 {
			c.Add(ik, "%q suits none of the search's hardware and engines", sh)
		}
	}
}
