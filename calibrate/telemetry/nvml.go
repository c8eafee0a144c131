package telemetry

import (
	"errors"
	"fmt"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// nvmlSource reads every GPU NVML sees.
type nvmlSource struct {
	devices []nvml.Device
	names   []string
	// host backs memory readings on GB10 (DGX Spark), whose unified memory
	// NVML does not report.
	host *hostSource
}

func openNVML() (*nvmlSource, error) {
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND {
			return nil, errors.New("no NVIDIA driver (libnvidia-ml not found)")
		}
		return nil, fmt.Errorf("NVML init: %v", nvml.ErrorString(ret))
	}
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS || n == 0 {
		nvml.Shutdown()
		return nil, fmt.Errorf("NVML: no devices (%v)", nvml.ErrorString(ret))
	}
	s := &nvmlSource{}
	for i := range n {
		d, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			continue
		}
		name, _ := d.GetName()
		s.devices = append(s.devices, d)
		s.names = append(s.names, name)
	}
	return s, nil
}

func (s *nvmlSource) Name() string { return fmt.Sprintf("%d device(s): %v", len(s.devices), s.names) }

func (s *nvmlSource) Close() error {
	if ret := nvml.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("NVML shutdown: %v", nvml.ErrorString(ret))
	}
	return nil
}

// Reasons that mean the clocks were cut by a limit, not by choice.
const throttleMask = nvml.ClocksEventReasonSwPowerCap | nvml.ClocksThrottleReasonHwSlowdown |
	nvml.ClocksEventReasonSwThermalSlowdown | nvml.ClocksThrottleReasonHwThermalSlowdown |
	nvml.ClocksThrottleReasonHwPowerBrakeSlowdown

func (s *nvmlSource) Read(now time.Time) ([]Sample, error) {
	out := make([]Sample, 0, len(s.devices))
	var errs []error
	for i, d := range s.devices {
		x := Sample{T: now, Device: fmt.Sprintf("gpu%d", i)}
		if u, ret := d.GetUtilizationRates(); ret == nvml.SUCCESS {
			x.UtilPct, x.MemUtilPct = float64(u.Gpu), float64(u.Memory)
		} else {
			errs = append(errs, fmt.Errorf("gpu%d utilization: %v", i, nvml.ErrorString(ret)))
		}
		if mw, ret := d.GetPowerUsage(); ret == nvml.SUCCESS {
			x.PowerW, x.Has.Power = float64(mw)/1000, true
		}
		if mj, ret := d.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
			x.EnergyJ, x.Has.Energy = float64(mj)/1000, true
		}
		if c, ret := d.GetTemperature(nvml.TEMPERATURE_GPU); ret == nvml.SUCCESS {
			x.TempC, x.Has.Temp = float64(c), true
		}
		sm, r1 := d.GetClockInfo(nvml.CLOCK_SM)
		mem, r2 := d.GetClockInfo(nvml.CLOCK_MEM)
		if r1 == nvml.SUCCESS && r2 == nvml.SUCCESS {
			x.SMClockMHz, x.MemClockMHz, x.Has.Clocks = float64(sm), float64(mem), true
		}
		if r, ret := d.GetCurrentClocksEventReasons(); ret == nvml.SUCCESS {
			x.ThrottleReasons, x.Throttled = r, r&throttleMask != 0
		}
		if m, ret := d.GetMemoryInfo(); ret == nvml.SUCCESS && m.Total > 0 {
			x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = m.Used, m.Total, true
		} else {
			// GB10: unified memory is not NVML's to report.
			if s.host == nil {
				s.host = &hostSource{root: "/"}
			}
			if used, total, err := s.host.meminfo(); err == nil {
				x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = used, total, true
			}
		}
		out = append(out, x)
	}
	return out, errors.Join(errs...)
}
