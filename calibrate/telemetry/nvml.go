//go:build cgo && !nonvml

package telemetry

import (
	"errors"
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// The reason bits telemetry.go repeats must be NVML's: a negative array
// length stops the build if one drifts.
var (
	_ [1 - 2*int((ReasonSwPowerCap^nvml.ClocksEventReasonSwPowerCap)|
		(ReasonHwSlowdown^nvml.ClocksThrottleReasonHwSlowdown)|
		(ReasonSwThermalSlowdown^nvml.ClocksEventReasonSwThermalSlowdown)|
		(ReasonHwThermalSlowdown^nvml.ClocksThrottleReasonHwThermalSlowdown)|
		(ReasonHwPowerBrake^nvml.ClocksThrottleReasonHwPowerBrakeSlowdown))]struct{}
)

// nvmlSource reads every GPU NVML sees, through an nvml.Interface so tests
// can hand it go-nvml's mock; the real one is nvml.New().
type nvmlSource struct {
	lib     nvml.Interface
	devices []nvml.Device
	index   []int // NVML's index of each device, for its name gpuN
	names   []string
	// host backs memory readings on GB10 (DGX Spark), whose unified memory
	// NVML does not report.
	host *hostSource
}

// openNVML opens the real library (libnvidia-ml, loaded at run time).
func openNVML() (Source, error) {
	s, err := newNVML(nvml.New(), openHost())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// newNVML initializes lib and takes a handle on each device. host is
// where a unified-memory device's memory is read.
func newNVML(lib nvml.Interface, host *hostSource) (*nvmlSource, error) {
	if ret := lib.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, errors.New("no NVIDIA driver (libnvidia-ml not found)")
		}
		return nil, fmt.Errorf("NVML init: %v", ret)
	}
	n, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS || n == 0 {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML: no devices (%v)", ret)
	}
	s := &nvmlSource{lib: lib, host: host}
	var skipped []error
	for i := range n {
		d, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			skipped = append(skipped, fmt.Errorf("gpu%d: %v", i, ret))
			continue
		}
		name, _ := d.GetName()
		s.devices = append(s.devices, d)
		s.index = append(s.index, i)
		s.names = append(s.names, name)
	}
	if len(s.devices) == 0 {
		lib.Shutdown()
		return nil, fmt.Errorf("NVML: no device handle: %w", errors.Join(skipped...))
	}
	return s, nil
}

func (s *nvmlSource) Name() string { return fmt.Sprintf("%d device(s): %v", len(s.devices), s.names) }

func (s *nvmlSource) Close() error {
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML shutdown: %v", ret)
	}
	return nil
}

// Read takes one sample of each device. Each reading stands alone: a
// device that cannot report one (a GB10's memory clock and memory, a
// driver without energy counters) still reports the rest. Only a failed
// utilization read is an error, as every device should have one.
func (s *nvmlSource) Read(now time.Time) ([]Sample, error) {
	out := make([]Sample, 0, len(s.devices))
	var errs []error
	for i, d := range s.devices {
		x := Sample{T: now, Device: fmt.Sprintf("gpu%d", s.index[i])}
		if u, ret := d.GetUtilizationRates(); ret == nvml.SUCCESS {
			x.UtilPct, x.MemUtilPct = float64(u.Gpu), float64(u.Memory)
		} else {
			errs = append(errs, fmt.Errorf("%s utilization: %v", x.Device, ret))
		}
		if mw, ret := d.GetPowerUsage(); ret == nvml.SUCCESS {
			x.PowerW, x.Has.Power = float64(mw)/1000, true
		}
		if mj, ret := d.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
			x.EnergyJ, x.Has.Energy = float64(mj)/1000, true
		}
		if x.Has.Power || x.Has.Energy {
			x.PowerScope = PowerScopeFor(s.names[i])
		}
		if c, ret := d.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			x.TempC, x.Has.Temp = float64(c), true
		}
		if mhz, ret := d.GetClockInfo(nvml.CLOCK_SM); ret == nvml.SUCCESS {
			x.SMClockMHz, x.Has.Clocks = float64(mhz), true
		}
		if mhz, ret := d.GetClockInfo(nvml.CLOCK_MEM); ret == nvml.SUCCESS {
			x.MemClockMHz, x.Has.MemClock = float64(mhz), true
		}
		if r, ret := d.GetCurrentClocksEventReasons(); ret == nvml.SUCCESS {
			x.setReasons(r)
		}
		if m, ret := d.GetMemoryInfo(); ret == nvml.SUCCESS && m.Total > 0 {
			x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = m.Used, m.Total, true
		} else if isGB10(s.names[i]) && s.host != nil {
			// Unified memory is not NVML's to report; the host's is the
			// GPU's. A discrete card's failed read stays a gap: host RAM
			// is not its memory.
			if used, total, err := s.host.meminfo(); err == nil {
				x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = used, total, true
			}
		}
		out = append(out, x)
	}
	return out, errors.Join(errs...)
}
