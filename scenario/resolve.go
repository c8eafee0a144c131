package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/workload"
)

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
	// Autoscale lists the autoscaled node groups (scenario/autoscale.go).
	Autoscale []ScaleGroup
	// Network is the link between nodes KV transfers cross (the file's
	// [network], or DefaultNetwork).
	Network catalog.Interconnect
}

// Model is a served model, resolved.
type Model struct {
	Name       string // served name
	Catalog    catalog.Model
	Router     Router
	SLO        SLO       // defaults applied
	Targets    []Targets // per class of Workload.Classes (after defaults)
	Classes    []workload.Class
	Workload   workload.Spec
	Trace      []workload.TraceRecord   // for trace replay
	InputDist  []workload.WeightedValue // for empirical input lengths
	OutputDist []workload.WeightedValue // for empirical output lengths
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
// Errors are a tomlcheck.ErrorList sorted by line, each with its kind.
func Parse(name string, data []byte, cat *catalog.Catalog, profiles perf.ProfileSet, files fs.FS) (*Scenario, error) {
	f, md, err := Decode(name, data)
	if err != nil {
		return nil, err
	}
	r := resolver{Errors: tomlcheck.NewErrors(name, data), cat: cat, profiles: profiles, files: files}
	r.Unknown(md)
	sc := r.resolve(f)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Resolve resolves a document built in code rather than read from a file
// (the planner's candidates): errors name fields but no lines. Models that
// do not fit a node's memory are errors of kind tomlcheck.NoFit.
func Resolve(name string, f *File, cat *catalog.Catalog, profiles perf.ProfileSet, files fs.FS) (*Scenario, error) {
	r := resolver{Errors: tomlcheck.NewErrors(name, nil), cat: cat, profiles: profiles, files: files}
	for _, k := range tomlcheck.NonFinite(f) { // a file's are caught as it is decoded
		r.AddKind(tomlcheck.OutOfRange, k, "must be a finite number, not nan or inf")
	}
	sc := r.resolve(f)
	if err := r.Err(); err != nil {
		return nil, err
	}
	return sc, nil
}

// CheckServed validates the served models, router, site and cost of a
// document that shares the scenario's keys for them, such as a plan file:
// errors name that document's own lines. Nodes and keys a scenario does
// not have are left to the caller.
func CheckServed(name string, data []byte, cat *catalog.Catalog, files fs.FS) error {
	f, _, err := Decode(name, data)
	if err != nil {
		return err
	}
	r := resolver{Errors: tomlcheck.NewErrors(name, data), cat: cat, files: files}
	r.models(f, r.router(f))
	r.siteAndCost(f)
	return r.Err()
}

// resolver resolves one document, collecting every problem rather than
// stopping at the first, so a user fixes a file in one pass.
type resolver struct {
	*tomlcheck.Errors
	cat      *catalog.Catalog
	profiles perf.ProfileSet
	files    fs.FS
}

// key builds a field's key path.
func key(parts ...string) []string { return parts }

// resolve resolves the whole document: the run's span, site and cost, the
// served models, then the nodes that serve them.
func (r *resolver) resolve(f *File) *Scenario {
	sc := &Scenario{File: f, Name: f.Name, Seed: f.Seed}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(r.File), filepath.Ext(r.File))
	}
	r.span(f, sc)
	sc.Site, sc.Cost = r.siteAndCost(f)
	var index map[string]int
	sc.Models, index = r.models(f, r.router(f))
	sc.Nodes = r.nodes(f, index, sc.Models, sc.Site, sc.Cost.Pricing)
	sc.Network = r.network(f)
	r.roles(f, sc.Nodes, sc.Models)         // scenario/disagg.go
	r.prefixCaching(f, sc.Nodes, sc.Models) // scenario/prefix.go
	sc.Autoscale = r.autoscale(f, sc.Nodes)
	return sc
}

// router is the file's default router, checked.
func (r *resolver) router(f *File) Router {
	router := f.Router
	if router == "" {
		router = DefaultRouter
	}
	if !router.Valid() {
		r.Add(key("router"), "unknown router %q; valid: %s", router, workload.Join(Routers))
	}
	return router
}

// models resolves the served models in served-name order, and indexes them
// by served name for the instances that name them.
func (r *resolver) models(f *File, router Router) ([]Model, map[string]int) {
	if len(f.Models) == 0 {
		r.AddKind(tomlcheck.Missing, key("models"), "at least one served model is required")
	}
	names := make([]string, 0, len(f.Models))
	for n := range f.Models {
		names = append(names, n)
	}
	slices.Sort(names)
	var models []Model
	index := map[string]int{}
	for _, n := range names {
		index[n] = len(models)
		models = append(models, r.model(n, f.Models[n], router))
	}
	return models, index
}

// model resolves one served model: its catalog model, router, workload
// (and the files it names) and SLO.
func (r *resolver) model(name string, s ServedModel, router Router) Model {
	k := key("models", name)
	m := Model{Name: name, Router: router, SLO: s.SLO, Workload: s.Workload}
	catName := s.Model
	if catName == "" {
		catName = name
	}
	cm, err := r.cat.Model(catName)
	if err != nil {
		r.AddKind(tomlcheck.NotFound, append(k, "model"), "%v%s", err, dottedHint(r.cat, catName))
	}
	m.Catalog = cm
	if s.Router != "" {
		m.Router = s.Router
		if !m.Router.Valid() {
			r.Add(append(k, "router"), "unknown router %q; valid: %s", s.Router, workload.Join(Routers))
		}
	}
	if err := s.Workload.Validate(); err != nil {
		r.workloadErrors(append(k, "workload"), err)
	}
	wk := append(append([]string(nil), k...), "workload")
	if s.Workload.Arrival.Process == workload.Trace {
		v := r.readFile(append(wk, "arrival", "trace"), s.Workload.Arrival.Trace, func(n string, b []byte) (any, error) {
			return readTrace(n, b, s.Workload.Arrival) // scenario/trace.go
		})
		m.Trace, _ = v.([]workload.TraceRecord)
	}
	if s.Workload.Input.Dist == workload.Empirical {
		m.InputDist = r.readEmpirical(append(wk, "input", "file"), s.Workload.Input.File)
	}
	if s.Workload.Output.Dist == workload.Empirical {
		m.OutputDist = r.readEmpirical(append(wk, "output", "file"), s.Workload.Output.File)
	}
	r.slo(append(append([]string(nil), k...), "slo"), &m, s.Workload.Classes)
	return m
}

// slo applies the SLO's defaults, checks its ranges and resolves the
// targets of each workload class.
func (r *resolver) slo(sk []string, m *Model, classes []workload.Class) {
	slo := &m.SLO
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
			r.AddKind(tomlcheck.OutOfRange, append(sk, t.f), "must not be negative, got %v", t.v)
		} else if t.v > MaxSLOSeconds {
			r.AddKind(tomlcheck.OutOfRange, append(sk, t.f), "must be at most %d s, got %v", MaxSLOSeconds, t.v)
		}
	}
	if !(slo.Percentile > 0 && slo.Percentile < 100) {
		r.AddKind(tomlcheck.OutOfRange, append(sk, "percentile"), "must be in (0, 100), got %v", slo.Percentile)
	}
	if !(slo.Attainment > 0 && slo.Attainment <= 1) {
		r.AddKind(tomlcheck.OutOfRange, append(sk, "attainment"), "must be in (0, 1], got %v", slo.Attainment)
	}
	m.Classes = workload.Normalize(classes)
	for _, c := range m.Classes {
		t := slo.Targets()
		if ct, ok := slo.Classes[c.Name]; ok {
			t = ct
		}
		m.Targets = append(m.Targets, t)
	}
	for cn := range slo.Classes {
		if !slices.ContainsFunc(m.Classes, func(c workload.Class) bool { return c.Name == cn }) {
			r.AddKind(tomlcheck.NotFound, append(sk, "classes", cn), "no workload class named %q", cn)
		}
	}
}

// workloadErrors locates the workload package's problems (each a
// *workload.FieldError naming a field under the spec) under k, keeping
// their kinds.
func (r *resolver) workloadErrors(k []string, err error) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var fe *workload.FieldError
		if !errors.As(e, &fe) {
			r.Add(k, "%s", e)
			continue
		}
		r.AddKind(fe.Kind, append(append([]string(nil), k...), strings.Split(fe.Field, ".")...), "%s", fe.Msg)
	}
}

// readFile reads and parses a file the scenario names, relative to its
// folder; a file that is not there is NotFound, one that does not parse is
// Invalid.
func (r *resolver) readFile(k []string, path string, parse func(string, []byte) (any, error)) any {
	if r.files == nil {
		r.AddKind(tomlcheck.NotFound, k, "cannot read %q: no folder to read it from", path)
		return nil
	}
	b, err := fs.ReadFile(r.files, path)
	if err != nil {
		kind := tomlcheck.Invalid
		if errors.Is(err, fs.ErrNotExist) {
			kind = tomlcheck.NotFound
		}
		r.AddKind(kind, k, "read %s: %v", path, errors.Unwrap(err))
		return nil
	}
	v, err := parse(path, b)
	if err != nil {
		r.Add(k, "%v", err)
		return nil
	}
	return v
}

// readEmpirical reads an empirical length distribution the workload names.
func (r *resolver) readEmpirical(k []string, path string) []workload.WeightedValue {
	v := r.readFile(k, path, func(n string, b []byte) (any, error) { return workload.ReadEmpirical(n, bytes.NewReader(b)) })
	vals, _ := v.([]workload.WeightedValue)
	return vals
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
			r.AddKind(tomlcheck.OutOfRange, key("site", "ambient_c"), "must be between -50 and 80 C, got %v", s.AmbientC)
		}
		if !(site.ElectricityUSDPerKWh > 0 && site.ElectricityUSDPerKWh <= 100) {
			r.AddKind(tomlcheck.OutOfRange, key("site", "electricity_usd_per_kwh"), "must be positive and at most 100, got %v", s.ElectricityUSDPerKWh)
		}
		if !(site.PUE >= 1 && site.PUE <= 5) {
			r.AddKind(tomlcheck.OutOfRange, key("site", "pue"), "must be between 1 and 5, got %v", s.PUE)
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
		if !cost.Pricing.Valid() {
			r.Add(key("cost", "pricing"), "unknown pricing %q; valid: %s", c.Pricing, workload.Join(Pricings))
		}
		if !(cost.AmortizationYears > 0 && cost.AmortizationYears <= 30) {
			r.AddKind(tomlcheck.OutOfRange, key("cost", "amortization_years"), "must be in (0, 30], got %v", c.AmortizationYears)
		}
		if !(cost.FinancingRate >= 0 && cost.FinancingRate < 1) {
			r.AddKind(tomlcheck.OutOfRange, key("cost", "financing_rate"), "must be an annual rate in [0, 1), got %v", c.FinancingRate)
		}
		if !(cost.HostingUSDPerMonth >= 0 && cost.HostingUSDPerMonth <= MaxPriceUSD) {
			r.AddKind(tomlcheck.OutOfRange, key("cost", "hosting_usd_per_month"), "must be between 0 and %.0e, got %v", MaxPriceUSD, c.HostingUSDPerMonth)
		}
		if !(cost.SupportPctPerYear >= 0 && cost.SupportPctPerYear <= 100) {
			r.AddKind(tomlcheck.OutOfRange, key("cost", "support_pct_per_year"), "must be in [0, 100], got %v", c.SupportPctPerYear)
		}
	}
	return site, cost
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
