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
}

// Units is ComputeUnits with its default.
func (h Hardware) Units() int { return max(h.ComputeUnits, 1) }

// UsableMemoryBytes is the memory engines can allocate.
func (h Hardware) UsableMemoryBytes() float64 { return h.UsableMemoryGiB * (1 << 30) }

// BandwidthBytesPerSecond is the peak memory bandwidth.
func (h Hardware) BandwidthBytesPerSecond() float64 { return h.MemoryBandwidthGBs * 1e9 }

// FLOPS returns the dense tensor-core peak for a compute dtype in FLOP/s.
// A dtype the device lacks (FP4 on Hopper, say) falls back to the next wider
// one the device has, the way engines run such formats.
func (h Hardware) FLOPS(dtype string) float64 {
	order := map[string][]float64{
		"fp4":  {h.TFLOPSFP4, h.TFLOPSFP8, h.TFLOPSBF16},
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
