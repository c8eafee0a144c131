package catalog

import "math"

// Hardware is one accelerator (or, for unified-memory boxes like the DGX
// Spark, the whole box) as its datasheet describes it.
type Hardware struct {
	Name               string  `toml:"-"`
	DisplayName        string  `toml:"display_name"`
	MemoryGiB          float64 `toml:"memory_gib"` // nominal: vendors write "GB" for binary sizes
	UsableMemoryGiB    float64 `toml:"usable_memory_gib"`
	UnifiedMemory      bool    `toml:"unified_memory"`
	MemoryBandwidthGBs float64 `toml:"memory_bandwidth_gbs"`
	SMs                int     `toml:"sms"`
	// ComputeUnits is how many co-located instances can compute without
	// sharing: 1 for a GPU, whose SMs every process shares; the number of
	// cores on a CPU whose servers are each pinned to their own. Memory
	// bandwidth is shared either way. Optional; 0 means 1.
	ComputeUnits       int     `toml:"compute_units"`
	TFLOPSBF16         float64 `toml:"tflops_bf16"`
	MeasuredTFLOPSBF16 float64 `toml:"measured_tflops_bf16"`
	TFLOPSFP8          float64 `toml:"tflops_fp8"`
	TFLOPSInt8         float64 `toml:"tflops_int8"`
	TFLOPSFP4          float64 `toml:"tflops_fp4"`
	PowerLimitW        float64 `toml:"power_limit_w"`
	SupplyW            float64 `toml:"supply_w"`
	IdlePowerW         float64 `toml:"idle_power_w"`
	SlowdownTempC      float64 `toml:"slowdown_temp_c"`
	ShutdownTempC      float64 `toml:"shutdown_temp_c"`
	PriceUSD           float64 `toml:"price_usd"`
	CloudUSDPerHour    float64 `toml:"cloud_usd_per_hour"`

	// The power and thermal model (package power). All optional: 0 means
	// the default the methods below derive from the datasheet figures.
	BusyPowerW             float64 `toml:"busy_power_w"`               // dynamic W while a kernel runs, whatever it does
	ComputePowerW          float64 `toml:"compute_power_w"`            // dynamic W at 100% of peak FLOP/s
	MemoryPowerW           float64 `toml:"memory_power_w"`             // dynamic W at 100% of peak bandwidth
	HostPowerW             float64 `toml:"host_power_w"`               // the node's share not in the device: CPU, NIC, fans, PSU loss
	ThermalResistanceCPerW float64 `toml:"thermal_resistance_c_per_w"` // heat sink to ambient
	ThermalTimeConstantS   float64 `toml:"thermal_time_constant_s"`

	// MIG lists the Multi-Instance GPU partitions the device offers (none:
	// the device has no MIG), out of MIGComputeSlices GPU slices and
	// MIGMemorySlices memory slices.
	MIG              []MIGProfile `toml:"mig,omitempty"`
	MIGComputeSlices int          `toml:"mig_compute_slices,omitempty"`
	MIGMemorySlices  int          `toml:"mig_memory_slices,omitempty"`
}

// Default power and thermal figures, for hardware whose entry gives none.
// A busy device draws a quarter of its dynamic range, dense GEMMs at full
// peak add the whole range (the cap binds, as it does), streaming at full
// bandwidth adds 30%; the cooling keeps a device at its power limit 10 C below its
// slowdown temperature in a 25 C room.
const (
	defaultBusyPowerShare    = 0.25
	defaultComputePowerShare = 1.0
	defaultMemoryPowerShare  = 0.3
	defaultThermalTauS       = 120
)

// DynamicPowerW returns the dynamic power while a kernel runs at full
// clock (SMs active, whatever the work), at full compute and at full
// bandwidth.
func (h Hardware) DynamicPowerW() (busy, compute, memory float64) {
	span := h.PowerLimitW - h.IdlePowerW
	busy, compute, memory = h.BusyPowerW, h.ComputePowerW, h.MemoryPowerW
	if busy == 0 {
		busy = defaultBusyPowerShare * span
	}
	if compute == 0 {
		compute = defaultComputePowerShare * span
	}
	if memory == 0 {
		memory = defaultMemoryPowerShare * span
	}
	return busy, compute, memory
}

// ThermalResistance is the heat sink's resistance to ambient in C per W.
func (h Hardware) ThermalResistance() float64 {
	if h.ThermalResistanceCPerW > 0 {
		return h.ThermalResistanceCPerW
	}
	if h.SlowdownTempC > 0 && h.PowerLimitW > 0 {
		return max(h.SlowdownTempC-10-25, 1) / h.PowerLimitW
	}
	return 0.1
}

// ThermalTimeConstant is the heat sink's time constant in seconds.
func (h Hardware) ThermalTimeConstant() float64 {
	if h.ThermalTimeConstantS > 0 {
		return h.ThermalTimeConstantS
	}
	return defaultThermalTauS
}

// Units is ComputeUnits with its default.
func (h Hardware) Units() int { return max(h.ComputeUnits, 1) }

// UsableMemoryBytes is the memory engines can allocate.
func (h Hardware) UsableMemoryBytes() float64 { return h.UsableMemoryGiB * (1 << 30) }

// BandwidthBytesPerSecond is the peak memory bandwidth.
func (h Hardware) BandwidthBytesPerSecond() float64 { return h.MemoryBandwidthGBs * 1e9 }

// FLOPS returns the dense tensor-core peak for a compute dtype in FLOP/s.
// A dtype the device lacks falls back the way engines run such formats:
// FP8 to BF16, INT8 to FP8 or BF16, FP4 (on Hopper, say) to BF16.
func (h Hardware) FLOPS(dtype string) float64 {
	order := map[string][]float64{
		// FP4 weights on a device without FP4 tensor cores run as W4A16:
		// vLLM's Marlin and triton MXFP4/NVFP4 kernels dequantize to
		// 16 bits on Hopper and Ampere, not to FP8.
		"fp4":  {h.TFLOPSFP4, h.TFLOPSBF16},
		"fp8":  {h.TFLOPSFP8, h.TFLOPSBF16},
		"int8": {h.TFLOPSInt8, h.TFLOPSFP8, h.TFLOPSBF16},
		"bf16": {h.TFLOPSBF16},
	}[dtype]
	for _, t := range order {
		if t > 0 {
			return t * 1e12
		}
	}
	return math.NaN()
}

// Format is a weight storage format.
type Format struct {
	Name          string  `toml:"-"`
	BitsPerWeight float64 `toml:"bits_per_weight"` // effective, block scales included
	Compute       string  `toml:"compute"`         // tensor-core dtype: bf16, fp8, int8 or fp4
}

// KVType is a KV-cache element type.
type KVType struct {
	Name    string  `toml:"-"`
	Bits    float64 `toml:"bits"`
	Compute string  `toml:"compute"` // dtype the attention kernels run in
}

// computeDtypes are the dtypes FLOPS knows.
var computeDtypes = []string{"bf16", "fp8", "int8", "fp4"}
