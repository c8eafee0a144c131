// Package telemetry samples the accelerator while a calibration runs:
// NVIDIA GPUs through NVML (github.com/NVIDIA/go-nvml, which loads
// libnvidia-ml at run time and needs cgo), else through nvidia-smi's query
// loop (no cgo: what a static build uses on an NVIDIA machine), or, where
// there is no NVIDIA driver, the host (CPU utilization from /proc/stat, RAPL
// energy from /sys/class/powercap, temperatures from /sys/class/thermal,
// memory from /proc/meminfo), so a CPU run still has a telemetry track.
package telemetry

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Sample is one reading of one device. Fields a source cannot read are
// NaN-free zeros with the matching Has bit unset, so the JSON stays plain.
type Sample struct {
	T      time.Time `json:"t"`
	Device string    `json:"device"` // "gpu0", "host"
	// UtilPct is the share of the last interval a kernel ran (nvidia-smi's
	// GPU utilization) or, on the host, the CPU busy share.
	UtilPct    float64 `json:"util_pct"`
	MemUtilPct float64 `json:"mem_util_pct,omitempty"` // memory-controller busy share (NVML)
	PowerW     float64 `json:"power_w,omitempty"`
	EnergyJ    float64 `json:"energy_j,omitempty"` // cumulative, from the source's own counter
	// PowerScope says what PowerW and EnergyJ measure (ScopeBoard,
	// ScopeGPURail, ScopeHostRAPL): the same watts mean a different share
	// of the machine on a discrete card and on a GB10, and a power curve
	// fitted on one is not the other's. Empty in samples written before
	// scopes were recorded; Sample.Scope infers what it can.
	PowerScope  string  `json:"power_scope,omitempty"`
	TempC       float64 `json:"temp_c,omitempty"`
	SMClockMHz  float64 `json:"sm_clock_mhz,omitempty"`
	MemClockMHz float64 `json:"mem_clock_mhz,omitempty"`
	// ThrottleReasons is NVML's clock-event reasons bit mask (nvidia-smi's
	// clocks_event_reasons.active is the same mask). Throttled is true when
	// any limit cut the clocks (LimitReasons, as before the split, so old
	// run folders and new ones mean the same by it); ThermalThrottled and
	// PowerCapped say which kind: heat (ThermalReasons) or the power limit
	// (PowerReasons). Both can hold at once.
	ThrottleReasons  uint64 `json:"throttle_reasons,omitempty"`
	Throttled        bool   `json:"throttled,omitempty"`
	ThermalThrottled bool   `json:"thermal_throttled,omitempty"`
	PowerCapped      bool   `json:"power_capped,omitempty"`
	MemUsedBytes     uint64 `json:"mem_used_bytes,omitempty"`
	MemTotalBytes    uint64 `json:"mem_total_bytes,omitempty"`
	Has              Fields `json:"has"`
}

// Fields says which readings a sample holds. Clocks is the SM clock;
// MemClock the memory clock, apart because a GB10 reports the first and
// not the second (before MemClock, Clocks meant both).
type Fields struct {
	Power, Energy, Temp, Clocks, Memory, MemClock bool
}

// NVML's clock-event reason bits (nvmlClocksEventReason*), the ones that
// mean a limit cut the clocks rather than idleness or a setting. They are
// repeated here, not taken from go-nvml, because go-nvml needs cgo and the
// nvidia-smi source reports the same mask without it (nvml.go checks the
// values against go-nvml's at compile time).
const (
	ReasonSwPowerCap        uint64 = 0x04 // the power limit: software scaling
	ReasonHwSlowdown        uint64 = 0x08 // hardware slowdown, cause unsaid
	ReasonSwThermalSlowdown uint64 = 0x20 // software thermal slowdown
	ReasonHwThermalSlowdown uint64 = 0x40 // hardware thermal slowdown
	ReasonHwPowerBrake      uint64 = 0x80 // external power brake (the supply)

	// ThermalReasons mean the device was too hot. HwSlowdown is not one:
	// NVML sets it for heat, for a power brake, for fast-trigger power
	// protection and during P-state changes alike, and drivers that know
	// the cause set HwThermalSlowdown or HwPowerBrake with it. Counting it
	// as heat would put the throttle onset at whatever temperature a
	// P-state change or a power event happened at; leaving it out costs
	// little, as the software thermal slowdown engages first.
	ThermalReasons = ReasonSwThermalSlowdown | ReasonHwThermalSlowdown
	// PowerReasons mean the power limit or the supply held the clocks.
	PowerReasons = ReasonSwPowerCap | ReasonHwPowerBrake
	// LimitReasons are all of them: what Throttled has always meant.
	LimitReasons = ThermalReasons | PowerReasons | ReasonHwSlowdown
)

// setReasons records a clock-event mask and what it means.
func (s *Sample) setReasons(mask uint64) {
	s.ThrottleReasons = mask
	s.Throttled = mask&LimitReasons != 0
	s.ThermalThrottled = mask&ThermalReasons != 0
	s.PowerCapped = mask&PowerReasons != 0
}

// ThermalLimit says whether heat held the clocks in this sample. Samples
// written before the split carry only the raw mask, which still says.
func (s Sample) ThermalLimit() bool {
	return s.ThermalThrottled || s.ThrottleReasons&ThermalReasons != 0
}

// What a power reading measures. None of them is the wall socket: the twin
// adds the catalog's host_power_w on top of a device's power, so a fit on
// one of these does not count the rest of the node twice.
const (
	// ScopeBoard is a discrete card's total board power (NVML power usage,
	// nvidia-smi power.draw): GPU, its memory, regulators and the card's
	// fans; not the host CPU, its memory, NICs or the supply's loss.
	ScopeBoard = "board"
	// ScopeGPURail is the GPU's rail of a SoC (GB10, DGX Spark): NVML
	// reports it alone, without the CPU cores, the LPDDR5X the two share,
	// or the rest of the box, so it reads well under the SoC's TDP.
	ScopeGPURail = "gpu-rail"
	// ScopeHostRAPL is the CPU packages' RAPL energy counters: cores,
	// caches, uncore; not DRAM on most parts, not the platform.
	ScopeHostRAPL = "host-rapl"
)

// PowerScopeFor is the scope of NVML's power reading on a device of that
// name: the GPU rail on a GB10, the board on a discrete card.
func PowerScopeFor(name string) string {
	if isGB10(name) {
		return ScopeGPURail
	}
	return ScopeBoard
}

// isGB10 matches "NVIDIA GB10" as a word, so a later "GB100" does not.
func isGB10(name string) bool {
	for _, w := range strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		if w == "GB10" {
			return true
		}
	}
	return false
}

// Scope is the sample's power scope, inferred for samples written before
// scopes were recorded where it can be: the host source only ever read
// RAPL. An older GPU sample stays "" (a GB10's and a card's look alike).
func (s Sample) Scope() string {
	if s.PowerScope == "" && s.Device == "host" {
		return ScopeHostRAPL
	}
	return s.PowerScope
}

// Source reads all its devices at once.
type Source interface {
	Name() string
	Read(now time.Time) ([]Sample, error)
	Close() error
}

// interval is implemented by sources that sample on their own clock
// (nvidia-smi's loop): Run tells them its interval before the first tick.
type interval interface{ setInterval(time.Duration) }

// Open returns the best source available: NVML when it is compiled in and
// a driver is present, nvidia-smi when NVML is not (a cgo-free build) or
// fails and nvidia-smi answers, the host otherwise. note says which, and
// why, in one line for the log.
func Open() (src Source, note string) {
	s, err := openNVML()
	if err == nil {
		return s, "telemetry: NVML, " + s.Name()
	}
	why := err.Error()
	smi, err := openSMI(context.Background(), "nvidia-smi")
	if err == nil {
		return smi, "telemetry: " + why + "; reading nvidia-smi instead, " + smi.Name()
	}
	return openHost(), "telemetry: " + why + "; " + err.Error() + "; sampling the host instead (CPU utilization, RAPL power where readable, thermal zones)"
}

// Run reads src every interval until ctx ends and hands each sample to
// sink. Read errors are reported to onErr (once per distinct message) and
// sampling goes on.
func Run(ctx context.Context, src Source, every time.Duration, sink func(Sample), onErr func(error)) {
	if s, ok := src.(interval); ok && every > 0 {
		s.setInterval(every)
	}
	Poll(ctx, every, func(now time.Time) error {
		samples, err := src.Read(now)
		for _, s := range samples {
			sink(s)
		}
		return err
	}, onErr)
}

// Poll calls read every interval until ctx ends. An error is handed to
// onErr when it differs from the previous one, so a source that keeps
// failing the same way is reported once.
func Poll(ctx context.Context, every time.Duration, read func(now time.Time) error, onErr func(error)) {
	if every <= 0 { // time.NewTicker panics on it
		if onErr != nil {
			onErr(fmt.Errorf("not sampling: interval %v is not positive", every))
		}
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			err := read(now)
			if err != nil && ctx.Err() == nil && err.Error() != last && onErr != nil {
				last = err.Error()
				onErr(err)
			}
		}
	}
}
