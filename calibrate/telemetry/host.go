package telemetry

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// hostSource samples the machine itself. root is "/" except in tests, which
// point it at a directory holding proc/ and sys/ files.
type hostSource struct {
	root string
	// previous /proc/stat totals, for utilization over the interval
	prevBusy, prevTotal uint64
	// previous RAPL reading, for power; energy accumulates across wraps
	prevEnergyUJ float64
	prevT        time.Time
	energyJ      float64
	raplMaxUJ    float64
}

func openHost() *hostSource { return &hostSource{root: "/"} }

func (h *hostSource) Name() string { return "host" }
func (h *hostSource) Close() error { return nil }

func (h *hostSource) path(p string) string { return filepath.Join(h.root, p) }

func (h *hostSource) Read(now time.Time) ([]Sample, error) {
	x := Sample{T: now, Device: "host"}
	busy, total, err := h.cpu()
	if err != nil {
		return nil, err
	}
	if h.prevTotal > 0 && total > h.prevTotal {
		x.UtilPct = 100 * float64(busy-h.prevBusy) / float64(total-h.prevTotal)
	}
	h.prevBusy, h.prevTotal = busy, total
	if uj, ok := h.rapl(); ok {
		if !h.prevT.IsZero() {
			d := uj - h.prevEnergyUJ
			if d < 0 && h.raplMaxUJ > 0 { // counter wrapped
				d += h.raplMaxUJ
			}
			h.energyJ += d / 1e6
			if dt := now.Sub(h.prevT).Seconds(); dt > 0 {
				x.PowerW, x.Has.Power = d/1e6/dt, true
			}
		}
		h.prevEnergyUJ, h.prevT = uj, now
		x.EnergyJ, x.Has.Energy, x.PowerScope = h.energyJ, true, ScopeHostRAPL
	}
	if c, ok := h.temperature(); ok {
		x.TempC, x.Has.Temp = c, true
	}
	if used, tot, err := h.meminfo(); err == nil {
		x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = used, tot, true
	}
	return []Sample{x}, nil
}

// cpu returns busy and total jiffies of all CPUs from /proc/stat.
func (h *hostSource) cpu() (busy, total uint64, err error) {
	data, err := os.ReadFile(h.path("proc/stat"))
	if err != nil {
		return 0, 0, fmt.Errorf("host telemetry: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("host telemetry: %s: unexpected first line %q", h.path("proc/stat"), line)
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("host telemetry: %s: field %d: %w", h.path("proc/stat"), i+1, err)
		}
		if i >= 7 { // guest time is already counted in user
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}

// rapl sums the package-level RAPL energy counters (µJ) where readable.
func (h *hostSource) rapl() (float64, bool) {
	zones, _ := filepath.Glob(h.path("sys/class/powercap/intel-rapl:[0-9]*"))
	var sum, maxSum float64
	found := false
	for _, z := range zones {
		if strings.Count(filepath.Base(z), ":") != 1 {
			continue // sub-zones (core, dram) are inside the package
		}
		v, err := readFloat(filepath.Join(z, "energy_uj"))
		if err != nil {
			continue // often root-only
		}
		m, _ := readFloat(filepath.Join(z, "max_energy_range_uj"))
		sum, maxSum, found = sum+v, maxSum+m, true
	}
	h.raplMaxUJ = maxSum
	return sum, found
}

// temperature is the hottest thermal zone, in °C.
func (h *hostSource) temperature() (float64, bool) {
	zones, _ := filepath.Glob(h.path("sys/class/thermal/thermal_zone*/temp"))
	best, ok := 0.0, false
	for _, z := range zones {
		v, err := readFloat(z)
		if err != nil {
			continue
		}
		if c := v / 1000; !ok || c > best {
			best, ok = c, true
		}
	}
	return best, ok
}

// meminfo returns used (total − available) and total bytes.
func (h *hostSource) meminfo() (used, total uint64, err error) {
	f, err := os.Open(h.path("proc/meminfo"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var avail uint64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "MemTotal":
			total = n * 1024
		case "MemAvailable":
			avail = n * 1024
		}
	}
	if total == 0 {
		return 0, 0, fmt.Errorf("%s: no MemTotal", h.path("proc/meminfo"))
	}
	return total - min(avail, total), total, sc.Err()
}

func readFloat(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
}
