package scenario

import (
	"fmt"
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

// Supported reports whether a node of hw running engine can share its
// device as s, whatever its instances say: MIG needs a device with MIG
// partitions, one-process an engine one process of which hosts several
// models; time-slice and MPS work everywhere. The planner skips the
// combinations that cannot; a scenario naming one is an error.
func (s Sharing) Supported(hw catalog.Hardware, engine string) bool {
	switch s {
	case MIG:
		return len(hw.MIG) > 0
	case OneProcess:
		return slices.Contains(multiModelEngines, perf.NormalizeEngine(engine))
	}
	return s == "" || s.Valid()
}

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
	case s == MIG && !s.Supported(hw, prof.Engine):
		r.AddKind(tomlcheck.NoFit, append(k, "sharing"), "%s has no MIG partitions; valid for it: %s, %s, %s", hw.Name, TimeSlice, MPS, OneProcess)
	case s == MIG && g.Memory == MemoryDynamic:
		r.Add(append(k, "memory"), "MIG partitions have memory of their own: memory = \"dynamic\" cannot be shared across them")
	case s == OneProcess && !s.Supported(hw, prof.Engine):
		r.Add(append(k, "sharing"), "%s serves one model per process; one-process needs an engine that hosts several (%s)", prof.Engine, strings.Join(multiModelEngines, ", "))
	}
	return s
}

// shareDevice gives each instance the device it computes on, its priority
// and SM share, and under MIG its partition and that partition's memory,
// checking every field against the sharing and the device.
//
// Under MIG an instance's memory is its partition's usable memory times
// its memory_fraction, or else the group's fraction: each engine process
// sees the partition as its whole device, as vLLM's gpu-memory-utilization
// applies to the MIG device it runs on. The partitions' slices are counted
// for every instance that names a known profile, placed or not, so that a
// node that cannot hold them says so even when another field is wrong.
func (r *resolver) shareDevice(k []string, g NodeGroup, hw catalog.Hardware, prof perf.Profile, fraction float64, s Sharing, insts []NodeInstance) {
	var computeSlices, memorySlices int
	count := map[string]int{}
	// An unknown sharing is reported alone, not as every field it lacks.
	known := g.Sharing == "" || g.Sharing.Valid()
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", tomlcheck.Index(ii))
		pct := in.MPSActiveThreadPct
		switch {
		case pct != 0 && s != MPS && known:
			r.Add(append(ik, "mps_active_thread_pct"), "only with sharing = \"mps\", %s", sharingIs(g, s))
		case pct != 0 && !(pct > 0 && pct <= 100):
			r.AddKind(tomlcheck.OutOfRange, append(ik, "mps_active_thread_pct"), "must be in (0, 100], got %v", pct)
		}
		if in.MIG != "" && s != MIG && known {
			r.Add(append(ik, "mig"), "only with sharing = \"mig\", %s", sharingIs(g, s))
		}
		if s == MIG && in.MIG == "" && len(hw.MIG) > 0 {
			r.AddKind(tomlcheck.Missing, append(ik, "mig"), "sharing = \"mig\" needs each instance's partition; valid: %s", migNames(hw))
		}
		var p catalog.MIGProfile
		if s == MIG && in.MIG != "" && len(hw.MIG) > 0 {
			var err error
			if p, err = hw.MIGProfileNamed(in.MIG); err != nil {
				r.AddKind(tomlcheck.NotFound, append(ik, "mig"), "%v", err)
			} else {
				computeSlices += p.ComputeSlices
				memorySlices += p.MemorySlices
				if count[p.Name]++; count[p.Name] == p.MaxCount+1 {
					r.noFit(append(ik, "mig"), "%s holds at most %d × %s, and this is number %d", hw.Name, p.MaxCount, p.Name, count[p.Name])
				}
			}
		}
		j := instanceAt(insts, ii)
		if j < 0 {
			continue
		}
		inst := &insts[j]
		inst.Hardware, inst.Priority, inst.SMShare = hw, in.Priority, 1
		if s == MPS && pct > 0 && pct <= 100 {
			inst.SMShare = pct / 100
		}
		if p.Name == "" {
			continue
		}
		share := fraction
		if in.MemoryFraction > 0 && in.MemoryFraction <= 1 {
			share = in.MemoryFraction
		}
		inst.MIG, inst.Hardware = p.Name, hw.Partition(p)
		inst.BudgetBytes = inst.Hardware.UsableMemoryBytes() * share
		partitionDefaults(inst, in, prof)
		if need := inst.WeightBytes + inst.KVBlockBytes(); need > inst.BudgetBytes {
			r.noFit(append(ik, "mig"), "%s weights (%s) and one KV block do not fit MIG %s's %s (%.3g of %s): short by %s",
				inst.Deploy.Model.Name, gib(inst.WeightBytes), p.Name, gib(inst.BudgetBytes), share, gib(inst.Hardware.UsableMemoryBytes()), gib(need-inst.BudgetBytes))
		}
	}
	if computeSlices > hw.MIGComputeSlices || memorySlices > hw.MIGMemorySlices {
		r.noFit(append(k, "instances"), "MIG partitions take %d of %s's %d GPU slices and %d of its %d memory slices",
			computeSlices, hw.Name, hw.MIGComputeSlices, memorySlices, hw.MIGMemorySlices)
	}
}

// sharingIs says what the group's sharing is, for an error about a field
// that needs another: the one written, or the default it did not write.
func sharingIs(g NodeGroup, s Sharing) string {
	if g.Sharing == "" {
		return fmt.Sprintf("and sharing is unset (the default here is %q)", s)
	}
	return fmt.Sprintf("got sharing %q", s)
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

// partitionDefaults redoes the batch bounds the instance leaves unset for
// its MIG partition: an engine's defaults follow the memory it sees (vLLM
// takes 1024 sequences and 8192 tokens from 70 GiB up, less below), and a
// 3g.40gb partition of an H100 sees 39.5 GiB, not 80.
func partitionDefaults(inst *NodeInstance, in Instance, prof perf.Profile) {
	inst.MaxSeqs, inst.MaxBatchedTokens, inst.BlockTokens, inst.ChunkTokens = in.MaxSeqs, in.MaxBatchedTokens, in.BlockTokens, in.ChunkTokens
	inst.ChunkedPrefill = in.ChunkedPrefill == nil || *in.ChunkedPrefill
	applyDefaults(inst, in, inst.Hardware, prof)
	if inst.ChunkTokens == 0 || !inst.ChunkedPrefill {
		inst.ChunkTokens = inst.MaxBatchedTokens
	}
}
