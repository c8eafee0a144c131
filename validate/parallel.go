package validate

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// A row measured on several devices (its tp column, settings pp, ep,
// expert_parallel and nodes) runs as one instance of tp × pp devices on a
// node type of the row's device: the catalog's node type of that device
// with the fewest devices that has enough, spanning as many machines as
// the row's nodes (1 when it says none). An H100 row with tp = 2 runs on
// 2 of hgx-h100-8's 8 GPUs (the idle six change none of its figures); two
// DGX Sparks (tp = 2, nodes = 2) on dgx-spark-pair.

// ParallelSettings are the settings keys of a row's layout, with the field
// each sets.
var ParallelSettings = map[string]string{
	"pp":              "instance pp",
	"ep":              "instance ep",
	"expert_parallel": "instance ep = tp (vLLM --enable-expert-parallel spreads the experts over the tensor-parallel GPUs)",
	"nodes":           "the machines the row's node type spans (2: dgx-spark-pair)",
}

// layoutKnobs are a row's layout: degrees, and the machines it ran on.
type layoutKnobs struct {
	tp, pp, ep, nodes int
}

// devices is how many devices the row ran on.
func (l layoutKnobs) devices() int { return max(l.tp, 1) * max(l.pp, 1) }

// rowLayout reads a row's tp and layout settings.
func rowLayout(r *measure.Row) (layoutKnobs, error) {
	l := layoutKnobs{tp: max(r.TP, 1), pp: 1, ep: 1, nodes: 1}
	expertParallel := false
	for _, s := range r.Settings {
		var err error
		switch s.Key {
		case "pp":
			l.pp, err = positive(s.Value, perf.MaxDegree)
		case "ep":
			l.ep, err = positive(s.Value, perf.MaxDegree)
		case "nodes":
			l.nodes, err = positive(s.Value, perf.MaxDegree)
		case "expert_parallel":
			expertParallel, err = strconv.ParseBool(s.Value)
		}
		if err != nil {
			return l, fmt.Errorf("setting %s=%s: %v", s.Key, s.Value, err)
		}
	}
	if expertParallel {
		if l.ep != 1 && l.ep != l.tp {
			return l, fmt.Errorf("settings ep=%d and expert_parallel=true disagree: vLLM's expert parallelism spans the tp = %d GPUs", l.ep, l.tp)
		}
		l.ep = l.tp
	}
	if l.tp > perf.MaxDegree {
		return l, fmt.Errorf("tp %d: at most %d", l.tp, perf.MaxDegree)
	}
	if l.ep > 1 && l.tp%l.ep != 0 {
		return l, fmt.Errorf("setting ep=%d: expert parallelism spreads the experts over the tensor-parallel devices, and ep must divide tp (%d)", l.ep, l.tp)
	}
	return l, nil
}

// setLayout writes a row's layout onto the instance of its scenario.
func (l layoutKnobs) setLayout(in *scenario.Instance) {
	if l.devices() > 1 || l.ep > 1 {
		in.TP, in.PP, in.EP = l.tp, l.pp, l.ep
	}
}

// nodeTypeFor is the node type a row of hardware over devices devices and
// machines machines ran on, or why the catalog has none.
func nodeTypeFor(cat *catalog.Catalog, hardware string, devices, machines int) (string, error) {
	types := cat.NodeTypesOf(hardware)
	i := slices.IndexFunc(types, func(nt catalog.NodeType) bool {
		return nt.Devices >= devices && max(nt.Machines, 1) == machines
	})
	if i < 0 {
		return "", fmt.Errorf("%d devices over %d machine(s): no node type of %s has them (the catalog's: %s)", devices, machines, hardware, typeNames(types))
	}
	return types[i].Name, nil
}

func typeNames(types []catalog.NodeType) string {
	if len(types) == 0 {
		return "none"
	}
	s := ""
	for i, nt := range types {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s, %d devices", nt.Name, nt.Devices)
	}
	return s
}

// onNodeType puts a serving row's scenario on the node type its layout
// needs, when it needs more than one device; f's node groups are copied,
// not changed, since f shares them with the row's plan.
func onNodeType(cat *catalog.Catalog, r *measure.Row, f *scenario.File) error {
	l, err := rowLayout(r)
	if err != nil {
		return err
	}
	if l.devices() <= 1 && l.nodes <= 1 {
		return nil
	}
	name, err := nodeTypeFor(cat, r.Hardware, l.devices(), l.nodes)
	if err != nil {
		return err
	}
	f.Nodes = slices.Clone(f.Nodes)
	f.Nodes[0].Hardware = name
	return nil
}

// benchOnOneDevice refuses a bench row measured on several devices: a
// bench's steps are priced on one device's profile (perf.BenchRow).
func benchOnOneDevice(r *measure.Row) error {
	l, err := rowLayout(r)
	if err != nil {
		return err
	}
	if l.devices() > 1 || l.nodes > 1 {
		return fmt.Errorf("tp %d, pp %d over %d linked machines: bench rows over several devices are not modelled (serving rows are)", l.tp, l.pp, l.nodes)
	}
	return nil
}
