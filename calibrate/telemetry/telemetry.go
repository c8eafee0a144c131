// Package telemetry samples the accelerator while a calibration runs:
// NVIDIA GPUs through NVML (github.com/NVIDIA/go-nvml, which loads
// libnvidia-ml at run time), or, where there is no NVIDIA driver, the host
// (CPU utilization from /proc/stat, RAPL energy from /sys/class/powercap,
// temperatures from /sys/class/thermal, memory from /proc/meminfo), so a
// CPU run still has a telemetry track.
package telemetry

import (
	"context"
	"fmt"
	"time"
)

// Sample is one reading of one device. Fields a source cannot read are
// NaN-free zeros with the matching Has bit unset, so the JSON stays plain.
type Sample struct {
	T      time.Time `json:"t"`
	Device string    `json:"device"` // "gpu0", "host"
	// UtilPct is the share of the last interval a kernel ran (nvidia-smi's
	// GPU utilization) or, on the host, the CPU busy share.
	UtilPct     float64 `json:"util_pct"`
	MemUtilPct  float64 `json:"mem_util_pct,omitempty"` // memory-controller busy share (NVML)
	PowerW      float64 `json:"power_w,omitempty"`
	EnergyJ     float64 `json:"energy_j,omitempty"` // cumulative, from the source's own counter
	TempC       float64 `json:"temp_c,omitempty"`
	SMClockMHz  float64 `json:"sm_clock_mhz,omitempty"`
	MemClockMHz float64 `json:"mem_clock_mhz,omitempty"`
	// ThrottleReasons is NVML's clock-event reasons bit mask; Throttled is
	// true when any reason other than idle or application settings holds.
	ThrottleReasons uint64 `json:"throttle_reasons,omitempty"`
	Throttled       bool   `json:"throttled,omitempty"`
	MemUsedBytes    uint64 `json:"mem_used_bytes,omitempty"`
	MemTotalBytes   uint64 `json:"mem_total_bytes,omitempty"`
	Has             Fields `json:"has"`
}

// Fields says which readings a sample holds.
type Fields struct {
	Power, Energy, Temp, Clocks, Memory bool
}

// Source reads all its devices at once.
type Source interface {
	Name() string
	Read(now time.Time) ([]Sample, error)
	Close() error
}

// Open returns the best source available: NVML when a driver is present,
// the host otherwise. note says which, and why, in one line for the log.
func Open() (src Source, note string) {
	if s, err := openNVML(); err == nil {
		return s, "telemetry: NVML, " + s.Name()
	} else {
		return openHost(), "telemetry: " + err.Error() + "; sampling the host instead (CPU utilization, RAPL power where readable, thermal zones)"
	}
}

// Run reads src every interval until ctx ends and hands each sample to
// sink. Read errors are reported to onErr (once per distinct message) and
// sampling goes on.
func Run(ctx context.Context, src Source, every time.Duration, sink func(Sample), onErr func(error)) {
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
