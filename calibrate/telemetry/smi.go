package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// smiFields are what the nvidia-smi source asks for, in this order. The
// clock-event field was clocks_throttle_reasons.active before driver 535;
// openSMI falls back to that name when the driver does not know the new
// one.
var smiFields = []string{"index", "name", "utilization.gpu", "utilization.memory", "power.draw",
	"temperature.gpu", "clocks.sm", "clocks.mem", "clocks_event_reasons.active", "memory.used", "memory.total"}

const smiLegacyReasons = "clocks_throttle_reasons.active"

// smiSource reads nvidia-smi's query loop (-lms), for machines where NVML
// is not compiled in (a cgo-free build) or does not open. One process runs
// for the source's life and prints a line per device per interval; Read
// hands out the latest line of each device. nvidia-smi is NVML underneath,
// so the readings are NVML's, less the energy counter.
type smiSource struct {
	path   string
	fields []string
	names  []string
	host   *hostSource // memory of a GB10, which nvidia-smi reports as [N/A]

	mu       sync.Mutex
	every    time.Duration
	cmd      *exec.Cmd
	done     chan struct{} // closed when the loop's process has exited
	exitErr  error
	stderr   *tail
	latest   map[int]smiReading
	started  time.Time
	lastLine time.Time
	lineErr  error // the last malformed line since the previous Read
}

// smiReading is one parsed line.
type smiReading struct {
	index  int
	name   string
	s      Sample
	noUtil bool // utilization was [N/A]: a gap Read reports
}

// openSMI runs one query to learn the devices (and the clock-event field's
// name this driver knows) before committing to nvidia-smi: on a machine
// without a driver nvidia-smi is often installed and fails.
func openSMI(ctx context.Context, path string) (*smiSource, error) {
	bin, err := exec.LookPath(path)
	if err != nil {
		return nil, fmt.Errorf("%s not on PATH", path)
	}
	s := &smiSource{path: bin, fields: smiFields, host: openHost(), every: time.Second}
	lines, err := s.query(ctx)
	if err != nil && strings.Contains(err.Error(), "clocks_event_reasons") {
		s.fields = slices.Clone(smiFields)
		s.fields[slices.Index(s.fields, "clocks_event_reasons.active")] = smiLegacyReasons
		lines, err = s.query(ctx)
	}
	if err != nil {
		return nil, err
	}
	for _, l := range lines {
		if r, err := parseSMILine(l); err == nil {
			s.names = append(s.names, r.name)
		}
	}
	if len(s.names) == 0 {
		return nil, fmt.Errorf("nvidia-smi: no device in %q", strings.Join(lines, "\n"))
	}
	return s, nil
}

func (s *smiSource) args(loop ...string) []string {
	return append([]string{"--query-gpu=" + strings.Join(s.fields, ","), "--format=csv,noheader,nounits"}, loop...)
}

// query runs nvidia-smi once and returns its non-blank lines.
func (s *smiSource) query(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second) // seconds without persistence mode
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, s.path, s.args()...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String() + " " + string(out)) // nvidia-smi writes its errors to stdout
		return nil, fmt.Errorf("nvidia-smi: %v: %s", err, msg)
	}
	var lines []string
	for l := range strings.Lines(string(out)) {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

func (s *smiSource) Name() string {
	return fmt.Sprintf("nvidia-smi, %d device(s): %v", len(s.names), s.names)
}

// setInterval starts the loop at Run's interval, so a line is waiting at
// each tick. A loop already running keeps its interval until it restarts.
func (s *smiSource) setInterval(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every = d
	if s.cmd == nil {
		_ = s.startLocked() // Read reports it again
	}
}

// startLocked starts the loop at s.every; nvidia-smi's -lms takes whole
// milliseconds.
func (s *smiSource) startLocked() error {
	ms := max(1, s.every.Milliseconds())
	cmd := exec.Command(s.path, s.args("-lms", strconv.FormatInt(ms, 10))...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("nvidia-smi: %w", err)
	}
	s.stderr = &tail{max: 512}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("nvidia-smi: %w", err)
	}
	s.cmd, s.done, s.exitErr, s.latest = cmd, make(chan struct{}), nil, map[int]smiReading{}
	s.started, s.lastLine = time.Now(), time.Time{}
	done := s.done
	go func() {
		s.consume(out)
		err := cmd.Wait()
		s.mu.Lock()
		s.exitErr = err
		s.mu.Unlock()
		close(done)
	}()
	return nil
}

// consume reads the loop's lines until it ends.
func (s *smiSource) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		rd, err := parseSMILine(line)
		s.mu.Lock()
		if err != nil {
			s.lineErr = err
		} else {
			s.latest[rd.index], s.lastLine = rd, time.Now()
		}
		s.mu.Unlock()
	}
}

// Read returns the latest line of each device, stamped now. A loop that
// has exited is reported (with what it read last) and started again on the
// next Read; one that has gone quiet is reported rather than repeating
// stale readings.
func (s *smiSource) Read(now time.Time) ([]Sample, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		if err := s.startLocked(); err != nil {
			return nil, err
		}
	}
	var errs []error
	select {
	case <-s.done:
		errs = append(errs, fmt.Errorf("nvidia-smi loop exited (%v): %s; restarting it", s.exitErr, strings.TrimSpace(s.stderr.String())))
		s.cmd = nil // its last lines are still this interval's readings
	default:
	}
	if s.lineErr != nil {
		errs, s.lineErr = append(errs, s.lineErr), nil
	}
	last := s.lastLine
	if last.IsZero() {
		last = s.started
	}
	if quiet := time.Since(last); quiet > 3*s.every+5*time.Second {
		return nil, errors.Join(append(errs, fmt.Errorf("nvidia-smi: no reading for %v", quiet.Round(time.Second)))...)
	}
	var hostMem struct {
		used, total uint64
		err         error
		read        bool
	}
	out := make([]Sample, 0, len(s.latest))
	for _, idx := range slices.Sorted(maps.Keys(s.latest)) {
		rd := s.latest[idx]
		x := rd.s
		x.T = now
		if rd.noUtil {
			errs = append(errs, fmt.Errorf("%s utilization: not reported by nvidia-smi", x.Device))
		}
		if !x.Has.Memory && isGB10(rd.name) && s.host != nil {
			if !hostMem.read {
				hostMem.used, hostMem.total, hostMem.err = s.host.meminfo()
				hostMem.read = true
			}
			if hostMem.err == nil {
				x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = hostMem.used, hostMem.total, true
			}
		}
		out = append(out, x)
	}
	return out, errors.Join(errs...)
}

// Close stops the loop.
func (s *smiSource) Close() error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		return errors.New("nvidia-smi: loop did not end after kill")
	}
	return nil
}

// parseSMILine reads one line of the query in smiFields' order. A field
// nvidia-smi cannot read ("[N/A]", "[Not Supported]", any bracketed
// message, a bare "N/A") is absent: its Has bit stays unset. Anything else
// that is not a finite number in range makes the line an error, since
// json cannot encode NaN and a sample that fails to encode is lost.
func parseSMILine(line string) (smiReading, error) {
	f := strings.Split(line, ",")
	n := len(smiFields)
	if len(f) < n {
		return smiReading{}, fmt.Errorf("nvidia-smi: %d fields, want %d: %q", len(f), n, line)
	}
	// The name is the only free text: a comma in it leaves the numbers at
	// the end all the same.
	f = append([]string{f[0], strings.Join(f[1:len(f)-n+2], ",")}, f[len(f)-n+2:]...)
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	var r smiReading
	idx, err := strconv.Atoi(f[0])
	if err != nil || idx < 0 || idx > 1<<16 {
		return r, fmt.Errorf("nvidia-smi: index %q: %q", f[0], line)
	}
	r.index, r.name = idx, f[1]
	x := &r.s
	x.Device = "gpu" + strconv.Itoa(idx)
	var errs []error
	num := func(i int, lo, hi float64, dst *float64) bool {
		v, ok, err := smiNumber(f[i], lo, hi)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", smiFields[i], err))
		}
		if ok {
			*dst = v
		}
		return ok
	}
	r.noUtil = !num(2, 0, 100, &x.UtilPct)
	num(3, 0, 100, &x.MemUtilPct)
	if x.Has.Power = num(4, 0, 1e5, &x.PowerW); x.Has.Power {
		x.PowerScope = PowerScopeFor(r.name)
	}
	x.Has.Temp = num(5, -100, 300, &x.TempC)
	x.Has.Clocks = num(6, 0, 1e5, &x.SMClockMHz)
	x.Has.MemClock = num(7, 0, 1e5, &x.MemClockMHz)
	if !smiAbsent(f[8]) {
		mask, err := strconv.ParseUint(f[8], 0, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not a bit mask", smiFields[8], f[8]))
		} else {
			x.setReasons(mask)
		}
	}
	var used, total float64
	const maxMiB = 1 << 30 // a PiB: far beyond any device, well inside uint64 bytes
	hasUsed, hasTotal := num(9, 0, maxMiB, &used), num(10, 0, maxMiB, &total)
	if hasUsed && hasTotal && total > 0 {
		x.MemUsedBytes, x.MemTotalBytes, x.Has.Memory = uint64(used*(1<<20)), uint64(total*(1<<20)), true
	}
	if err := errors.Join(errs...); err != nil {
		return smiReading{}, fmt.Errorf("nvidia-smi: %w in %q", err, line)
	}
	return r, nil
}

// smiAbsent says whether a field is nvidia-smi's way of saying it has no
// value.
func smiAbsent(v string) bool {
	return v == "" || strings.HasPrefix(v, "[") && strings.HasSuffix(v, "]") || strings.EqualFold(v, "N/A")
}

// smiNumber parses a number in [lo, hi]; ok false with no error when the
// field is absent. A unit left on the number (a query without nounits) is
// dropped.
func smiNumber(v string, lo, hi float64) (x float64, ok bool, err error) {
	if smiAbsent(v) {
		return 0, false, nil
	}
	for _, unit := range []string{" %", " W", " MHz", " MiB", " C"} {
		v = strings.TrimSuffix(v, unit)
	}
	x, err = strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(x) || x < lo || x > hi {
		return 0, false, fmt.Errorf("%q is not a number in [%g, %g]", v, lo, hi)
	}
	return x, true, nil
}

// tail keeps the last max bytes written to it: the end of the loop's
// stderr, for the error when it exits.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
