package telemetry

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Lines in the format of nvidia-smi --query-gpu=<smiFields>
// --format=csv,noheader,nounits: an H100 under load at its power cap, one
// idle, a GB10 (DGX Spark), which reports no memory and no memory clock.
const (
	h100Line     = "0, NVIDIA H100 80GB HBM3, 100, 38, 687.42, 74, 1980, 2619, 0x0000000000000004, 78437, 81559"
	h100IdleLine = "1, NVIDIA H100 80GB HBM3, 0, 0, 69.98, 31, 345, 2619, 0x0000000000000001, 1, 81559"
	gb10Line     = "0, NVIDIA GB10, 96, [N/A], 38.71, 62, 2411, [N/A], 0x0000000000000000, [N/A], [N/A]"
)

func TestParseSMILine(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name string
		line string
		want smiReading
	}{
		{"H100 power-capped", h100Line, smiReading{index: 0, name: "NVIDIA H100 80GB HBM3", s: Sample{Device: "gpu0",
			UtilPct: 100, MemUtilPct: 38, PowerW: 687.42, PowerScope: ScopeBoard, TempC: 74, SMClockMHz: 1980, MemClockMHz: 2619,
			ThrottleReasons: 4, Throttled: true, PowerCapped: true, MemUsedBytes: 78437 * mib, MemTotalBytes: 81559 * mib,
			Has: Fields{Power: true, Temp: true, Clocks: true, MemClock: true, Memory: true}}}},
		{"H100 idle", h100IdleLine, smiReading{index: 1, name: "NVIDIA H100 80GB HBM3", s: Sample{Device: "gpu1",
			PowerW: 69.98, PowerScope: ScopeBoard, TempC: 31, SMClockMHz: 345, MemClockMHz: 2619,
			ThrottleReasons: 1, MemUsedBytes: 1 * mib, MemTotalBytes: 81559 * mib,
			Has: Fields{Power: true, Temp: true, Clocks: true, MemClock: true, Memory: true}}}},
		{"GB10", gb10Line, smiReading{index: 0, name: "NVIDIA GB10", s: Sample{Device: "gpu0",
			UtilPct: 96, PowerW: 38.71, PowerScope: ScopeGPURail, TempC: 62, SMClockMHz: 2411,
			Has: Fields{Power: true, Temp: true, Clocks: true}}}},
		{"not supported, utilization missing", "2, NVIDIA GeForce RTX 4090, [N/A], [N/A], [Not Supported], 45, 2520, 10501, [Not Supported], 500, 24564",
			smiReading{index: 2, name: "NVIDIA GeForce RTX 4090", noUtil: true, s: Sample{Device: "gpu2",
				TempC: 45, SMClockMHz: 2520, MemClockMHz: 10501, MemUsedBytes: 500 * mib, MemTotalBytes: 24564 * mib,
				Has: Fields{Temp: true, Clocks: true, MemClock: true, Memory: true}}}},
		{"units left on, comma in the name", "3, Some GPU, Rev. B, 50 %, 10 %, 100.5 W, 60, 1500 MHz, 1200 MHz, 0x20, 10 MiB, 20 MiB",
			smiReading{index: 3, name: "Some GPU, Rev. B", s: Sample{Device: "gpu3",
				UtilPct: 50, MemUtilPct: 10, PowerW: 100.5, PowerScope: ScopeBoard, TempC: 60, SMClockMHz: 1500, MemClockMHz: 1200,
				ThrottleReasons: 0x20, Throttled: true, ThermalThrottled: true, MemUsedBytes: 10 * mib, MemTotalBytes: 20 * mib,
				Has: Fields{Power: true, Temp: true, Clocks: true, MemClock: true, Memory: true}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseSMILine(c.line)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

func TestParseSMILineErrors(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		{"0, NVIDIA GB10, 96", "3 fields, want 11"},
		{"x, NVIDIA GB10, 96, 0, 38.71, 62, 2411, 0, 0x0, 1, 2", `index "x"`},
		{"-1, NVIDIA GB10, 96, 0, 38.71, 62, 2411, 0, 0x0, 1, 2", `index "-1"`},
		{"0, NVIDIA GB10, 150, 0, 38.71, 62, 2411, 0, 0x0, 1, 2", `utilization.gpu: "150" is not a number in [0, 100]`},
		{"0, NVIDIA GB10, 96, 0, NaN, 62, 2411, 0, 0x0, 1, 2", `power.draw: "NaN"`},
		{"0, NVIDIA GB10, 96, 0, +Inf, 62, 2411, 0, 0x0, 1, 2", `power.draw: "+Inf"`},
		{"0, NVIDIA GB10, 96, 0, 38.71, 62, 2411, 0, Active, 1, 2", `"Active" is not a bit mask`},
		{"0, NVIDIA GB10, 96, 0, 38.71, 62, 2411, 0, 0x0, 1, 1e300", "memory.total"},
	} {
		if _, err := parseSMILine(c.line); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.line, err, c.want)
		}
	}
}

// FuzzParseSMILine: whatever nvidia-smi prints, the parser does not
// panic, and a line it accepts makes a sample json can encode whose Has
// bits agree with its values.
func FuzzParseSMILine(f *testing.F) {
	for _, l := range []string{h100Line, h100IdleLine, gb10Line, "0,,,,,,,,,,", "0, a, 1e2, 0x10, -0, 1, 2, 3, 077, 4, 5"} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseSMILine(line)
		if err != nil {
			return
		}
		x := r.s
		if r.index < 0 || x.Device != "gpu"+strconv.Itoa(r.index) {
			t.Errorf("index %d device %q", r.index, x.Device)
		}
		for _, v := range []float64{x.UtilPct, x.MemUtilPct, x.PowerW, x.TempC, x.SMClockMHz, x.MemClockMHz} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value in %+v", x)
			}
		}
		if x.UtilPct < 0 || x.UtilPct > 100 || (r.noUtil && x.UtilPct != 0) {
			t.Errorf("utilization %v (missing %v)", x.UtilPct, r.noUtil)
		}
		if !x.Has.Power && (x.PowerW != 0 || x.PowerScope != "") || x.Has.Power && x.PowerScope == "" {
			t.Errorf("power %v scope %q has %v", x.PowerW, x.PowerScope, x.Has.Power)
		}
		if !x.Has.Temp && x.TempC != 0 || !x.Has.Clocks && x.SMClockMHz != 0 || !x.Has.MemClock && x.MemClockMHz != 0 {
			t.Errorf("a value without its Has bit: %+v", x)
		}
		if !x.Has.Memory && (x.MemUsedBytes != 0 || x.MemTotalBytes != 0) || x.Has.Memory && x.MemTotalBytes == 0 {
			t.Errorf("memory %d/%d has %v", x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory)
		}
		if x.Throttled != (x.ThrottleReasons&LimitReasons != 0) || x.ThermalThrottled != (x.ThrottleReasons&ThermalReasons != 0) ||
			x.PowerCapped != (x.ThrottleReasons&PowerReasons != 0) {
			t.Errorf("reasons %#x: %+v", x.ThrottleReasons, x)
		}
	})
}

// fakeSMI writes an nvidia-smi that logs its arguments to args, answers a
// single query with once, and in loop mode (-lms) runs loop.
func fakeSMI(t *testing.T, once, loop string) (path, args string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("a shell script stands in for nvidia-smi")
	}
	dir := t.TempDir()
	args = filepath.Join(dir, "args")
	script := "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"$*\" >> " + args + "\ncase \" $* \" in\n*\" -lms \"*)\n" + loop + "\n;;\n*)\n" + once + "\n;;\nesac\n"
	path = filepath.Join(dir, "nvidia-smi")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, args
}

// gb10Loop prints a GB10 line every 20 ms with a rising utilization.
const gb10Loop = `i=0; while :; do echo "0, NVIDIA GB10, $((i % 100)), [N/A], 38.71, 62, 2411, [N/A], 0x0000000000000000, [N/A], [N/A]"; i=$((i+1)); sleep 0.02; done`

// waitRead reads s until ok accepts the samples or a few seconds pass.
func waitRead(t *testing.T, s *smiSource, ok func([]Sample, error) bool) ([]Sample, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := s.Read(time.Now())
		if ok(got, err) || time.Now().After(deadline) {
			return got, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSMIStream runs the loop of a fake nvidia-smi on a GB10: the readings
// move with the stream, memory comes from the host, the loop runs at
// Run's interval.
func TestSMIStream(t *testing.T) {
	path, args := fakeSMI(t, "echo '"+gb10Line+"'", gb10Loop)
	s, err := openSMI(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.host = hostMem(t)
	if s.Name() != "nvidia-smi, 1 device(s): [NVIDIA GB10]" {
		t.Errorf("name %q", s.Name())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var got []Sample
	Run(ctx, s, 20*time.Millisecond, func(x Sample) { got = append(got, x) }, func(err error) { t.Error(err) })
	if len(got) < 5 {
		t.Fatalf("%d samples in 0.6 s at 50 Hz", len(got))
	}
	utils := map[float64]bool{}
	for _, x := range got {
		utils[x.UtilPct] = true
		if x.Device != "gpu0" || x.PowerScope != ScopeGPURail || !x.Has.Memory || x.MemTotalBytes != 134217728*1024 || x.Has.MemClock {
			t.Errorf("sample %+v", x)
		}
	}
	if len(utils) < 3 {
		t.Errorf("utilization took %d values over %d samples: the stream is not being followed", len(utils), len(got))
	}
	b, _ := os.ReadFile(args)
	if !strings.Contains(string(b), "-lms 20") || !strings.Contains(string(b), "clocks_event_reasons.active") {
		t.Errorf("nvidia-smi ran with %q", b)
	}
}

// TestSMIOpen: a driver before 535 (the old field name), nvidia-smi
// without a driver, and none on PATH.
func TestSMIOpen(t *testing.T) {
	legacy := `case "$*" in *clocks_event_reasons*) echo 'Field "clocks_event_reasons.active" is not a valid field to query.'; exit 2;; esac; echo '` + h100Line + `'; echo '` + h100IdleLine + `'`
	path, args := fakeSMI(t, legacy, "exit 0")
	s, err := openSMI(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(args)
	if s.Name() != "nvidia-smi, 2 device(s): [NVIDIA H100 80GB HBM3 NVIDIA H100 80GB HBM3]" || !strings.Contains(strings.Join(s.fields, ","), smiLegacyReasons) ||
		strings.Count(string(b), "\n") != 2 {
		t.Errorf("old driver: %q, fields %v, runs %q", s.Name(), s.fields, b)
	}

	noDriver := `echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."; exit 9`
	path, _ = fakeSMI(t, noDriver, "exit 9")
	if _, err := openSMI(context.Background(), path); err == nil || !strings.Contains(err.Error(), "couldn't communicate with the NVIDIA driver") {
		t.Errorf("no driver: %v", err)
	}
	if _, err := openSMI(context.Background(), filepath.Join(t.TempDir(), "nvidia-smi")); err == nil || !strings.Contains(err.Error(), "not on PATH") {
		t.Errorf("missing: %v", err)
	}
}

// TestSMILoopExits: a loop that dies (here the first) is reported with its
// stderr, and the next Read starts it again.
func TestSMILoopExits(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "died")
	path, args := fakeSMI(t, "echo '"+h100Line+"'", "if [ -e "+marker+" ]; then while :; do echo '"+h100Line+"'; sleep 0.01; done; fi; touch "+marker+
		"; echo 'Unable to determine the device handle for GPU0: GPU is lost' >&2; exit 15")
	s, err := openSMI(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.setInterval(10 * time.Millisecond)
	_, err = waitRead(t, s, func(_ []Sample, err error) bool { return err != nil })
	if err == nil || !strings.Contains(err.Error(), "GPU is lost") || !strings.Contains(err.Error(), "exit status 15") {
		t.Fatalf("exit not reported: %v", err)
	}
	got, err := waitRead(t, s, func(got []Sample, err error) bool { return len(got) == 1 })
	if len(got) != 1 || got[0].PowerW != 687.42 {
		t.Errorf("after the restart: %+v, %v", got, err)
	}
	b, _ := os.ReadFile(args)
	if n := strings.Count(string(b), "-lms 10"); n < 2 {
		t.Errorf("loop started %d times, want ≥ 2", n)
	}
}

// TestOpenFallsBackToSMI: where NVML does not open (not compiled in, or
// no library), Open takes nvidia-smi when it answers.
func TestOpenFallsBackToSMI(t *testing.T) {
	if s, err := openNVML(); err == nil {
		s.Close()
		t.Skip("NVML opens here: Open takes it")
	}
	path, _ := fakeSMI(t, "echo '"+gb10Line+"'", gb10Loop)
	t.Setenv("PATH", filepath.Dir(path))
	src, note := Open()
	defer src.Close()
	if _, ok := src.(*smiSource); !ok || !strings.Contains(note, "reading nvidia-smi instead, nvidia-smi, 1 device(s): [NVIDIA GB10]") {
		t.Errorf("%T: %q", src, note)
	}
}
