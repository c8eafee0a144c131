package catalog

import (
	"math"
	"slices"

	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// validator checks the entries of one catalog file.
type validator struct {
	*tomlcheck.Errors
	md toml.MetaData
}

// required reports a missing key; it returns false if the key is absent.
func (v *validator) required(key ...string) bool {
	if v.md.IsDefined(key...) {
		return true
	}
	v.AddKind(tomlcheck.Missing, key, "required field is missing")
	return false
}

// positive checks a required number is > 0 (and finite).
func (v *validator) positive(x float64, key ...string) {
	if !v.required(key...) {
		return
	}
	if !(x > 0) || math.IsInf(x, 0) {
		v.AddKind(tomlcheck.OutOfRange, key, "must be positive, got %v", x)
	} else if x > maxValue {
		v.AddKind(tomlcheck.OutOfRange, key, "must be at most %g (no device or model comes near it), got %v", maxValue, x)
	}
}

// maxValue bounds every catalog number: the largest real one (a price, a
// bandwidth in GB/s) is below 10⁶, and products of unbounded sizes would
// overflow the parameter and memory arithmetic.
const maxValue = 1e9

// maxDim bounds a model's sizes (layers, widths, heads, experts) and
// maxVocab its vocabulary and context: 8× and more beyond any published
// model, so weights and FLOPs stay far from int64 overflow.
const (
	maxDim   = 1 << 20
	maxVocab = 1 << 24
)

// nonNegative checks an optional number is >= 0 (and finite).
func (v *validator) nonNegative(x float64, key ...string) {
	if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		v.AddKind(tomlcheck.OutOfRange, key, "must not be negative, got %v", x)
	} else if x > maxValue {
		v.AddKind(tomlcheck.OutOfRange, key, "must be at most %g (no device or model comes near it), got %v", maxValue, x)
	}
}

func (v *validator) model(m Model) {
	k := func(f string) []string { return []string{"models", m.Name, f} }
	v.positive(float64(m.Layers), k("layers")...)
	v.positive(float64(m.HiddenSize), k("hidden_size")...)
	v.positive(float64(m.AttentionHeads), k("attention_heads")...)
	v.positive(float64(m.KVHeads), k("kv_heads")...)
	v.positive(float64(m.HeadDim), k("head_dim")...)
	v.positive(float64(m.VocabSize), k("vocab_size")...)
	v.positive(float64(m.MaxPositionEmbeddings), k("max_position_embeddings")...)
	for _, d := range []struct {
		n, hi int
		f     string
	}{{m.Layers, maxDim, "layers"}, {m.HiddenSize, maxDim, "hidden_size"}, {m.AttentionHeads, maxDim, "attention_heads"},
		{m.KVHeads, maxDim, "kv_heads"}, {m.HeadDim, maxDim, "head_dim"}, {m.IntermediateSize, maxDim, "intermediate_size"},
		{m.Experts, maxDim, "experts"}, {m.ExpertsPerToken, maxDim, "experts_per_token"}, {m.ExpertIntermediate, maxDim, "expert_intermediate_size"},
		{m.VocabSize, maxVocab, "vocab_size"}, {m.MaxPositionEmbeddings, maxVocab, "max_position_embeddings"}} {
		if d.n > d.hi {
			v.AddKind(tomlcheck.OutOfRange, k(d.f), "must be at most %d, got %d", d.hi, d.n)
		}
	}
	v.nonNegative(m.RopeTheta, k("rope_theta")...)
	v.nonNegative(m.RMSNormEps, k("rms_norm_eps")...)
	v.window(m)
	v.native(m)
	v.vision(m)
	if m.KVHeads > 0 && m.AttentionHeads > 0 && m.AttentionHeads%m.KVHeads != 0 {
		v.Add(k("kv_heads"), "must divide attention_heads (%d), got %d", m.AttentionHeads, m.KVHeads)
	}
	if m.Experts == 0 {
		v.positive(float64(m.IntermediateSize), k("intermediate_size")...)
		for _, f := range []string{"experts_per_token", "expert_intermediate_size"} {
			if v.md.IsDefined(k(f)...) {
				v.Add(k(f), "only allowed with experts > 0")
			}
		}
		return
	}
	v.nonNegative(float64(m.IntermediateSize), k("intermediate_size")...)
	v.positive(float64(m.Experts), k("experts")...)
	v.positive(float64(m.ExpertsPerToken), k("experts_per_token")...)
	v.positive(float64(m.ExpertIntermediate), k("expert_intermediate_size")...)
	if m.ExpertsPerToken > m.Experts {
		v.Add(k("experts_per_token"), "must not exceed experts (%d), got %d", m.Experts, m.ExpertsPerToken)
	}
}

func (v *validator) format(f Format) {
	k := func(n string) []string { return []string{"formats", f.Name, n} }
	v.positive(f.BitsPerWeight, k("bits_per_weight")...)
	if f.BitsPerWeight > 64 {
		v.Add(k("bits_per_weight"), "must be at most 64, got %v", f.BitsPerWeight)
	}
	v.dtype(f.Compute, k("compute"))
}

func (v *validator) kvType(t KVType) {
	k := func(n string) []string { return []string{"kv_types", t.Name, n} }
	v.positive(t.Bits, k("bits")...)
	if t.Bits > 64 {
		v.Add(k("bits"), "must be at most 64, got %v", t.Bits)
	}
	v.dtype(t.Compute, k("compute"))
}

func (v *validator) dtype(d string, key []string) {
	if !v.required(key...) {
		return
	}
	if !slices.Contains(computeDtypes, d) {
		v.Add(key, "unknown compute dtype %q; valid: %v", d, computeDtypes)
	}
}

func (v *validator) hardware(h Hardware) {
	k := func(n string) []string { return []string{"hardware", h.Name, n} }
	v.positive(h.UsableMemoryGiB, k("usable_memory_gib")...)
	v.positive(h.MemoryBandwidthGBs, k("memory_bandwidth_gbs")...)
	v.positive(h.TFLOPSBF16, k("tflops_bf16")...)
	v.positive(h.PowerLimitW, k("power_limit_w")...)
	for _, f := range []struct {
		x    float64
		name string
	}{
		{h.MemoryGiB, "memory_gib"}, {float64(h.SMs), "sms"}, {float64(h.ComputeUnits), "compute_units"}, {h.MeasuredTFLOPSBF16, "measured_tflops_bf16"},
		{h.TFLOPSFP8, "tflops_fp8"}, {h.TFLOPSInt8, "tflops_int8"}, {h.TFLOPSFP4, "tflops_fp4"},
		{h.SupplyW, "supply_w"}, {h.IdlePowerW, "idle_power_w"}, {h.SlowdownTempC, "slowdown_temp_c"},
		{h.ShutdownTempC, "shutdown_temp_c"}, {h.PriceUSD, "price_usd"}, {h.CloudUSDPerHour, "cloud_usd_per_hour"},
		{h.BusyPowerW, "busy_power_w"}, {h.ComputePowerW, "compute_power_w"}, {h.MemoryPowerW, "memory_power_w"}, {h.HostPowerW, "host_power_w"},
		{h.ThermalResistanceCPerW, "thermal_resistance_c_per_w"}, {h.ThermalTimeConstantS, "thermal_time_constant_s"},
	} {
		v.nonNegative(f.x, k(f.name)...)
	}
	if h.MemoryGiB > 0 && h.UsableMemoryGiB > h.MemoryGiB {
		v.Add(k("usable_memory_gib"), "exceeds memory_gib (%v GiB), got %v GiB", h.MemoryGiB, h.UsableMemoryGiB)
	}
	if h.IdlePowerW >= h.PowerLimitW && h.PowerLimitW > 0 {
		v.Add(k("idle_power_w"), "must be below power_limit_w (%v W), got %v W", h.PowerLimitW, h.IdlePowerW)
	}
	if h.ShutdownTempC > 0 && h.SlowdownTempC > h.ShutdownTempC {
		v.Add(k("slowdown_temp_c"), "must not exceed shutdown_temp_c (%v C), got %v C", h.ShutdownTempC, h.SlowdownTempC)
	}
	if h.MeasuredTFLOPSBF16 > h.TFLOPSBF16 {
		v.Add(k("measured_tflops_bf16"), "must not exceed tflops_bf16 (%v), got %v", h.TFLOPSBF16, h.MeasuredTFLOPSBF16)
	}
	v.mig(h, k)
}

// maxMIGSlices bounds a device's MIG slices: every MIG device so far has 7
// GPU slices and 8 memory slices (4 and 4 on the RTX PRO 6000), and a small
// bound keeps a profile's max_count × slices far from overflow.
const maxMIGSlices = 64

// mig checks a device's MIG partitions. The scenario adds up the slices of
// a node's partitions and computes on each partition as Partition makes
// it, trusting every profile: so each must be a whole row (positive
// fields), fit the device (its slices within the device's, its SMs and
// memory within the whole device's), and max_count of it must fit at once.
// Partition scales the peaks by the share of SMs, so a device with
// partitions must give its own sms.
func (v *validator) mig(h Hardware, k func(string) []string) {
	totals := []struct {
		n int
		f string
	}{{h.MIGComputeSlices, "mig_compute_slices"}, {h.MIGMemorySlices, "mig_memory_slices"}}
	if len(h.MIG) == 0 {
		for _, t := range totals {
			if v.md.IsDefined(k(t.f)...) {
				v.Add(k(t.f), "only allowed with MIG partitions ([[hardware.%s.mig]])", h.Name)
			}
		}
		return
	}
	for _, t := range totals {
		if !v.md.IsDefined(k(t.f)...) {
			v.AddKind(tomlcheck.Missing, k(t.f), "required with MIG partitions: the slices they take are out of it")
		} else if t.n < 1 || t.n > maxMIGSlices {
			v.AddKind(tomlcheck.OutOfRange, k(t.f), "must be in [1, %d], got %d", maxMIGSlices, t.n)
		}
	}
	if h.SMs < 1 {
		v.AddKind(tomlcheck.Missing, k("sms"), "required with MIG partitions: a partition's tensor peaks scale by its share of the SMs")
	}
	memory, memoryKey := h.MemoryGiB, "memory_gib"
	if memory <= 0 {
		memory, memoryKey = h.UsableMemoryGiB, "usable_memory_gib"
	}
	seen := map[string]bool{}
	for i, p := range h.MIG {
		pk := func(f string) []string { return append(k("mig"), tomlcheck.Index(i), f) }
		switch {
		case p.Name == "":
			v.AddKind(tomlcheck.Missing, pk("name"), "required field is missing")
		case seen[p.Name]:
			v.Add(pk("name"), "duplicate MIG profile %q", p.Name)
		}
		seen[p.Name] = true
		for _, f := range []struct {
			n, total int
			f, of    string
		}{{p.ComputeSlices, h.MIGComputeSlices, "compute_slices", "mig_compute_slices"}, {p.MemorySlices, h.MIGMemorySlices, "memory_slices", "mig_memory_slices"},
			{p.SMs, h.SMs, "sms", "sms"}, {p.MaxCount, h.MIGComputeSlices, "max_count", "mig_compute_slices"}} {
			switch {
			case f.n < 1:
				v.AddKind(tomlcheck.OutOfRange, pk(f.f), "must be positive, got %d", f.n)
			case f.total > 0 && f.n > f.total:
				v.AddKind(tomlcheck.OutOfRange, pk(f.f), "must not exceed the device's %s (%d), got %d", f.of, f.total, f.n)
			}
		}
		if !(p.MemoryGiB > 0) || math.IsInf(p.MemoryGiB, 0) {
			v.AddKind(tomlcheck.OutOfRange, pk("memory_gib"), "must be positive, got %v", p.MemoryGiB)
		} else if memory > 0 && p.MemoryGiB > memory {
			v.AddKind(tomlcheck.OutOfRange, pk("memory_gib"), "must not exceed the device's %s (%v GiB), got %v GiB", memoryKey, memory, p.MemoryGiB)
		}
		// max_count is at most the GPU slices (checked above), so the
		// products stay small.
		if p.MaxCount >= 1 && p.MaxCount <= h.MIGComputeSlices && p.ComputeSlices >= 1 && p.MemorySlices >= 1 &&
			(p.MaxCount*p.ComputeSlices > h.MIGComputeSlices || p.MaxCount*p.MemorySlices > h.MIGMemorySlices) {
			v.Add(pk("max_count"), "%d × %s takes %d of %d GPU slices and %d of %d memory slices: more than the device has",
				p.MaxCount, p.Name, p.MaxCount*p.ComputeSlices, h.MIGComputeSlices, p.MaxCount*p.MemorySlices, h.MIGMemorySlices)
		}
	}
}
