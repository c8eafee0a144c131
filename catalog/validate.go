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
}
