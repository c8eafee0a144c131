package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/power"
	"github.com/fleettwin/fleettwin/workload"
)

// Routers are the policies that pick an instance for a request.
var Routers = []string{"round-robin", "least-outstanding", "power-of-two"}

// Scenario is a File resolved against a catalog and profiles: every name
// looked up, every default applied, node groups expanded into nodes.
type Scenario struct {
	File             *File
	Name             string
	Seed             uint64
	Duration         engine.Time
	Warmup           engine.Time
	SeriesResolution engine.Time
	Site             Site    // defaults applied
	Cost             Cost    // defaults applied
	Models           []Model // sorted by served name
	Nodes            []Node  // node groups expanded, in file order
}

// Model is a served model, resolved.
type Model struct {
	Name       string // served name
	Catalog    catalog.Model
	Router     string
	SLO        SLO       // defaults applied
	Targets    []Targets // per class of Workload.Classes (after defaults)
	Classes    []workload.Class
	Workload   workload.Spec
	Trace      []workload.TraceRecord   // for trace replay
	InputDist  []workload.WeightedValue // for empirical input lengths
	OutputDist []workload.WeightedValue // for empirical output lengths
}

// Node is one machine of a node group.
type Node struct {
	Name          string // group name, then "-i" when the group has several
	Group         string
	Hardware      catalog.Hardware
	Profile       perf.Profile
	DynamicMemory bool
	BudgetBytes   float64 // usable memory × the engines' fraction
	Interference  float64
	Instances     []NodeInstance

	Power    power.Model // the device's draw; CapW is the scenario's cap
	HostW    float64     // the rest of the node, constant
	Thermal  power.RC
	Governor power.Governor
	// PriceUSD and CloudUSDPerHour are per device, overrides applied.
	PriceUSD        float64
	CloudUSDPerHour float64
}

// Governor defaults: 3 C of hysteresis, and clocks no lower than 40% of
// full (the HW slowdown floor is about half the boost clock on H100).
const (
	governorHysteresis = 3
	governorMinClock   = 0.4
)

// NodeInstance is one model server on a node.
type NodeInstance struct {
	Model            int // index into Scenario.Models
	Deploy           perf.Instance
	MaxSeqs          int
	MaxBatchedTokens int
	ChunkedPrefill   bool
	ChunkTokens      int // prompt tokens one request may prefill per step
	BlockTokens      int
	// BudgetBytes is the instance's share of memory for weights and KV
	// under static sharing; under dynamic sharing, the node's whole budget.
	BudgetBytes float64
	WeightBytes float64
}

// KVBlockBytes is the size of one KV block of the instance.
func (i NodeInstance) KVBlockBytes() float64 {
	return float64(i.BlockTokens) * i.Deploy.Model.KVBytesPerToken(i.Deploy.KV)
}

// Load reads, resolves and validates a scenario file. Files it names (a
// trace, an empirical length distribution) are read relative to its folder.
func Load(path string, cat *catalog.Catalog, profiles perf.ProfileSet) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data, cat, profiles, os.DirFS(filepath.Dir(path)))
}

// Parse decodes and resolves a scenario. name is used in errors; files
// holds any trace or distribution files the scenario names (nil if none).
func Parse(name string, data []byte, cat *catalog.Catalog, profiles perf.ProfileSet, files fs.FS) (*Scenario, error) {
	f, md, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	r := resolver{file: name, loc: catalog.NewLocator(data), md: md, cat: cat, profiles: profiles, files: files}
	for _, k := range md.Undecoded() {
		r.add([]string(k), "unknown field")
	}
	sc := r.resolve(f)
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b *catalog.FieldError) int { return a.Line - b.Line })
		return nil, r.errs
	}
	return sc, nil
}

// Resolve resolves a document built in code rather than read from a file
// (the planner's candidates): errors name fields but no lines.
func Resolve(name string, f *File, cat *catalog.Catalog, profiles perf.ProfileSet, files fs.FS) (*Scenario, error) {
	r := resolver{file: name, loc: catalog.NewLocator(nil), cat: cat, profiles: profiles, files: files}
	for _, k := range tomlcheck.NonFinite(f) { // a file's are caught as it is decoded
		r.add(k, "must be a finite number, not nan or inf")
	}
	sc := r.resolve(f)
	if len(r.errs) > 0 {
		return nil, r.errs
	}
	return sc, nil
}

// CheckServed validates the served models, router, site and cost of a
// document that shares the scenario's keys for them, such as a plan file:
// errors name that document's own lines. Nodes and keys a scenario does
// not have are left to the caller.
func CheckServed(name string, data []byte, cat *catalog.Catalog, files fs.FS) error {
	f, md, err := Decode(name, data)
	if err != nil {
		return err
	}
	r := resolver{file: name, loc: catalog.NewLocator(data), md: md, cat: cat, files: files}
	router := f.Router
	if router == "" {
		router = "least-outstanding"
	}
	if !slices.Contains(Routers, router) {
		r.add(key("router"), "unknown router %q; valid: %s", router, strings.Join(Routers, ", "))
	}
	if len(f.Models) == 0 {
		r.add(key("models"), "at least one served model is required")
	}
	for _, n := range slices.Sorted(maps.Keys(f.Models)) {
		r.model(n, f.Models[n], router)
	}
	r.siteAndCost(f)
	if len(r.errs) > 0 {
		slices.SortStableFunc(r.errs, func(a, b *catalog.FieldError) int { return a.Line - b.Line })
		return r.errs
	}
	return nil
}

type resolver struct {
	file     string
	loc      *catalog.Locator
	md       toml.MetaData
	cat      *catalog.Catalog
	profiles perf.ProfileSet
	files    fs.FS
	errs     catalog.ErrorList
}

func (r *resolver) add(key []string, format string, args ...any) {
	r.errs = append(r.errs, &catalog.FieldError{
		File: r.file, Line: r.loc.Line(key...), Field: catalog.FieldPath(key...), Msg: fmt.Sprintf(format, args...),
	})
}

func key(parts ...string) []string { return parts }

func (r *resolver) resolve(f *File) *Scenario {
	sc := &Scenario{File: f, Name: f.Name, Seed: f.Seed}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(r.file), filepath.Ext(r.file))
	}
	r.span(f, sc)
	sc.Site, sc.Cost = r.siteAndCost(f)
	router := f.Router
	if router == "" {
		router = "least-outstanding"
	}
	if !slices.Contains(Routers, router) {
		r.add(key("router"), "unknown router %q; valid: %s", router, strings.Join(Routers, ", "))
	}

	if len(f.Models) == 0 {
		r.add(key("models"), "at least one served model is required")
	}
	names := make([]string, 0, len(f.Models))
	for n := range f.Models {
		names = append(names, n)
	}
	slices.Sort(names)
	index := map[string]int{}
	for _, n := range names {
		index[n] = len(sc.Models)
		sc.Models = append(sc.Models, r.model(n, f.Models[n], router))
	}

	if len(f.Nodes) == 0 {
		r.add(key("nodes"), "at least one node group is required")
	}
	served := make([]bool, len(sc.Models))
	groups := map[string]bool{}
	for gi, g := range f.Nodes {
		k := key("nodes", catalog.Index(gi))
		if g.Name == "" {
			r.add(append(k, "name"), "required field is missing")
		} else if groups[g.Name] {
			r.add(append(k, "name"), "duplicate node group name %q", g.Name)
		}
		groups[g.Name] = true
		nodes := r.nodeGroup(k, g, index, sc.Models, served, sc.Site, sc.Cost.Pricing)
		sc.Nodes = append(sc.Nodes, nodes...)
	}
	for i, m := range sc.Models {
		if !served[i] && len(f.Nodes) > 0 {
			r.add(key("models", m.Name), "no node runs an instance of %q: its requests could never be served", m.Name)
		}
	}
	return sc
}

func (r *resolver) model(name string, s ServedModel, router string) Model {
	k := key("models", name)
	m := Model{Name: name, Router: router, SLO: s.SLO, Workload: s.Workload}
	catName := s.Model
	if catName == "" {
		catName = name
	}
	cm, err := r.cat.Model(catName)
	if err != nil {
		r.add(append(k, "model"), "%v%s", err, dottedHint(r.cat, catName))
	}
	m.Catalog = cm
	if s.Router != "" {
		if !slices.Contains(Routers, s.Router) {
			r.add(append(k, "router"), "unknown router %q; valid: %s", s.Router, strings.Join(Routers, ", "))
		}
		m.Router = s.Router
	}
	if err := s.Workload.Validate(); err != nil {
		r.workloadErrors(append(k, "workload"), err)
	}
	wk := append(append([]string(nil), k...), "workload")
	if s.Workload.Arrival.Process == "trace" {
		v := r.readFile(append(wk, "arrival", "trace"), s.Workload.Arrival.Trace, func(n string, b []byte) (any, error) {
			return workload.ReadTrace(n, bytes.NewReader(b))
		})
		m.Trace, _ = v.([]workload.TraceRecord)
	}
	if s.Workload.Input.Dist == "empirical" {
		m.InputDist = r.readEmpirical(append(wk, "input", "file"), s.Workload.Input.File)
	}
	if s.Workload.Output.Dist == "empirical" {
		m.OutputDist = r.readEmpirical(append(wk, "output", "file"), s.Workload.Output.File)
	}

	slo := &m.SLO
	sk := append(append([]string(nil), k...), "slo")
	if slo.Percentile == 0 {
		slo.Percentile = 95
	}
	if slo.Attainment == 0 {
		slo.Attainment = 0.9
	}
	for _, t := range []struct {
		v float64
		f string
	}{{slo.TTFTS, "ttft_s"}, {slo.TPOTS, "tpot_s"}, {slo.E2ES, "e2e_s"}} {
		if t.v < 0 || math.IsNaN(t.v) {
			r.add(append(sk, t.f), "must not be negative, got %v", t.v)
		} else if t.v > MaxSLOSeconds {
			r.add(append(sk, t.f), "must be at most %d s, got %v", MaxSLOSeconds, t.v)
		}
	}
	if !(slo.Percentile > 0 && slo.Percentile < 100) {
		r.add(append(sk, "percentile"), "must be in (0, 100), got %v", slo.Percentile)
	}
	if !(slo.Attainment > 0 && slo.Attainment <= 1) {
		r.add(append(sk, "attainment"), "must be in (0, 1], got %v", slo.Attainment)
	}
	m.Classes = workload.Normalize(s.Workload.Classes)
	for _, c := range m.Classes {
		t := slo.Targets()
		if ct, ok := slo.Classes[c.Name]; ok {
			t = ct
		}
		m.Targets = append(m.Targets, t)
	}
	for cn := range slo.Classes {
		if !slices.ContainsFunc(m.Classes, func(c workload.Class) bool { return c.Name == cn }) {
			r.add(append(sk, "classes", cn), "no workload class named %q", cn)
		}
	}
	return m
}

// workloadErrors maps the workload package's "field: message" errors onto
// located FieldErrors.
func (r *resolver) workloadErrors(k []string, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		msg := e.Error()
		field, rest, ok := strings.Cut(msg, ": ")
		if !ok || strings.ContainsAny(field, " \"") {
			r.add(k, "%s", msg)
			continue
		}
		r.add(append(append([]string(nil), k...), strings.Split(field, ".")...), "%s", rest)
	}
}

func (r *resolver) readFile(k []string, path string, parse func(string, []byte) (any, error)) any {
	if r.files == nil {
		r.add(k, "cannot read %q: no folder to read it from", path)
		return nil
	}
	b, err := fs.ReadFile(r.files, path)
	if err != nil {
		r.add(k, "read %s: %v", path, errors.Unwrap(err))
		return nil
	}
	v, err := parse(path, b)
	if err != nil {
		r.add(k, "%v", err)
		return nil
	}
	return v
}

func (r *resolver) readEmpirical(k []string, path string) []workload.WeightedValue {
	v := r.readFile(k, path, func(n string, b []byte) (any, error) { return workload.ReadEmpirical(n, bytes.NewReader(b)) })
	vals, _ := v.([]workload.WeightedValue)
	return vals
}

// defaultMaxSeqs is the running-batch bound engines use out of the box.
func defaultMaxSeqs(engine string) int {
	switch engine {
	case "llama.cpp", "ollama":
		return 4 // llama-server --parallel and OLLAMA_NUM_PARALLEL defaults
	default:
		return 256 // vLLM max_num_seqs, SGLang, TensorRT-LLM
	}
}

// siteAndCost applies the defaults and checks the ranges.
func (r *resolver) siteAndCost(f *File) (Site, Cost) {
	site, cost := DefaultSite, DefaultCost
	if s := f.Site; s != nil {
		if s.AmbientC != 0 {
			site.AmbientC = s.AmbientC
		}
		if s.ElectricityUSDPerKWh != 0 {
			site.ElectricityUSDPerKWh = s.ElectricityUSDPerKWh
		}
		if s.PUE != 0 {
			site.PUE = s.PUE
		}
		if !(site.AmbientC > -50 && site.AmbientC < 80) {
			r.add(key("site", "ambient_c"), "must be between -50 and 80 C, got %v", s.AmbientC)
		}
		if !(site.ElectricityUSDPerKWh > 0 && site.ElectricityUSDPerKWh <= 100) {
			r.add(key("site", "electricity_usd_per_kwh"), "must be positive and at most 100, got %v", s.ElectricityUSDPerKWh)
		}
		if !(site.PUE >= 1 && site.PUE <= 5) {
			r.add(key("site", "pue"), "must be between 1 and 5, got %v", s.PUE)
		}
	}
	if c := f.Cost; c != nil {
		if c.Pricing != "" {
			cost.Pricing = c.Pricing
		}
		if c.AmortizationYears != 0 {
			cost.AmortizationYears = c.AmortizationYears
		}
		cost.FinancingRate, cost.HostingUSDPerMonth, cost.SupportPctPerYear = c.FinancingRate, c.HostingUSDPerMonth, c.SupportPctPerYear
		if cost.Pricing != "own" && cost.Pricing != "cloud" {
			r.add(key("cost", "pricing"), "unknown pricing %q; valid: own, cloud", c.Pricing)
		}
		if !(cost.AmortizationYears > 0 && cost.AmortizationYears <= 30) {
			r.add(key("cost", "amortization_years"), "must be in (0, 30], got %v", c.AmortizationYears)
		}
		if !(cost.FinancingRate >= 0 && cost.FinancingRate < 1) {
			r.add(key("cost", "financing_rate"), "must be an annual rate in [0, 1), got %v", c.FinancingRate)
		}
		if !(cost.HostingUSDPerMonth >= 0 && cost.HostingUSDPerMonth <= MaxPriceUSD) {
			r.add(key("cost", "hosting_usd_per_month"), "must be between 0 and %.0e, got %v", MaxPriceUSD, c.HostingUSDPerMonth)
		}
		if !(cost.SupportPctPerYear >= 0 && cost.SupportPctPerYear <= 100) {
			r.add(key("cost", "support_pct_per_year"), "must be in [0, 100], got %v", c.SupportPctPerYear)
		}
	}
	return site, cost
}

// physics resolves a node group's power, thermal and governor models: the
// calibrated profile's where it has them, else the catalog's, with the
// scenario's cap, ambient and cooling applied.
func (r *resolver) physics(k []string, g NodeGroup, hw catalog.Hardware, prof perf.Profile, site Site) (power.Model, power.RC, power.Governor) {
	busy, compute, memory := hw.DynamicPowerW()
	pm := power.Model{IdleW: hw.IdlePowerW, BusyW: busy, ComputeW: compute, MemoryW: memory, CapW: hw.PowerLimitW}
	if p := prof.Power; p != nil {
		pm = power.Model{IdleW: p.IdleW, BusyW: p.DynamicW, CapW: hw.PowerLimitW}
	}
	if g.PowerCapW != 0 {
		if !(g.PowerCapW > pm.IdleW && g.PowerCapW <= hw.PowerLimitW) {
			r.add(append(k, "power_cap_w"), "must be above the idle power (%.0f W) and at most %s's power limit (%.0f W), got %v",
				pm.IdleW, hw.Name, hw.PowerLimitW, g.PowerCapW)
		}
		pm.CapW = g.PowerCapW
	}
	rth, tau := hw.ThermalResistance(), hw.ThermalTimeConstant()
	if t := prof.Thermal; t != nil && t.ResistanceCPerW > 0 && t.CapacityJPerC > 0 {
		rth, tau = t.ResistanceCPerW, t.ResistanceCPerW*t.CapacityJPerC
	}
	rc := power.RC{ResistanceCPerW: rth, CapacityJPerC: tau / rth, AmbientC: site.AmbientC}
	if g.ThermalResistanceCPerW != 0 {
		if !(g.ThermalResistanceCPerW > 0 && g.ThermalResistanceCPerW < 10) {
			r.add(append(k, "thermal_resistance_c_per_w"), "must be in (0, 10) C/W, got %v", g.ThermalResistanceCPerW)
		}
		rc.ResistanceCPerW = g.ThermalResistanceCPerW // the heat sink's capacity stays
	}
	if g.AmbientC != 0 {
		if !(g.AmbientC > -50 && g.AmbientC < 80) {
			r.add(append(k, "ambient_c"), "must be between -50 and 80 C, got %v", g.AmbientC)
		}
		rc.AmbientC = g.AmbientC
	}
	gov := power.Governor{SlowdownC: hw.SlowdownTempC, HysteresisC: governorHysteresis, MinClock: governorMinClock}
	if t := prof.Thermal; t != nil && t.ThrottleOnsetC > 0 {
		gov.SlowdownC = t.ThrottleOnsetC // seen, on this very box, by calibration
	}
	if gov.SlowdownC == 0 {
		gov.SlowdownC = math.Inf(1) // no published limit: never throttles for heat
	}
	if g.PriceUSD < 0 {
		r.add(append(k, "price_usd"), "must not be negative, got %v", g.PriceUSD)
	} else if g.PriceUSD > MaxPriceUSD {
		r.add(append(k, "price_usd"), "must be at most %.0e, got %v", MaxPriceUSD, g.PriceUSD)
	}
	if g.CloudUSDPerHour < 0 {
		r.add(append(k, "cloud_usd_per_hour"), "must not be negative, got %v", g.CloudUSDPerHour)
	} else if g.CloudUSDPerHour > MaxCloudUSDPerHour {
		r.add(append(k, "cloud_usd_per_hour"), "must be at most %.0e, got %v", MaxCloudUSDPerHour, g.CloudUSDPerHour)
	}
	return pm, rc, gov
}

func (r *resolver) nodeGroup(k []string, g NodeGroup, index map[string]int, models []Model, served []bool, site Site, pricing string) []Node {
	// An instance naming a served model serves it, even if another of its
	// fields is wrong: that error is reported alone, not cascaded.
	for _, in := range g.Instances {
		if mi, ok := index[in.Model]; ok {
			served[mi] = true
		}
	}
	hw, err := r.cat.HardwareNamed(g.Hardware)
	if err != nil {
		r.add(append(k, "hardware"), "%v", err)
		return nil
	}
	prof, err := r.profiles.Get(hw.Name, g.Engine)
	if err != nil {
		r.add(append(k, "engine"), "%v", err)
		return nil
	}
	if g.Count < 1 {
		r.add(append(k, "count"), "must be at least 1, got %d", g.Count)
	}
	if g.Count > MaxNodes {
		return nil // reported by limits
	}
	dynamic := false
	switch g.Memory {
	case "", "static":
	case "dynamic":
		dynamic = true
	default:
		r.add(append(k, "memory"), "unknown memory sharing %q; valid: static, dynamic", g.Memory)
	}
	fraction := g.MemoryFraction
	if fraction == 0 {
		fraction = prof.MemoryFraction
	}
	if !(fraction > 0 && fraction <= 1) {
		r.add(append(k, "memory_fraction"), "must be in (0, 1], got %v", g.MemoryFraction)
	}
	if g.Interference != nil && !(*g.Interference >= 0 && *g.Interference <= MaxInterference) {
		r.add(append(k, "interference"), "must be between 0 and %d, got %v", MaxInterference, *g.Interference)
	}
	budget := hw.UsableMemoryBytes() * fraction
	if len(g.Instances) == 0 {
		r.add(append(k, "instances"), "a node needs at least one model instance")
	}
	if len(g.Instances) > MaxInstancesPerNode {
		r.add(append(k, "instances"), "a node may run at most %d model instances, got %d", MaxInstancesPerNode, len(g.Instances))
		return nil
	}
	var insts []NodeInstance
	var shareSum, weightSum float64
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", catalog.Index(ii))
		inst, ok := r.instance(ik, in, index, models, prof)
		if !ok {
			continue
		}
		weightSum += inst.WeightBytes
		share := in.MemoryFraction
		if share == 0 {
			share = fraction / float64(len(g.Instances))
		}
		if !(share > 0 && share <= 1) {
			r.add(append(ik, "memory_fraction"), "must be in (0, 1], got %v", in.MemoryFraction)
		}
		shareSum += share
		inst.BudgetBytes = hw.UsableMemoryBytes() * share
		if dynamic {
			inst.BudgetBytes = budget
			if in.MemoryFraction != 0 {
				r.add(append(ik, "memory_fraction"), "only allowed with memory = \"static\": dynamic sharing has one pool")
			}
		} else if need := inst.WeightBytes + inst.KVBlockBytes(); need > inst.BudgetBytes {
			r.add(append(ik, "memory_fraction"), "%s weights (%s) and one KV block do not fit the instance's %s (%.3g of %s): short by %s",
				inst.Deploy.Model.Name, gib(inst.WeightBytes), gib(inst.BudgetBytes), share, gib(hw.UsableMemoryBytes()), gib(need-inst.BudgetBytes))
		}
		insts = append(insts, inst)
	}
	if !dynamic && shareSum > fraction*(1+1e-9) {
		r.add(append(k, "instances"), "instances take %.3g of %s's memory, more than the engines' %.3g", shareSum, hw.Name, fraction)
	}
	if dynamic && weightSum > budget {
		r.add(append(k, "instances"), "weights of the instances (%s) exceed %s's %s budget by %s", gib(weightSum), hw.Name, gib(budget), gib(weightSum-budget))
	}
	interference := prof.Interference
	if g.Interference != nil {
		interference = *g.Interference
	}
	pm, rc, gov := r.physics(k, g, hw, prof, site)
	price, cloud := hw.PriceUSD, hw.CloudUSDPerHour
	if g.PriceUSD > 0 {
		price = g.PriceUSD
	}
	if g.CloudUSDPerHour > 0 {
		cloud = g.CloudUSDPerHour
	}
	if pricing == "cloud" && cloud == 0 {
		r.add(append(k, "cloud_usd_per_hour"), "cost.pricing is \"cloud\" but %s has no cloud price: set one here", hw.Name)
	}
	var nodes []Node
	for i := range max(g.Count, 0) {
		n := Node{Name: g.Name, Group: g.Name, Hardware: hw, Profile: prof, DynamicMemory: dynamic,
			BudgetBytes: budget, Interference: interference, Instances: slices.Clone(insts),
			Power: pm, HostW: hw.HostPowerW, Thermal: rc, Governor: gov, PriceUSD: price, CloudUSDPerHour: cloud}
		if g.Count > 1 {
			n.Name = fmt.Sprintf("%s-%d", g.Name, i)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

func (r *resolver) instance(k []string, in Instance, index map[string]int, models []Model, prof perf.Profile) (NodeInstance, bool) {
	mi, ok := index[in.Model]
	if !ok {
		valid := make([]string, 0, len(index))
		for n := range index {
			valid = append(valid, n)
		}
		slices.Sort(valid)
		r.add(append(k, "model"), "no served model %q in [models]; valid: %s", in.Model, strings.Join(valid, ", "))
		return NodeInstance{}, false
	}
	m := models[mi].Catalog
	if m.Name == "" {
		return NodeInstance{}, false // its unknown catalog model is reported under [models]
	}
	quant, err := r.cat.Format(in.Quant)
	if err != nil {
		r.add(append(k, "quant"), "%v", err)
		return NodeInstance{}, false
	}
	kvName := in.KVCache
	if kvName == "" {
		kvName = "fp16"
	}
	kv, err := r.cat.KVType(kvName)
	if err != nil {
		r.add(append(k, "kv_cache"), "%v", err)
		return NodeInstance{}, false
	}
	inst := NodeInstance{
		Model:            mi,
		Deploy:           perf.Instance{Model: m, Weights: quant, KV: kv},
		MaxSeqs:          in.MaxSeqs,
		MaxBatchedTokens: in.MaxBatchedTokens,
		ChunkedPrefill:   in.ChunkedPrefill == nil || *in.ChunkedPrefill,
		ChunkTokens:      in.ChunkTokens,
		BlockTokens:      in.BlockTokens,
	}
	if inst.MaxSeqs == 0 {
		inst.MaxSeqs = defaultMaxSeqs(prof.Engine)
	}
	if inst.MaxBatchedTokens == 0 {
		inst.MaxBatchedTokens = prof.PrefillChunk
	}
	if inst.BlockTokens == 0 {
		inst.BlockTokens = 16
	}
	if inst.ChunkTokens == 0 || !inst.ChunkedPrefill {
		inst.ChunkTokens = inst.MaxBatchedTokens
	}
	for _, c := range []struct {
		v  int
		f  string
		hi int
	}{{inst.MaxSeqs, "max_seqs", MaxSeqs}, {inst.MaxBatchedTokens, "max_batched_tokens", workload.MaxTokens},
		{inst.BlockTokens, "block_tokens", MaxBlockTokens}, {inst.ChunkTokens, "chunk_tokens", workload.MaxTokens}} {
		if c.v < 1 {
			r.add(append(k, c.f), "must be at least 1, got %d", c.v)
		} else if c.v > c.hi {
			r.add(append(k, c.f), "must be at most %d, got %d", c.hi, c.v)
		}
	}
	inst.WeightBytes = float64(m.WeightParams()) * quant.BitsPerWeight / 8
	return inst, true
}

// dottedHint explains the TOML trap behind an unknown name such as
// "qwen3-0": [models.qwen3-0.6b] is read as the keys qwen3-0 and 6b.
func dottedHint(cat *catalog.Catalog, name string) string {
	for full := range cat.Models {
		if strings.HasPrefix(full, name+".") {
			return fmt.Sprintf(" (a dot splits a TOML key: write [models.%q] for %s)", full, full)
		}
	}
	return ""
}

func gib(b float64) string { return fmt.Sprintf("%.2f GiB", b/(1<<30)) }
