//go:build cgo && !nonvml

package telemetry

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
)

// h100 is a discrete GPU that answers every reading.
func h100() *mock.Device {
	return &mock.Device{
		GetNameFunc: func() (string, nvml.Return) { return "NVIDIA H100 80GB HBM3", nvml.SUCCESS },
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: 87, Memory: 45}, nvml.SUCCESS
		},
		GetPowerUsageFunc:             func() (uint32, nvml.Return) { return 612340, nvml.SUCCESS },    // mW
		GetTotalEnergyConsumptionFunc: func() (uint64, nvml.Return) { return 123456789, nvml.SUCCESS }, // mJ
		GetTemperatureFunc:            func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 71, nvml.SUCCESS },
		GetClockInfoFunc: func(c nvml.ClockType) (uint32, nvml.Return) {
			switch c {
			case nvml.CLOCK_SM:
				return 1980, nvml.SUCCESS
			case nvml.CLOCK_MEM:
				return 2619, nvml.SUCCESS
			}
			return 0, nvml.ERROR_INVALID_ARGUMENT
		},
		GetCurrentClocksEventReasonsFunc: func() (uint64, nvml.Return) { return 0, nvml.SUCCESS },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: 80 << 30, Used: 40 << 30, Free: 40 << 30}, nvml.SUCCESS
		},
	}
}

// gb10 is a DGX Spark as its driver reports it: no memory info (unified
// memory), no memory clock, no energy counter, power of the GPU rail.
func gb10() *mock.Device {
	d := h100()
	d.GetNameFunc = func() (string, nvml.Return) { return "NVIDIA GB10", nvml.SUCCESS }
	d.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 11500, nvml.SUCCESS }
	d.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	d.GetTemperatureFunc = func(nvml.TemperatureSensors) (uint32, nvml.Return) { return 48, nvml.SUCCESS }
	d.GetClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
		if c == nvml.CLOCK_SM {
			return 2405, nvml.SUCCESS
		}
		return 0, nvml.ERROR_NOT_SUPPORTED
	}
	d.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_NOT_SUPPORTED }
	return d
}

func library(devs ...*mock.Device) *mock.Interface {
	return &mock.Interface{
		InitFunc:           func() nvml.Return { return nvml.SUCCESS },
		ShutdownFunc:       func() nvml.Return { return nvml.SUCCESS },
		DeviceGetCountFunc: func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if devs[i] == nil {
				return nil, nvml.ERROR_GPU_IS_LOST
			}
			return devs[i], nvml.SUCCESS
		},
	}
}

func TestNVMLRead(t *testing.T) {
	t0 := time.Unix(1000, 0)
	h100Sample := Sample{T: t0, Device: "gpu0", UtilPct: 87, MemUtilPct: 45, PowerW: 612.34, EnergyJ: 123456.789,
		PowerScope: ScopeBoard, TempC: 71, SMClockMHz: 1980, MemClockMHz: 2619,
		MemUsedBytes: 40 << 30, MemTotalBytes: 80 << 30,
		Has: Fields{Power: true, Energy: true, Temp: true, Clocks: true, MemClock: true, Memory: true}}
	noUtil := h100()
	noUtil.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{}, nvml.ERROR_UNKNOWN }
	failedMem := h100()
	failedMem.GetMemoryInfoFunc = func() (nvml.Memory, nvml.Return) { return nvml.Memory{}, nvml.ERROR_UNKNOWN }
	for _, c := range []struct {
		name    string
		devs    []*mock.Device
		want    []Sample
		wantErr string
	}{
		{"discrete GPU, every reading", []*mock.Device{h100()}, []Sample{h100Sample}, ""},
		{"GB10: host memory, no memory clock, GPU-rail power", []*mock.Device{gb10()}, []Sample{{
			T: t0, Device: "gpu0", UtilPct: 87, MemUtilPct: 45, PowerW: 11.5, PowerScope: ScopeGPURail, TempC: 48, SMClockMHz: 2405,
			MemUsedBytes: (134217728 - 104857600) * 1024, MemTotalBytes: 134217728 * 1024,
			Has: Fields{Power: true, Temp: true, Clocks: true, Memory: true}}}, ""},
		// A discrete card's failed memory read is a gap, not host RAM.
		{"discrete GPU, memory read fails", []*mock.Device{failedMem}, []Sample{func() Sample {
			s := h100Sample
			s.MemUsedBytes, s.MemTotalBytes, s.Has.Memory = 0, 0, false
			return s
		}()}, ""},
		{"utilization fails: reported, the rest sampled", []*mock.Device{noUtil, h100()}, []Sample{func() Sample {
			s := h100Sample
			s.UtilPct, s.MemUtilPct = 0, 0
			return s
		}(), func() Sample {
			s := h100Sample
			s.Device = "gpu1"
			return s
		}()}, "gpu0 utilization: ERROR_UNKNOWN"},
		// A lost handle is skipped; the others keep NVML's index.
		{"lost handle", []*mock.Device{nil, h100()}, []Sample{func() Sample {
			s := h100Sample
			s.Device = "gpu1"
			return s
		}()}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newNVML(library(c.devs...), hostMem(t))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Read(t0)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("error %v, want %q", err, c.wantErr)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

// TestNVMLThrottleReasons: a power cap is not thermal throttling, nor is
// a hardware slowdown whose cause NVML does not say; all of them are
// still Throttled, as before.
func TestNVMLThrottleReasons(t *testing.T) {
	for _, c := range []struct {
		name                      string
		mask                      uint64
		throttled, thermal, power bool
	}{
		{"none", 0, false, false, false},
		{"idle", nvml.ClocksEventReasonGpuIdle, false, false, false},
		{"application clocks", nvml.ClocksEventReasonApplicationsClocksSetting, false, false, false},
		{"software power cap", nvml.ClocksEventReasonSwPowerCap, true, false, true},
		{"power brake", nvml.ClocksThrottleReasonHwPowerBrakeSlowdown | nvml.ClocksThrottleReasonHwSlowdown, true, false, true},
		{"software thermal", nvml.ClocksEventReasonSwThermalSlowdown, true, true, false},
		{"hardware thermal", nvml.ClocksThrottleReasonHwThermalSlowdown | nvml.ClocksThrottleReasonHwSlowdown, true, true, false},
		{"hardware slowdown, cause unsaid", nvml.ClocksThrottleReasonHwSlowdown, true, false, false},
		{"hot and capped", nvml.ClocksEventReasonSwPowerCap | nvml.ClocksEventReasonSwThermalSlowdown, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := h100()
			d.GetCurrentClocksEventReasonsFunc = func() (uint64, nvml.Return) { return c.mask, nvml.SUCCESS }
			s, err := newNVML(library(d), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Read(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			x := got[0]
			if x.ThrottleReasons != c.mask || x.Throttled != c.throttled || x.ThermalThrottled != c.thermal || x.PowerCapped != c.power || x.ThermalLimit() != c.thermal {
				t.Errorf("mask %#x: throttled %v thermal %v power %v (ThermalLimit %v), want %v %v %v",
					x.ThrottleReasons, x.Throttled, x.ThermalThrottled, x.PowerCapped, x.ThermalLimit(), c.throttled, c.thermal, c.power)
			}
		})
	}
}

func TestNVMLOpenErrors(t *testing.T) {
	for _, c := range []struct {
		name     string
		lib      *mock.Interface
		want     string
		shutdown int // Init succeeded: the library must be shut down again
	}{
		{"no driver", func() *mock.Interface {
			l := library(h100())
			l.InitFunc = func() nvml.Return { return nvml.ERROR_LIBRARY_NOT_FOUND }
			return l
		}(), "no NVIDIA driver (libnvidia-ml not found)", 0},
		{"driver not loaded", func() *mock.Interface {
			l := library(h100())
			l.InitFunc = func() nvml.Return { return nvml.ERROR_DRIVER_NOT_LOADED }
			return l
		}(), "NVML init: ERROR_DRIVER_NOT_LOADED", 0},
		{"no devices", library(), "NVML: no devices", 1},
		{"every handle lost", library(nil, nil), "NVML: no device handle: gpu0: ERROR_GPU_IS_LOST", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := newNVML(c.lib, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || s != nil {
				t.Errorf("got %v, %v; want error %q", s, err, c.want)
			}
			if n := len(c.lib.ShutdownCalls()); n != c.shutdown {
				t.Errorf("%d Shutdown calls, want %d", n, c.shutdown)
			}
		})
	}
}

// TestNVMLRunGoesOnAfterErrors: a device whose utilization never reads is
// reported once, and the samples keep coming.
func TestNVMLRunGoesOnAfterErrors(t *testing.T) {
	d := h100()
	d.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{}, nvml.ERROR_NOT_SUPPORTED }
	s, err := newNVML(library(d, h100()), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var got []Sample
	var errs []error // Run calls sink and onErr on this goroutine
	Run(ctx, s, 20*time.Millisecond, func(x Sample) { got = append(got, x) }, func(err error) { errs = append(errs, err) })
	if len(got) < 10 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "gpu0 utilization: ERROR_NOT_SUPPORTED") {
		t.Errorf("%d samples, errors %v; want ≥ 10 samples and the one error", len(got), errs)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}
