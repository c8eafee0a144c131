package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
)

// Run states.
const (
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusStopped     = "stopped"     // cancelled by the user; partial results kept
	StatusFailed      = "failed"      // the simulation returned an error
	StatusInterrupted = "interrupted" // the server stopped while it ran
)

// Files of a run directory under <data>/runs/<id>/.
const (
	metaFile     = "run.json"
	scenarioFile = "scenario.toml"
	resultFile   = "result.json"
	stateFile    = "state.json"
)

// maxPoints caps each live series: past it, every other point is dropped,
// so a state message stays small however long the run.
const maxPoints = 512

// Meta describes a run.
type Meta struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	Speed     float64   `json:"speed"` // × real time; 0 = as fast as possible
	Error     string    `json:"error,omitempty"`
	DurationS float64   `json:"duration_s"`
	// Session is the browser session that started the run: its what-if
	// history. Empty for runs started from the command line.
	Session string `json:"session,omitempty"`
}

// State is what a run page shows, complete in every message: the hub may
// drop messages for a slow browser, and a complete state makes that safe.
type State struct {
	Meta
	Progress float64        `json:"progress"`
	NowS     float64        `json:"now_s"`
	Events   int64          `json:"events"`
	ElapsedS float64        `json:"elapsed_s"` // wall time
	LeftS    float64        `json:"left_s"`    // wall time, estimated
	T        []float64      `json:"t"`         // simulated seconds of each point
	Models   []ModelSeries  `json:"models"`
	Devices  []DeviceSeries `json:"devices"`
	Done     bool           `json:"done"`
}

// ModelSeries is one served model's latency over the run so far.
type ModelSeries struct {
	Model     string    `json:"model"`
	Completed int64     `json:"completed"`
	TTFTP95   []float64 `json:"ttft_p95_s"`
	TPOTP95   []float64 `json:"tpot_p95_s"`
	E2EP95    []float64 `json:"e2e_p95_s"`
	// Throughput is requests completed per simulated second since the
	// previous point.
	Throughput []float64 `json:"throughput_per_s"`
}

// DeviceSeries is one device's activity, power and heat over the run.
type DeviceSeries struct {
	Node        string    `json:"node"`
	Utilization []float64 `json:"utilization"`
	KVUse       []float64 `json:"kv_use"`
	PowerW      []float64 `json:"power_w"`
	TempC       []float64 `json:"temp_c"`
	Clock       []float64 `json:"clock"`
	Waiting     []float64 `json:"waiting"`
	// Throttle is what holds the clock down now: "thermal", "power cap",
	// both, or "".
	Throttle string `json:"throttle"`
}

// Outcome is a finished run's result file: what `simulate --json` writes.
type Outcome struct {
	*sim.Result
	Throttling []sim.ThrottleCost `json:"throttling,omitempty"`
	Cost       *tco.Report        `json:"cost"`
}

// Run is one simulation the dashboard started, live or finished.
type Run struct {
	mu       sync.Mutex
	state    State
	scenario []byte
	outcome  *Outcome
	cancel   context.CancelFunc
	done     chan struct{}
}

// State returns a copy of the run's state.
func (r *Run) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Scenario returns the scenario file the run simulates.
func (r *Run) Scenario() []byte { return r.scenario }

// Outcome returns the result of a finished run, or nil.
func (r *Run) Outcome() *Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outcome
}

// Wait blocks until the run ends or ctx is done.
func (r *Run) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Runs starts simulations, streams their states to the hub and keeps them
// under a data directory, where they survive a restart of the server.
type Runs struct {
	dir      string
	hub      *Hub
	cat      *catalog.Catalog
	profiles perf.ProfileSet

	mu   sync.Mutex
	runs map[string]*Run
	seq  int
	now  func() time.Time
	wg   sync.WaitGroup
}

// OpenRuns loads the runs kept under dir (created if missing). Runs that
// were in progress when the server stopped are marked interrupted; what
// they had streamed is kept.
func OpenRuns(dir string, hub *Hub, cat *catalog.Catalog, profiles perf.ProfileSet) (*Runs, error) {
	m := &Runs{dir: filepath.Join(dir, "runs"), hub: hub, cat: cat, profiles: profiles, runs: map[string]*Run{}, now: time.Now}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, fmt.Errorf("open runs: %w", err)
	}
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		return nil, fmt.Errorf("open runs: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := m.load(filepath.Join(m.dir, e.Name()))
		if err != nil {
			return nil, err
		}
		m.runs[r.state.ID] = r
		hub.Publish(topic(r.state.ID), mustJSON(r.state))
	}
	return m, nil
}

func (m *Runs) load(dir string) (*Run, error) {
	r := &Run{done: make(chan struct{})}
	close(r.done)
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	if err := json.Unmarshal(b, &r.state.Meta); err != nil {
		return nil, fmt.Errorf("load run %s: %w", filepath.Join(dir, metaFile), err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, stateFile)); err == nil {
		if err := json.Unmarshal(b, &r.state); err != nil {
			return nil, fmt.Errorf("load run %s: %w", filepath.Join(dir, stateFile), err)
		}
	}
	if r.scenario, err = os.ReadFile(filepath.Join(dir, scenarioFile)); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, resultFile)); err == nil {
		var o Outcome
		if err := json.Unmarshal(b, &o); err != nil {
			return nil, fmt.Errorf("load run %s: %w", filepath.Join(dir, resultFile), err)
		}
		r.outcome = &o
	}
	if r.state.Status == StatusRunning {
		r.state.Status = StatusInterrupted
		r.state.Done = true
		if err := m.saveMeta(r.state.Meta); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func topic(id string) string { return "run/" + id }

func mustJSON(v any) []byte {
	b, err := jsonfmt.Marshal(v)
	if err != nil {
		panic(err) // our own types always encode
	}
	return b
}

// List returns the runs, newest first.
func (m *Runs) List() []State {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []State
	for _, r := range m.runs {
		out = append(out, r.State())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// Session lists a browser session's runs, newest first.
func (m *Runs) Session(session string) []State {
	var out []State
	for _, st := range m.List() {
		if session != "" && st.Session == session {
			out = append(out, st)
		}
	}
	return out
}

// Get returns a run by ID.
func (m *Runs) Get(id string) (*Run, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[id]
	return r, ok
}

// Parse resolves a scenario file against the server's catalog; errors
// name the file, line and field.
func (m *Runs) Parse(name string, data []byte) (*scenario.Scenario, error) {
	return scenario.Parse(name, data, m.cat, m.profiles, nil)
}

// Start validates the scenario and simulates it in the background at
// speed × real time (0: as fast as possible).
func (m *Runs) Start(name string, data []byte, speed float64) (*Run, error) {
	return m.StartIn("", name, data, speed)
}

// StartIn is Start for a browser session, whose history the run joins.
func (m *Runs) StartIn(session, name string, data []byte, speed float64) (*Run, error) {
	sc, err := m.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if speed < 0 || math.IsNaN(speed) {
		return nil, fmt.Errorf("speed must be 0 (as fast as possible) or positive, got %v", speed)
	}
	m.mu.Lock()
	m.seq++
	now := m.now()
	id := fmt.Sprintf("%s-%03d-%s", now.UTC().Format("20060102-150405"), m.seq%1000, slug(sc.Name))
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{scenario: data, cancel: cancel, done: make(chan struct{})}
	r.state.Meta = Meta{ID: id, Name: sc.Name, Status: StatusRunning, Created: now, Speed: speed, DurationS: sc.Duration.Seconds(), Session: session}
	for _, mdl := range sc.Models {
		r.state.Models = append(r.state.Models, ModelSeries{Model: mdl.Name})
	}
	for _, n := range sc.Nodes {
		r.state.Devices = append(r.state.Devices, DeviceSeries{Node: n.Name})
	}
	dir := filepath.Join(m.dir, id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		cancel()
		return nil, fmt.Errorf("start run: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, scenarioFile), data, 0o644); err != nil {
		cancel()
		return nil, err
	}
	if err := m.saveMeta(r.state.Meta); err != nil {
		cancel()
		return nil, err
	}
	m.mu.Lock()
	m.runs[id] = r
	m.mu.Unlock()
	m.hub.Publish(topic(id), mustJSON(r.state))
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(r.done)
		m.simulate(ctx, r, sc)
	}()
	return r, nil
}

func slug(s string) string {
	s = strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			return c
		case c >= 'A' && c <= 'Z':
			return c + 'a' - 'A'
		}
		return '-'
	}, s)
	return strings.Trim(s[:min(len(s), 40)], "-")
}

// Stop cancels a running run; its partial results are kept.
func (m *Runs) Stop(id string) error {
	r, ok := m.Get(id)
	if !ok {
		return fmt.Errorf("no run %q", id)
	}
	if r.cancel != nil {
		r.cancel()
	}
	return nil
}

// Close stops every run and waits for them to save.
func (m *Runs) Close() {
	m.mu.Lock()
	for _, r := range m.runs {
		if r.cancel != nil {
			r.cancel()
		}
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// updatesPerSecond is the live stream's rate when a run is paced.
const updatesPerSecond = 10

func (m *Runs) simulate(ctx context.Context, r *Run, sc *scenario.Scenario) {
	started := time.Now()
	opt := sim.Options{SnapshotEvery: max(sc.Duration/200, engine.Millisecond)}
	if speed := r.state.Speed; speed > 0 {
		opt.SnapshotEvery = max(engine.FromSeconds(speed/updatesPerSecond), engine.Millisecond)
		opt.Pacer = &sim.WallPacer{Start: started, Speed: speed}
	}
	opt.OnSnapshot = func(s sim.Snapshot) {
		r.mu.Lock()
		r.state.apply(s, time.Since(started).Seconds())
		msg := mustJSON(r.state)
		r.mu.Unlock()
		m.hub.Publish(topic(r.state.ID), msg)
	}
	res, err := sim.Run(ctx, sc, opt)
	out := &Outcome{Result: res}
	status := StatusDone
	switch {
	case errors.Is(err, context.Canceled):
		status = StatusStopped
	case err != nil:
		status = StatusFailed
	}
	if res != nil && status == StatusDone && res.Throttled() {
		out.Throttling, err = sim.PriceThrottling(ctx, sc, res)
		if err != nil {
			status = StatusStopped
		}
	}
	if res != nil {
		out.Cost, _ = tco.Evaluate(sc, res) // a cloud-priced node without a price failed validation already
	}
	dir := filepath.Join(m.dir, r.state.ID)
	r.mu.Lock()
	r.state.Status = status
	r.state.Done = true
	if err != nil && status == StatusFailed {
		r.state.Error = err.Error()
	}
	if res != nil {
		r.outcome = out
	}
	st := r.state
	r.mu.Unlock()
	var errs []error
	if res != nil {
		errs = append(errs, atomicfile.WriteFile(filepath.Join(dir, resultFile), mustJSON(out), 0o644))
	}
	errs = append(errs, atomicfile.WriteFile(filepath.Join(dir, stateFile), mustJSON(st), 0o644), m.saveMeta(st.Meta))
	if err := errors.Join(errs...); err != nil {
		r.mu.Lock()
		r.state.Error = strings.TrimSpace(r.state.Error + "; saving: " + err.Error())
		st = r.state
		r.mu.Unlock()
	}
	m.hub.Publish(topic(st.ID), mustJSON(st))
}

func (m *Runs) saveMeta(meta Meta) error {
	return atomicfile.WriteFile(filepath.Join(m.dir, meta.ID, metaFile), mustJSON(meta), 0o644)
}

// apply adds a snapshot to the state.
func (st *State) apply(s sim.Snapshot, elapsed float64) {
	st.Progress, st.NowS, st.Events, st.ElapsedS = s.Progress, s.NowS, s.Events, elapsed
	st.LeftS = math.NaN()
	if s.Progress > 0 {
		st.LeftS = elapsed * (1 - s.Progress) / s.Progress
	}
	prevT := 0.0
	if n := len(st.T); n > 0 {
		prevT = st.T[n-1]
	}
	st.T = append(st.T, s.NowS)
	for i, ms := range s.Models {
		m := &st.Models[i]
		rate := math.NaN()
		if dt := s.NowS - prevT; dt > 0 {
			rate = float64(ms.Completed-m.Completed) / dt
		}
		m.Throughput = append(m.Throughput, rate)
		m.Completed = ms.Completed
		m.TTFTP95 = append(m.TTFTP95, ms.TTFTP95)
		m.TPOTP95 = append(m.TPOTP95, ms.TPOTP95)
		m.E2EP95 = append(m.E2EP95, ms.E2EP95)
	}
	for i, ds := range s.Devices {
		d := &st.Devices[i]
		d.Utilization = append(d.Utilization, ds.Utilization)
		d.KVUse = append(d.KVUse, ds.KVUse)
		d.PowerW = append(d.PowerW, ds.PowerW)
		d.TempC = append(d.TempC, ds.TempNowC)
		d.Clock = append(d.Clock, ds.ClockNow)
		d.Waiting = append(d.Waiting, ds.Waiting)
		d.Throttle = ds.Throttle
	}
	if len(st.T) > maxPoints {
		st.thin()
	}
}

// thin keeps every other point (and always the last).
func (st *State) thin() {
	half := func(xs []float64) []float64 {
		out := xs[:0]
		for i, x := range xs {
			if i%2 == 1 || i == len(xs)-1 {
				out = append(out, x)
			}
		}
		return slices.Clip(out)
	}
	st.T = half(st.T)
	for i := range st.Models {
		m := &st.Models[i]
		m.TTFTP95, m.TPOTP95, m.E2EP95, m.Throughput = half(m.TTFTP95), half(m.TPOTP95), half(m.E2EP95), half(m.Throughput)
	}
	for i := range st.Devices {
		d := &st.Devices[i]
		d.Utilization, d.KVUse, d.PowerW, d.TempC, d.Clock, d.Waiting = half(d.Utilization), half(d.KVUse), half(d.PowerW), half(d.TempC), half(d.Clock), half(d.Waiting)
	}
}
