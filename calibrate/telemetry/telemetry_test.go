package telemetry

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func write(t *testing.T, root, rel, content string) {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostMem is a host tree whose /proc/meminfo says 128 GiB, 100 GiB free.
func hostMem(t *testing.T) *hostSource {
	root := t.TempDir()
	write(t, root, "proc/meminfo", "MemTotal:       134217728 kB\nMemFree:        100000000 kB\nMemAvailable:   104857600 kB\n")
	return &hostSource{root: root}
}

// TestHostReadings reads a host tree on disk twice: utilization and power
// are rates over the interval, RAPL counters may wrap, the hottest thermal
// zone wins.
func TestHostReadings(t *testing.T) {
	root := t.TempDir()
	write(t, root, "proc/stat", "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n")
	write(t, root, "proc/meminfo", "MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\n")
	write(t, root, "sys/class/powercap/intel-rapl:0/energy_uj", "999000000\n")
	write(t, root, "sys/class/powercap/intel-rapl:0/max_energy_range_uj", "1000000000\n")
	write(t, root, "sys/class/powercap/intel-rapl:0:0/energy_uj", "5\n") // a sub-zone: not added
	write(t, root, "sys/class/thermal/thermal_zone0/temp", "45000\n")
	write(t, root, "sys/class/thermal/thermal_zone1/temp", "61500\n")
	h := &hostSource{root: root}
	t0 := time.Unix(100, 0)
	s, err := h.Read(t0)
	if err != nil {
		t.Fatal(err)
	}
	if s[0].Has.Power || !s[0].Has.Energy || s[0].TempC != 61.5 || s[0].MemUsedBytes != 600*1024 {
		t.Errorf("first sample %+v", s[0])
	}
	// 2 s later: 300 of 400 new jiffies busy; the counter wrapped after
	// 1e6 µJ and went on to 9e6 µJ: 10 J in 2 s.
	write(t, root, "proc/stat", "cpu  250 0 250 750 150 0 0 0 0 0\n")
	write(t, root, "sys/class/powercap/intel-rapl:0/energy_uj", "9000000\n")
	s, err = h.Read(t0.Add(2 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := s[0].UtilPct; math.Abs(got-75) > 1e-9 {
		t.Errorf("utilization %v, want 75", got)
	}
	if got := s[0].PowerW; math.Abs(got-5) > 1e-9 || s[0].EnergyJ != 10 {
		t.Errorf("power %v W energy %v J, want 5 W and 10 J", got, s[0].EnergyJ)
	}
}

func TestHostErrors(t *testing.T) {
	root := t.TempDir()
	h := &hostSource{root: root}
	if _, err := h.Read(time.Now()); err == nil || !strings.Contains(err.Error(), "proc/stat") {
		t.Errorf("missing /proc/stat: %v", err)
	}
	write(t, root, "proc/stat", "intr 1 2 3\n")
	if _, err := h.Read(time.Now()); err == nil || !strings.Contains(err.Error(), "unexpected first line") {
		t.Errorf("bad /proc/stat: %v", err)
	}
}

// TestOpenHere runs the real selection: NVML where a driver is loaded,
// the host otherwise. Either way Run delivers samples at the rate asked.
func TestOpenHere(t *testing.T) {
	src, note := Open()
	defer src.Close()
	t.Log(note)
	if src.Name() == "host" && !strings.Contains(note, "sampling the host") {
		t.Errorf("host fallback not explained: %q", note)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 550*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	var got []Sample
	Run(ctx, src, 50*time.Millisecond, func(s Sample) {
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
	}, func(err error) { t.Error(err) })
	if len(got) < 5 {
		t.Fatalf("%d samples in 0.55 s at 20 Hz", len(got))
	}
	for _, s := range got {
		if s.UtilPct < 0 || s.UtilPct > 100 || s.T.IsZero() {
			t.Errorf("sample %+v", s)
		}
	}
}

// TestPollRefusesNonPositiveInterval: time.NewTicker panics on an interval
// <= 0; Poll reports it and returns instead.
func TestPollRefusesNonPositiveInterval(t *testing.T) {
	for _, every := range []time.Duration{0, -time.Second} {
		var got error
		Poll(context.Background(), every, func(time.Time) error { return nil }, func(err error) { got = err })
		if got == nil || !strings.Contains(got.Error(), "not positive") {
			t.Errorf("interval %v: %v", every, got)
		}
	}
}
