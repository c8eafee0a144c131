package scenario

import (
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/workload"
)

// multiModelEngines are the engines one server process of which can host
// several models (sharing = "one-process").
var multiModelEngines = []string{"llama.cpp", "ollama"}

// sharing resolves a node group's sharing: the group's, or the hardware's
// default, and whether the device and engine can do it.
func (r *resolver) sharing(k []string, g NodeGroup, hw catalog.Hardware, prof perf.Profile) Sharing {
	s := g.Sharing
	if s == "" {
		return DefaultSharing(hw)
	}
	if !s.Valid() {
		r.Add(append(k, "sharing"), "unknown sharing %q; valid: %s", g.Sharing, workload.Join(Sharings))
		return DefaultSharing(hw)
	}
	switch {
	case s == MIG && len(hw.MIG) == 0:
		r.AddKind(tomlcheck.NoFit, append(k, "sharing"), "%s has no MIG partitions; valid for it: %s, %s, %s", hw.Name, TimeSlice, MPS, OneProcess)
	case s == MIG && g.Memory == MemoryDynamic:
		r.Add(append(k, "memory"), "MIG partitions have memory of their own: memory = \"dynamic\" cannot be shared across them")
	case s == OneProcess && !slices.Contains(multiModelEngines, prof.Engine):
		r.Add(append(k, "sharing"), "%s serves one model per process; one-process needs an engine that hosts several (%s)", prof.Engine, strings.Join(multiModelEngines, ", "))
	}
	return s
}

// shareDevice gives each instance the device it computes on, its priority
// and SM share, and under MIG its partition and that partition's memory,
// checking every field against the sharing and the device.
func (r *resolver) shareDevice(k []string, g NodeGroup, hw catalog.Hardware, fraction float64, s Sharing, insts []NodeInstance) {
	var computeSlices, memorySlices int
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", tomlcheck.Index(ii))
		var inst *NodeInstance
		if j := instanceAt(insts, ii); j >= 0 {
			inst = &insts[j]
		}
		pct := in.MPSActiveThreadPct
		switch {
		case pct != 0 && s != MPS:
			r.Add(append(ik, "mps_active_thread_pct"), "only with sharing = \"mps\", got sharing %q", s)
		case pct != 0 && !(pct > 0 && pct <= 100):
			r.AddKind(tomlcheck.OutOfRange, append(ik, "mps_active_thread_pct"), "must be in (0, 100], got %v", pct)
		}
		if in.MIG != "" && s != MIG {
			r.Add(append(ik, "mig"), "only with sharing = \"mig\", got sharing %q", s)
		}
		if s == MIG && in.MIG == "" && len(hw.MIG) > 0 {
			r.AddKind(tomlcheck.Missing, append(ik, "mig"), "sharing = \"mig\" needs each instance's partition; valid: %s", migNames(hw))
		}
		if inst == nil {
			continue
		}
		inst.Hardware, inst.Priority, inst.SMShare = hw, in.Priority, 1
		if s == MPS && pct > 0 && pct <= 100 {
			inst.SMShare = pct / 100
		}
		if s != MIG || in.MIG == "" || len(hw.MIG) == 0 {
			continue
		}
		p, err := hw.MIGProfileNamed(in.MIG)
		if err != nil {
			r.AddKind(tomlcheck.NotFound, append(ik, "mig"), "%v", err)
			continue
		}
		computeSlices += p.ComputeSlices
		memorySlices += p.MemorySlices
		inst.MIG, inst.Hardware = p.Name, hw.Partition(p)
		inst.BudgetBytes = inst.Hardware.UsableMemoryBytes() * fraction
		if need := inst.WeightBytes + inst.KVBlockBytes(); need > inst.BudgetBytes {
			r.noFit(append(ik, "mig"), "%s weights (%s) and one KV block do not fit MIG %s's %s (%.3g of %s): short by %s",
				inst.Deploy.Model.Name, gib(inst.WeightBytes), p.Name, gib(inst.BudgetBytes), fraction, gib(inst.Hardware.UsableMemoryBytes()), gib(need-inst.BudgetBytes))
		}
	}
	if computeSlices > hw.MIGComputeSlices || memorySlices > hw.MIGMemorySlices {
		r.noFit(append(k, "instances"), "MIG partitions take %d of %s's %d GPU slices and %d of its %d memory slices",
			computeSlices, hw.Name, hw.MIGComputeSlices, memorySlices, hw.MIGMemorySlices)
	}
}

// instanceAt is the index in insts of the group's ii-th instance, or -1 if
// that one could not be placed.
func instanceAt(insts []NodeInstance, ii int) int {
	return slices.IndexFunc(insts, func(in NodeInstance) bool { return in.src == ii })
}

func migNames(hw catalog.Hardware) string {
	names := make([]string, len(hw.MIG))
	for i, p := range hw.MIG {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
