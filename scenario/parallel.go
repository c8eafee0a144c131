package scenario

import (
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
)

// Nodes of several devices (a node type: an HGX board, two linked Sparks)
// and instances over several of them (tp, pp, ep, dp).
//
// The rule, so that every device is used by one thing at a time: on a
// node of one device instances share it as before (sharing, memory
// shares, MIG) and ask for no parallelism; on a node of several devices
// every instance owns tp × pp devices of its own, dp replicas of it dp
// times as many, given out in file order from device 0, and nothing
// shares a device (no sharing mode, no memory pool, no MIG, no MPS cap).
// Weights and KV split across an instance's devices (perf.Instance's
// WeightBytes and KVBytesPerToken count them over all of its devices, so
// the memory checks below, in totals, hold per device), and each
// instance's budget is its devices' memory times its memory_fraction (the
// group's where it leaves it out): vLLM's gpu-memory-utilization applies
// to every GPU of a tensor-parallel server.

// checkDegrees checks an instance's tp, pp, ep and dp are in range; false
// if any is not (reported).
func (r *resolver) checkDegrees(ik []string, in Instance) bool {
	ok := true
	for _, d := range []struct {
		v int
		f string
	}{{in.TP, "tp"}, {in.PP, "pp"}, {in.EP, "ep"}, {in.DP, "dp"}} {
		if d.v < 0 || d.v > perf.MaxDegree {
			r.AddKind(tomlcheck.OutOfRange, append(ik, d.f), "must be in [1, %d] (0 = 1), got %d", perf.MaxDegree, d.v)
			ok = false
		}
	}
	return ok
}

// singleDevice checks that the instances of a node of one device ask for
// no parallelism: each has the device to itself or shares it.
func (r *resolver) singleDevice(k []string, g NodeGroup, spec catalog.NodeSpec) {
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", tomlcheck.Index(ii))
		if !r.checkDegrees(ik, in) {
			continue
		}
		for _, d := range []struct {
			v int
			f string
		}{{in.TP, "tp"}, {in.PP, "pp"}, {in.EP, "ep"}, {in.DP, "dp"}} {
			if d.v > 1 {
				r.noFit(append(ik, d.f), "%s %d needs a node of several devices, and %s is one%s", d.f, d.v, spec.Name, nodeTypesHint(r.cat, spec.Hardware.Name))
			}
		}
	}
}

// nodeTypesHint names the node types of a device, for an error that needs
// one.
func nodeTypesHint(cat *catalog.Catalog, hardware string) string {
	var names []string
	for _, nt := range cat.NodeTypesOf(hardware) {
		names = append(names, nt.Name)
	}
	if len(names) == 0 {
		return " (no node type of it in the catalog)"
	}
	return " (set hardware to a node type of it: " + strings.Join(names, ", ") + ")"
}

// onDevices resolves the instances of a node of several devices: each its
// layout over the node's link, its devices (from FirstDevice, dp replicas
// one after another) and its memory, every field the rule above refuses
// reported under its own key.
func (r *resolver) onDevices(k []string, g NodeGroup, spec catalog.NodeSpec, prof perf.Profile, index map[string]int, models []Model, fraction float64) []NodeInstance {
	hw := spec.Hardware
	if g.Sharing != "" && g.Sharing != TimeSlice {
		r.Add(append(k, "sharing"), "instances on %s (%d devices) each own their devices, so there is nothing to share: leave sharing unset, got %q", spec.Name, spec.Devices, g.Sharing)
	}
	if g.Memory == MemoryDynamic {
		r.Add(append(k, "memory"), "instances on %s each own their devices' memory: memory = \"dynamic\" has no pool to share", spec.Name)
	}
	var insts []NodeInstance
	next := 0 // the first device not yet given out
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", tomlcheck.Index(ii))
		if in.MPSActiveThreadPct != 0 {
			r.Add(append(ik, "mps_active_thread_pct"), "only on a node of one device: instances on %s each own their devices", spec.Name)
		}
		if in.MIG != "" {
			r.Add(append(ik, "mig"), "only on a node of one device: instances on %s each own their devices", spec.Name)
		}
		if !r.checkDegrees(ik, in) {
			continue
		}
		inst, ok := r.instance(ik, in, index, models, hw, prof)
		if !ok {
			continue
		}
		inst.src = ii
		inst.Deploy.Layout = perf.Layout{TP: in.TP, PP: in.PP, EP: in.EP, Link: spec.Link}
		if errs := perf.CheckLayout(inst.Deploy.Model, inst.Deploy.Layout); len(errs) > 0 {
			for _, e := range errs {
				r.Add(append(ik, e.Field), "%s", e.Msg)
			}
			continue
		}
		n, dp := inst.Deploy.Layout.Devices(), max(in.DP, 1)
		if next+n*dp > spec.Devices {
			field := "tp"
			if dp > 1 {
				field = "dp"
			} else if in.PP > 1 && in.TP <= 1 {
				field = "pp"
			}
			r.noFit(append(ik, field), "takes %d device(s) × %d replica(s) from device %d, and %s has %d", n, dp, next, spec.Name, spec.Devices)
			next += n * dp
			continue
		}
		share := in.MemoryFraction
		if share == 0 {
			share = fraction
		}
		if !(share > 0 && share <= 1) {
			r.noFit(append(ik, "memory_fraction"), "must be in (0, 1], got %v", in.MemoryFraction)
		}
		one := inst.Deploy
		one.Layout = perf.Layout{}
		inst.WeightBytes += inst.Deploy.WeightBytes() - one.WeightBytes() // what the layout replicates
		inst.BudgetBytes = float64(n) * hw.UsableMemoryBytes() * share
		inst.Hardware, inst.Priority, inst.SMShare = hw, in.Priority, 1
		if need := inst.WeightBytes + inst.KVBlockBytes(); need > inst.BudgetBytes {
			field := "tp"
			if in.TP <= 1 && in.PP > 1 {
				field = "pp"
			}
			r.noFit(append(ik, field), "%s weights (%s over %d × %s) and one KV block do not fit their %s (%.3g of each device's %s): short by %s; more devices would split them",
				inst.Deploy.Model.Name, gib(inst.WeightBytes), n, hw.Name, gib(inst.BudgetBytes), share, gib(hw.UsableMemoryBytes()), gib(need-inst.BudgetBytes))
		}
		for range dp {
			inst.FirstDevice = next
			next += n
			insts = append(insts, inst)
		}
	}
	return insts
}
