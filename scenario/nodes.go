package scenario

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/power"
	"github.com/fleettwin/fleettwin/workload"
)

// Node is one machine of a node group.
type Node struct {
	Name     string // group name, then "-i" when the group has several
	Group    string
	Hardware catalog.Hardware // one device's
	// NodeType is the node type the group names, empty for a plain
	// device; Devices is how many devices of Hardware the node has (1 for
	// a device; 0, in nodes built in code, means 1) and Link joins them
	// (scenario/parallel.go).
	NodeType      string
	Devices       int
	Link          catalog.Interconnect
	Profile       perf.Profile
	DynamicMemory bool
	BudgetBytes   float64 // usable memory × the engines' fraction
	// Sharing is how the instances share the device's compute (the group's,
	// or DefaultSharing).
	Sharing      Sharing
	Interference float64
	Instances    []NodeInstance

	Power    power.Model // one device's draw; CapW is the scenario's cap
	HostW    float64     // the rest of the node, constant
	Thermal  power.RC
	Governor power.Governor
	// PriceUSD and CloudUSDPerHour are the node's (its node type's, or
	// its one device's), overrides applied.
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
	// Hardware is the device the instance's steps run on: the node's, or
	// under MIG its partition (catalog.Hardware.Partition).
	Hardware catalog.Hardware
	MIG      string // the partition's profile under MIG, else empty
	// Priority ranks the instance on its device, lower more urgent.
	Priority int
	// SMShare is the share of SMs the instance may use (MPS active thread
	// percentage / 100); 1 when uncapped.
	SMShare float64
	// FirstDevice is the first of the node's devices the instance runs on,
	// Deploy.Layout.Devices() of them (scenario/parallel.go); 0 on a node
	// of one device.
	FirstDevice int
	// Role is the instance's part under disaggregated serving, empty when
	// it does both (scenario/disagg.go).
	Role Role
	// PrefixCaching: the instance keeps freed KV blocks for later requests
	// with the same prefix (scenario/prefix.go).
	PrefixCaching bool

	src int // index of the instance in its group's list
}

// KVBlockBytes is the size of one KV block of the instance (with its
// drafter's cache under speculative decoding).
func (i NodeInstance) KVBlockBytes() float64 {
	return float64(i.BlockTokens) * (i.Deploy.KVBytesPerToken() + i.Deploy.Speculative.KVBytesPerToken(i.Deploy))
}

// nodes resolves the node groups in file order, expanding each into its
// nodes, and reports a served model no node runs.
func (r *resolver) nodes(f *File, index map[string]int, models []Model, site Site, pricing Pricing) []Node {
	if len(f.Nodes) == 0 {
		r.AddKind(tomlcheck.Missing, key("nodes"), "at least one node group is required")
	}
	var nodes []Node
	served := make([]bool, len(models))
	groups := map[string]bool{}
	for gi, g := range f.Nodes {
		k := key("nodes", tomlcheck.Index(gi))
		if g.Name == "" {
			r.AddKind(tomlcheck.Missing, append(k, "name"), "required field is missing")
		} else if groups[g.Name] {
			r.Add(append(k, "name"), "duplicate node group name %q", g.Name)
		}
		groups[g.Name] = true
		nodes = append(nodes, r.nodeGroup(k, g, index, models, served, site, pricing)...)
	}
	for i, m := range models {
		if !served[i] && len(f.Nodes) > 0 {
			r.Add(key("models", m.Name), "no node runs an instance of %q: its requests could never be served", m.Name)
		}
	}
	return nodes
}

// noFit records a problem with how a node group's instances take the
// device's memory, as kind NoFit. That is what the planner reads as "this
// placement cannot work" rather than "this plan is wrong", and it has
// always read every problem reported on an instances or memory_fraction
// field so, whether the weights are too large, the shares overflow or are
// out of range, or the node holds no instance or too many: those all carry
// NoFit, so that reading the kind changes none of its verdicts.
func (r *resolver) noFit(k []string, format string, args ...any) {
	r.AddKind(tomlcheck.NoFit, k, format, args...)
}

// nodeGroup resolves one node group: its hardware and profile, how its
// instances share memory, its physics and prices, expanded into Count
// identical nodes. A group whose hardware or engine is unknown yields no
// nodes, so its other fields raise no errors that follow from that one.
func (r *resolver) nodeGroup(k []string, g NodeGroup, index map[string]int, models []Model, served []bool, site Site, pricing Pricing) []Node {
	// An instance naming a served model serves it, even if another of its
	// fields is wrong: that error is reported alone, not cascaded.
	for _, in := range g.Instances {
		if mi, ok := index[in.Model]; ok {
			served[mi] = true
		}
	}
	spec, err := r.cat.NodeSpec(g.Hardware) // a node type, or a device
	if err != nil {
		r.AddKind(tomlcheck.NotFound, append(k, "hardware"), "%v", err)
		return nil
	}
	hw := spec.Hardware
	prof, err := r.profiles.Get(hw.Name, perf.NormalizeEngine(g.Engine))
	if err != nil {
		r.AddKind(tomlcheck.NotFound, append(k, "engine"), "%v", err)
		return nil
	}
	if g.Count < 1 {
		r.AddKind(tomlcheck.OutOfRange, append(k, "count"), "must be at least 1, got %d", g.Count)
	}
	if groupSize(g) > MaxNodes {
		return nil // reported by limits
	}
	memory := g.Memory
	if memory == "" {
		memory = MemoryStatic
	}
	if !memory.Valid() {
		r.Add(append(k, "memory"), "unknown memory sharing %q; valid: %s", g.Memory, workload.Join(MemorySharings))
	}
	dynamic := memory == MemoryDynamic
	fraction := g.MemoryFraction
	if fraction == 0 {
		fraction = prof.MemoryFraction
	}
	if !(fraction > 0 && fraction <= 1) {
		r.noFit(append(k, "memory_fraction"), "must be in (0, 1], got %v", g.MemoryFraction)
	}
	if g.Interference != nil && !(*g.Interference >= 0 && *g.Interference <= MaxInterference) {
		r.AddKind(tomlcheck.OutOfRange, append(k, "interference"), "must be between 0 and %d, got %v", MaxInterference, *g.Interference)
	}
	budget := hw.UsableMemoryBytes() * fraction * float64(spec.Devices)
	if len(g.Instances) == 0 {
		r.noFit(append(k, "instances"), "a node needs at least one model instance")
	}
	if len(g.Instances) > MaxInstancesPerNode {
		r.noFit(append(k, "instances"), "a node may run at most %d model instances, got %d", MaxInstancesPerNode, len(g.Instances))
		return nil
	}
	var insts []NodeInstance
	sharing := DefaultSharing(hw)
	if spec.Devices > 1 {
		insts = r.onDevices(k, g, spec, prof, index, models, fraction) // scenario/parallel.go
	} else {
		r.singleDevice(k, g, spec)
		sharing = r.sharing(k, g, hw, prof)
		insts = r.place(k, g, hw, prof, index, models, fraction, budget, dynamic && sharing != MIG, sharing == MIG)
		r.shareDevice(k, g, hw, prof, fraction, sharing, insts)
	}
	interference := prof.Interference
	if g.Interference != nil {
		interference = *g.Interference
	}
	pm, rc, gov := r.physics(k, g, hw, prof, site)
	price, cloud := spec.PriceUSD, spec.CloudUSDPerHour
	if g.PriceUSD > 0 {
		price = g.PriceUSD
	}
	if g.CloudUSDPerHour > 0 {
		cloud = g.CloudUSDPerHour
	}
	if pricing == PricingCloud && cloud == 0 {
		r.AddKind(tomlcheck.Missing, append(k, "cloud_usd_per_hour"), "cost.pricing is \"cloud\" but %s has no cloud price: set one here", spec.Name)
	}
	var nodes []Node
	for i := range max(groupSize(g), 0) {
		n := Node{Name: g.Name, Group: g.Name, Hardware: hw, Profile: prof, DynamicMemory: dynamic,
			BudgetBytes: budget, Sharing: sharing, Interference: interference, Instances: slices.Clone(insts),
			Power: pm, HostW: spec.HostPowerW, Thermal: rc, Governor: gov, PriceUSD: price, CloudUSDPerHour: cloud,
			Devices: spec.Devices, Link: spec.Link}
		if spec.Type {
			n.NodeType = spec.Name
		}
		if groupSize(g) > 1 {
			n.Name = fmt.Sprintf("%s-%d", g.Name, i)
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// place resolves a node group's instances and gives each its memory: a
// share of the device under static sharing (each share must hold the
// weights and one KV block, and the shares the engines' fraction), the
// node's whole budget under dynamic sharing (which must hold all the
// weights).
//
// Under MIG (mig true) each instance's memory is its partition's, which
// shareDevice gives and checks, so place checks no shares.
func (r *resolver) place(k []string, g NodeGroup, hw catalog.Hardware, prof perf.Profile, index map[string]int, models []Model, fraction, budget float64, dynamic, mig bool) []NodeInstance {
	var insts []NodeInstance
	var shareSum, weightSum float64
	for ii, in := range g.Instances {
		ik := append(append([]string(nil), k...), "instances", tomlcheck.Index(ii))
		inst, ok := r.instance(ik, in, index, models, hw, prof)
		if !ok {
			continue
		}
		inst.src = ii
		weightSum += inst.WeightBytes
		share := in.MemoryFraction
		if share == 0 {
			share = fraction / float64(len(g.Instances))
		}
		if !(share > 0 && share <= 1) {
			r.noFit(append(ik, "memory_fraction"), "must be in (0, 1], got %v", in.MemoryFraction)
		}
		shareSum += share
		inst.BudgetBytes = hw.UsableMemoryBytes() * share
		if dynamic {
			inst.BudgetBytes = budget
			if in.MemoryFraction != 0 {
				r.noFit(append(ik, "memory_fraction"), "only allowed with memory = \"static\": dynamic sharing has one pool")
			}
		} else if need := inst.WeightBytes + inst.KVBlockBytes(); need > inst.BudgetBytes && !mig {
			r.noFit(append(ik, "memory_fraction"), "%s weights (%s) and one KV block do not fit the instance's %s (%.3g of %s): short by %s",
				inst.Deploy.Model.Name, gib(inst.WeightBytes), gib(inst.BudgetBytes), share, gib(hw.UsableMemoryBytes()), gib(need-inst.BudgetBytes))
		}
		insts = append(insts, inst)
	}
	if !dynamic && !mig && shareSum > fraction*(1+1e-9) {
		r.noFit(append(k, "instances"), "instances take %.3g of %s's memory, more than the engines' %.3g", shareSum, hw.Name, fraction)
	}
	if dynamic && weightSum > budget {
		r.noFit(append(k, "instances"), "weights of the instances (%s) exceed %s's %s budget by %s", gib(weightSum), hw.Name, gib(budget), gib(weightSum-budget))
	}
	return insts
}

// instance resolves one instance's model, weights and KV cache and applies
// the engine's defaults to its batch bounds; false means it cannot be
// placed (the reason is reported, or was under [models]).
func (r *resolver) instance(k []string, in Instance, index map[string]int, models []Model, hw catalog.Hardware, prof perf.Profile) (NodeInstance, bool) {
	mi, ok := index[in.Model]
	if !ok {
		valid := make([]string, 0, len(index))
		for n := range index {
			valid = append(valid, n)
		}
		slices.Sort(valid)
		r.AddKind(tomlcheck.NotFound, append(k, "model"), "no served model %q in [models]; valid: %s", in.Model, strings.Join(valid, ", "))
		return NodeInstance{}, false
	}
	m := models[mi].Catalog
	if m.Name == "" {
		return NodeInstance{}, false // its unknown catalog model is reported under [models]
	}
	// A release that quantizes only its experts (gpt-oss's MXFP4) keeps
	// the rest in another format, which may depend on the engine's loader.
	quant, experts, err := r.cat.WeightFormats(m, in.Quant, prof.Engine)
	if err != nil {
		r.AddKind(tomlcheck.NotFound, append(k, "quant"), "%v", err)
		return NodeInstance{}, false
	}
	kvName := in.KVCache
	if kvName == "" {
		kvName = "fp16"
	}
	kv, err := r.cat.KVType(kvName)
	if err != nil {
		r.AddKind(tomlcheck.NotFound, append(k, "kv_cache"), "%v", err)
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
	applyDefaults(&inst, in, hw, prof)
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
			r.AddKind(tomlcheck.OutOfRange, append(k, c.f), "must be at least 1, got %d", c.v)
		} else if c.v > c.hi {
			r.AddKind(tomlcheck.OutOfRange, append(k, c.f), "must be at most %d, got %d", c.hi, c.v)
		}
	}
	if experts != quant {
		inst.Deploy.Experts = experts
	}
	// On one device: scenario/parallel.go adds what a layout replicates.
	inst.WeightBytes = inst.Deploy.WeightBytes()
	if in.Speculative != nil { // scenario/speculative.go: the drafter's weights count in the instance's memory
		if inst.Deploy.Speculative, ok = r.speculative(k, in.Speculative, inst.Deploy); !ok {
			return NodeInstance{}, false
		}
		inst.WeightBytes += inst.Deploy.Speculative.WeightBytes(inst.Deploy)
	}
	return inst, true
}

// applyDefaults fills the batch bounds the instance leaves unset. A
// profile with a [serving] table models the engine as it runs, so the
// engine's own defaults on the device apply (perf.DefaultsFor: vLLM's 1024
// sequences and 8192 tokens on an H100, SGLang's, TensorRT-LLM's); a
// profile of GPU steps alone keeps the twin's historical defaults, so
// scenarios resolved against it do not change.
func applyDefaults(inst *NodeInstance, in Instance, hw catalog.Hardware, prof perf.Profile) {
	if d, ok := perf.DefaultsFor(prof.Engine, hw.Name, hw.MemoryGiB); ok && prof.Serving != nil {
		if inst.MaxSeqs == 0 {
			inst.MaxSeqs = d.MaxSeqs
		}
		if inst.MaxBatchedTokens == 0 {
			inst.MaxBatchedTokens = d.MaxBatchedTokens
		}
		if inst.BlockTokens == 0 {
			inst.BlockTokens = d.BlockTokens
		}
		if in.ChunkedPrefill == nil {
			inst.ChunkedPrefill = d.ChunkedPrefill
		}
		return
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
}

// defaultMaxSeqs is the running-batch bound of profiles without a
// [serving] table (the twin's defaults before perf.DefaultsFor).
func defaultMaxSeqs(engine string) int {
	switch engine {
	case "llama.cpp", "ollama":
		return 4 // llama-server --parallel and OLLAMA_NUM_PARALLEL defaults
	default:
		return 256 // vLLM max_num_seqs, SGLang, TensorRT-LLM
	}
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
			r.AddKind(tomlcheck.OutOfRange, append(k, "power_cap_w"), "must be above the idle power (%.0f W) and at most %s's power limit (%.0f W), got %v",
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
			r.AddKind(tomlcheck.OutOfRange, append(k, "thermal_resistance_c_per_w"), "must be in (0, 10) C/W, got %v", g.ThermalResistanceCPerW)
		}
		rc.ResistanceCPerW = g.ThermalResistanceCPerW // the heat sink's capacity stays
	}
	if g.AmbientC != 0 {
		if !(g.AmbientC > -50 && g.AmbientC < 80) {
			r.AddKind(tomlcheck.OutOfRange, append(k, "ambient_c"), "must be between -50 and 80 C, got %v", g.AmbientC)
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
	for _, p := range []struct {
		v, hi float64
		f     string
	}{{g.PriceUSD, MaxPriceUSD, "price_usd"}, {g.CloudUSDPerHour, MaxCloudUSDPerHour, "cloud_usd_per_hour"}} {
		if p.v < 0 {
			r.AddKind(tomlcheck.OutOfRange, append(k, p.f), "must not be negative, got %v", p.v)
		} else if p.v > p.hi {
			r.AddKind(tomlcheck.OutOfRange, append(k, p.f), "must be at most %.0e, got %v", p.hi, p.v)
		}
	}
	return pm, rc, gov
}

func gib(b float64) string { return fmt.Sprintf("%.2f GiB", b/(1<<30)) }
