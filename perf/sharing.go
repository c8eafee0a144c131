package perf

import (
	"github.com/BurntSushi/toml"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Sharing holds the coefficients of how co-located instances share a
// device (the simulator's sharing modes, docs/simulator.md "Sharing a
// device"): the [sharing] table of a profile. A profile without the table
// uses DefaultSharing, and a table that leaves a key out takes that key
// from it, so a fit can write only what it fitted.
type Sharing struct {
	// TimeSliceS is how long the GPU runs one process's context before it
	// switches to the next busy one under time-slicing (seconds). It is a
	// driver setting (nvidia-smi compute-policy --set-timeslice), not a
	// fit: the twin reads only SwitchS / TimeSliceS, the share of GPU time
	// lost to switches while two or more processes want it.
	TimeSliceS float64 `toml:"time_slice_s"`
	// SwitchS is the GPU time one context switch costs (seconds): saving
	// the running context's state and restoring the next one's, during
	// which no kernel runs.
	SwitchS float64 `toml:"switch_s"`
	// SwitchSStdErr is SwitchS's standard error; 0 = not fitted.
	SwitchSStdErr float64 `toml:"switch_s_stderr" tomlcheck:"nonfinite"`
	// MPSMemoryContention (κ, in [0, 1]) is how far the memory demands of
	// kernels running at once under MPS add up: the joint memory term is
	// max m + κ × (Σ m − max m). 1 is additive (each byte stream takes its
	// whole share of bandwidth, the rule before sharing modes); below 1
	// concurrent memory-bound kernels overlap in bandwidth one alone does
	// not use (small decode batches leave DRAM idle between dependent
	// reads).
	MPSMemoryContention float64 `toml:"mps_memory_contention"`
	// MPSMemoryContentionStdErr is its standard error; 0 = not fitted.
	MPSMemoryContentionStdErr float64 `toml:"mps_memory_contention_stderr" tomlcheck:"nonfinite"`
	// MPSComputeContention (κ_c, in [0, 1]) is the same for the tensor
	// cores: the joint compute term is max c + κ_c × (Σ c − max c). A
	// step's compute demand is its FLOPs at the fitted efficiency, well
	// below peak (tail waves, occupancy, the launch gaps between kernels),
	// and another process's kernels fill some of what one leaves idle. 1
	// (additive) is the rule before sharing modes; the published MPS case
	// (TTFT p50 +1.4% with two instances under load) is the evidence a fit
	// would set it from.
	MPSComputeContention float64 `toml:"mps_compute_contention"`
	// MPSComputeContentionStdErr is its standard error; 0 = not fitted.
	MPSComputeContentionStdErr float64 `toml:"mps_compute_contention_stderr" tomlcheck:"nonfinite"`
	// Source says what the coefficients were fitted on, or "prior: ..."
	// and why where they were not.
	Source string `toml:"source,omitempty"`
}

// The priors of DefaultSharing. Their sources are in docs/performance-model.md
// ("Sharing a device").
const (
	// priorTimeSliceS: nvidia-smi compute-policy --set-timeslice offers
	// SHORT = 2 ms, MEDIUM = 10 ms, LONG = 30 ms
	// (https://redhat-ai-services.github.io/etx-serving-at-scale/modules/module-02-timeslicing.html);
	// the length of its DEFAULT is not documented
	// (https://dra-driver-nvidia-gpu.sigs.k8s.io/docs/guides/time-slicing/
	// calls it "the NVIDIA GPU driver's built-in default interval"), and
	// NVIDIA's Tegra driver defaults to 1.024 ms per channel group
	// (NVGPU_TSG_TIMESLICE_DEFAULT_US, nvidia-mirror/linux-nvgpu
	// drivers/gpu/nvgpu/include/nvgpu/tsg.h). 2 ms is the order of both.
	priorTimeSliceS = 0.002
	// priorSwitchS: no published measurement of a CUDA context switch
	// between processes was found. Compute preemption saves and restores
	// each SM's registers and shared memory (about 63 MB on an H100: 132
	// SMs × (256 KB + 228 KB)), which at HBM bandwidth is about 40 µs; the
	// same driver header notes that "time spent switching a context into
	// an engine is not part of the runlist timeslice", so the switch adds
	// to the slice.
	priorSwitchS = 50e-6
	// priorMPSMemoryContention: 1, the additive rule every co-located
	// instance had before sharing modes, so a CPU host (mps by default)
	// keeps its calibrated numbers. The one published MPS measurement
	// (two vLLM Qwen3-4B FP8 on one A100: TPOT p50 +19.5%) suggests about
	// a third, which a fit is to establish.
	priorMPSMemoryContention = 1
	// priorMPSComputeContention: 1 too, for the same reason.
	priorMPSComputeContention = 1
)

// DefaultSharing is the sharing coefficients of a profile with no
// [sharing] table: priors, none fitted.
func DefaultSharing() Sharing {
	return Sharing{
		TimeSliceS:           priorTimeSliceS,
		SwitchS:              priorSwitchS,
		MPSMemoryContention:  priorMPSMemoryContention,
		MPSComputeContention: priorMPSComputeContention,
		Source: "prior: time_slice_s nvidia-smi's short slice (the default's length is undocumented); " +
			"switch_s an estimate of saving and restoring the SMs' state at memory bandwidth; " +
			"mps_memory_contention and mps_compute_contention 1 (additive, the rule before sharing modes); none fitted",
	}
}

// OrDefault returns s, or DefaultSharing where s is nil.
func (s *Sharing) OrDefault() Sharing {
	if s == nil {
		return DefaultSharing()
	}
	return *s
}

// SwitchShare is the share of GPU time a process pays for context
// switches while others want the GPU: switch_s / time_slice_s.
func (s Sharing) SwitchShare() float64 {
	if s.TimeSliceS <= 0 {
		return 0
	}
	return s.SwitchS / s.TimeSliceS
}

// Bounds on the sharing coefficients: no driver slices the GPU for more
// than a second, and a switch that costs as much as its slice leaves no
// time to compute.
const (
	maxTimeSliceS = 1.0
)

// check fills the keys the table leaves out from DefaultSharing and bounds
// the rest, reporting to errs as OutOfRange.
func (s *Sharing) check(md toml.MetaData, errs *tomlcheck.Errors) {
	def := DefaultSharing()
	if !md.IsDefined("sharing", "time_slice_s") {
		s.TimeSliceS = def.TimeSliceS
	}
	if !md.IsDefined("sharing", "switch_s") {
		s.SwitchS = def.SwitchS
	}
	if !md.IsDefined("sharing", "mps_memory_contention") {
		s.MPSMemoryContention = def.MPSMemoryContention
	}
	if !md.IsDefined("sharing", "mps_compute_contention") {
		s.MPSComputeContention = def.MPSComputeContention
	}
	key := func(k string) []string { return []string{"sharing", k} }
	if !(s.TimeSliceS > 0 && s.TimeSliceS <= maxTimeSliceS) {
		errs.AddKind(tomlcheck.OutOfRange, key("time_slice_s"), "must be in (0, %g] seconds, got %v", maxTimeSliceS, s.TimeSliceS)
	}
	hi := min(s.TimeSliceS, maxTimeSliceS)
	if !(s.SwitchS >= 0 && (s.SwitchS < hi || !(s.TimeSliceS > 0))) {
		errs.AddKind(tomlcheck.OutOfRange, key("switch_s"), "must be in [0, time_slice_s = %g) seconds, got %v", hi, s.SwitchS)
	}
	for _, k := range []struct {
		name string
		v    float64
	}{{"mps_memory_contention", s.MPSMemoryContention}, {"mps_compute_contention", s.MPSComputeContention}} {
		if !(k.v >= 0 && k.v <= 1) {
			errs.AddKind(tomlcheck.OutOfRange, key(k.name), "must be in [0, 1] (1 = additive), got %v", k.v)
		}
	}
	for _, se := range []struct {
		name string
		v    float64
	}{{"switch_s_stderr", s.SwitchSStdErr}, {"mps_memory_contention_stderr", s.MPSMemoryContentionStdErr},
		{"mps_compute_contention_stderr", s.MPSComputeContentionStdErr}} {
		if se.v < 0 {
			errs.AddKind(tomlcheck.OutOfRange, key(se.name), "a standard error must not be negative, got %v", se.v)
		}
	}
}
