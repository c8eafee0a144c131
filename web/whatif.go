package web

import (
	"fmt"
	"github.com/fleettwin/fleettwin/jobs"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/scenario"
)

// whatifForm is the what-if page: the scenario as TOML and the fields a
// planner changes most, each bound to a place in the scenario file.
type whatifForm struct {
	From    string
	TOML    string
	Fields  []field
	Error   string
	History []jobs.State // this browser session's runs, newest first
	// Plans are the shipped plans; PlanHistory this session's plans.
	Plans       []string
	PlanHistory []jobs.PlanState
	Choices     choices
	Groups      []groupView
}

// groupView is a node group as the placement controls show it.
type groupView struct {
	Index     int
	Name      string
	Hardware  string
	Count     int
	Instances []string // "model (quant)"
}

func groupViews(f *scenario.File) []groupView {
	var out []groupView
	for i, g := range f.Nodes {
		v := groupView{Index: i, Name: g.Name, Hardware: g.Hardware, Count: g.Count}
		for _, in := range g.Instances {
			desc := in.Quant
			for _, d := range []struct {
				name string
				v    int
			}{{"tp", in.TP}, {"pp", in.PP}, {"ep", in.EP}, {"dp", in.DP}} {
				if d.v > 1 {
					desc += fmt.Sprintf(", %s %d", d.name, d.v)
				}
			}
			v.Instances = append(v.Instances, fmt.Sprintf("%s (%s)", in.Model, desc))
		}
		out = append(out, v)
	}
	return out
}

// place applies a placement action from the form: "add-instance:G" copies
// group G's last instance, "remove-instance:G:I" removes one,
// "add-group:G" copies a whole group, "remove-group:G" removes one.
func place(f *scenario.File, action string) error {
	parts := strings.Split(action, ":")
	idx := func(i int, n int, what string) (int, error) {
		if i >= len(parts) {
			return 0, fmt.Errorf("placement %q: no %s", action, what)
		}
		v, err := strconv.Atoi(parts[i])
		if err != nil || v < 0 || v >= n {
			return 0, fmt.Errorf("placement %q: no %s %s", action, what, parts[i])
		}
		return v, nil
	}
	g, err := idx(1, len(f.Nodes), "node group")
	if err != nil {
		return err
	}
	group := &f.Nodes[g]
	switch parts[0] {
	case "add-instance":
		if len(group.Instances) == 0 {
			return fmt.Errorf("node group %s has no instance to copy", group.Name)
		}
		group.Instances = append(group.Instances, group.Instances[len(group.Instances)-1])
	case "remove-instance":
		i, err := idx(2, len(group.Instances), "instance")
		if err != nil {
			return err
		}
		if len(group.Instances) == 1 {
			return fmt.Errorf("node group %s needs at least one instance: remove the group instead", group.Name)
		}
		group.Instances = slices.Delete(slices.Clone(group.Instances), i, i+1)
	case "add-group":
		c := *group
		c.Instances = slices.Clone(group.Instances)
		names := map[string]bool{}
		for _, n := range f.Nodes {
			names[n.Name] = true
		}
		for k := 2; ; k++ {
			if c.Name = fmt.Sprintf("%s-%d", group.Name, k); !names[c.Name] {
				break
			}
		}
		f.Nodes = append(f.Nodes, c)
	case "remove-group":
		if len(f.Nodes) == 1 {
			return fmt.Errorf("a scenario needs at least one node group")
		}
		f.Nodes = slices.Delete(slices.Clone(f.Nodes), g, g+1)
	default:
		return fmt.Errorf("unknown placement action %q", action)
	}
	return nil
}

type field struct {
	Name, Label, Value string
	List               string // id of the datalist with the valid choices, if any
}

// choices are the datalists of the what-if form: what the catalog,
// the profiles and the scenario offer.
type choices struct {
	Hardware, Engines, Quants, Models []string
	// Drafts are the catalog's models (a draft need not be served);
	// Speculative the speculative decoding methods, off first.
	Drafts, Speculative []string
}

// binding reads and writes one field of a scenario file.
type binding struct {
	name, label string
	get         func(*scenario.File) string
	set         func(*scenario.File, string) error
}

// textField binds a text field of the file, plain or of a named choice.
func textField[T ~string](name, label string, ptr func(*scenario.File) *T) binding {
	return binding{name, label,
		func(f *scenario.File) string { return string(*ptr(f)) },
		func(f *scenario.File, s string) error { *ptr(f) = T(s); return nil }}
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func parseNum(name, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", name, s)
	}
	return v, nil
}

func parseInt(name, s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a whole number", name, s)
	}
	return v, nil
}

// bindings lists the form's fields for a scenario file: run length, site
// and cost, per served model its rate and SLO, per node group its
// hardware (a device or a node type), count and physics, per instance its
// model, format, batch, parallel layout and speculative decoding.
func bindings(f *scenario.File) []binding {
	floatField := func(name, label string, ptr func(*scenario.File) *float64) binding {
		return binding{name, label,
			func(f *scenario.File) string { return num(*ptr(f)) },
			func(f *scenario.File, s string) error {
				v, err := parseNum(name, s)
				*ptr(f) = v
				return err
			}}
	}
	intField := func(name, label string, ptr func(*scenario.File) *int) binding {
		return binding{name, label,
			func(f *scenario.File) string { return strconv.Itoa(*ptr(f)) },
			func(f *scenario.File, s string) error {
				v, err := parseInt(name, s)
				*ptr(f) = v
				return err
			}}
	}
	strField := textField[string]
	site := func(f *scenario.File) *scenario.Site {
		if f.Site == nil {
			s := scenario.DefaultSite
			f.Site = &s
		}
		return f.Site
	}
	cost := func(f *scenario.File) *scenario.Cost {
		if f.Cost == nil {
			c := scenario.DefaultCost
			f.Cost = &c
		}
		return f.Cost
	}
	bs := []binding{
		strField("name", "Name", func(f *scenario.File) *string { return &f.Name }),
		floatField("duration_s", "Duration (s)", func(f *scenario.File) *float64 { return &f.DurationS }),
		floatField("site.ambient_c", "Room (C)", func(f *scenario.File) *float64 { return &site(f).AmbientC }),
		floatField("site.electricity_usd_per_kwh", "Electricity ($/kWh)", func(f *scenario.File) *float64 { return &site(f).ElectricityUSDPerKWh }),
		floatField("site.pue", "PUE", func(f *scenario.File) *float64 { return &site(f).PUE }),
		textField("cost.pricing", "Pricing (own, cloud)", func(f *scenario.File) *scenario.Pricing { return &cost(f).Pricing }),
		floatField("cost.amortization_years", "Amortization (years)", func(f *scenario.File) *float64 { return &cost(f).AmortizationYears }),
	}
	var models []string
	for m := range f.Models {
		models = append(models, m)
	}
	slices.Sort(models)
	for _, m := range models {
		served := func(f *scenario.File) *scenario.ServedModel {
			s := f.Models[m]
			return &s
		}
		put := func(f *scenario.File, s *scenario.ServedModel) { f.Models[m] = *s }
		modelFloat := func(name, label string, ptr func(*scenario.ServedModel) *float64) binding {
			return binding{name, label,
				func(f *scenario.File) string { return num(*ptr(served(f))) },
				func(f *scenario.File, s string) error {
					v, err := parseNum(name, s)
					sm := served(f)
					*ptr(sm) = v
					put(f, sm)
					return err
				}}
		}
		p := "models." + m
		bs = append(bs,
			modelFloat(p+".workload.arrival.rate", m+" rate (req/s)", func(s *scenario.ServedModel) *float64 { return &s.Workload.Arrival.Rate }),
			modelFloat(p+".slo.ttft_s", m+" TTFT target (s)", func(s *scenario.ServedModel) *float64 { return &s.SLO.TTFTS }),
			modelFloat(p+".slo.tpot_s", m+" TPOT target (s)", func(s *scenario.ServedModel) *float64 { return &s.SLO.TPOTS }),
		)
	}
	for i := range f.Nodes {
		p := fmt.Sprintf("nodes.%d", i)
		g := func(f *scenario.File) *scenario.NodeGroup { return &f.Nodes[i] }
		name := f.Nodes[i].Name
		bs = append(bs,
			strField(p+".hardware", name+": hardware", func(f *scenario.File) *string { return &g(f).Hardware }),
			intField(p+".count", name+": nodes", func(f *scenario.File) *int { return &g(f).Count }),
			strField(p+".engine", name+": engine", func(f *scenario.File) *string { return &g(f).Engine }),
			floatField(p+".power_cap_w", name+": power cap (W, 0 = limit)", func(f *scenario.File) *float64 { return &g(f).PowerCapW }),
			floatField(p+".thermal_resistance_c_per_w", name+": cooling (C/W, 0 = catalog)", func(f *scenario.File) *float64 { return &g(f).ThermalResistanceCPerW }),
		)
		for j := range f.Nodes[i].Instances {
			q := fmt.Sprintf("%s.instances.%d", p, j)
			in := func(f *scenario.File) *scenario.Instance { return &f.Nodes[i].Instances[j] }
			label := fmt.Sprintf("%s #%d", name, j+1)
			bs = append(bs,
				strField(q+".model", label+": model", func(f *scenario.File) *string { return &in(f).Model }),
				strField(q+".quant", label+": weights", func(f *scenario.File) *string { return &in(f).Quant }),
				intField(q+".max_seqs", label+": max sequences", func(f *scenario.File) *int { return &in(f).MaxSeqs }),
				// The layout over a node type's devices (0 = 1): on a
				// plain device every degree must stay 1.
				intField(q+".tp", label+": tp (tensor parallel)", func(f *scenario.File) *int { return &in(f).TP }),
				intField(q+".pp", label+": pp (pipeline stages)", func(f *scenario.File) *int { return &in(f).PP }),
				intField(q+".ep", label+": ep (expert parallel)", func(f *scenario.File) *int { return &in(f).EP }),
			)
			bs = append(bs, specBindings(q, label, in)...) // whatif_spec.go
		}
	}
	return bs
}

// formFields renders a scenario's bindings.
func formFields(f *scenario.File) []field {
	var out []field
	for _, b := range bindings(f) {
		fl := field{Name: b.name, Label: b.label, Value: b.get(f)}
		for suffix, list := range map[string]string{".hardware": "hardware", ".engine": "engines", ".quant": "quants", ".model": "models",
			".speculative.method": "speculative", ".speculative.draft_model": "drafts"} {
			if strings.HasSuffix(b.name, suffix) {
				fl.List = "choices-" + list
			}
		}
		out = append(out, fl)
	}
	return out
}

// applyFields writes the fields whose value differs from what the form
// was rendered with (orig) into f: an edit in the TOML is kept unless the
// same setting was also changed in its field.
func applyFields(f *scenario.File, values, orig map[string]string) error {
	for _, b := range bindings(f) {
		v, ok := values[b.name]
		if !ok || v == orig[b.name] {
			continue
		}
		if err := b.set(f, v); err != nil {
			return err
		}
	}
	return nil
}
