package web

import (
	"context"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
)

// Run states.
const (
	StatusQueued      = "queued" // waiting for a free slot (Options.MaxRuns)
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusStopped     = "stopped"     // cancelled by the user; partial results kept
	StatusFailed      = "failed"      // the simulation returned an error, or crashed
	StatusInterrupted = "interrupted" // the server stopped while it ran or waited
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

// State is what a run page shows. A run of at most deltaDevices devices
// streams its complete state in every message: the hub may drop messages
// for a slow browser, and a complete state makes that safe. A larger run
// streams deltas (see delta).
type State struct {
	Meta
	// Seq counts the states published; a delta is state Seq with the
	// points added since state Seq-1.
	Seq int64 `json:"seq"`
	// Delta marks a message carrying only the newest points; MaxPoints is
	// the cap the receiver thins its series to, as thin does.
	Delta     bool `json:"delta,omitempty"`
	MaxPoints int  `json:"max_points,omitempty"`
	// QueuePos is a queued run's place in the queue, from 1.
	QueuePos int            `json:"queue_position,omitempty"`
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
	delta    bool // stream deltas: more than deltaDevices devices
	flushed  time.Time
}

// State returns a copy of the run's state. The series are shared (they
// are only appended to, and thin makes new ones), their headers copied.
func (r *Run) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state
	st.Models, st.Devices = slices.Clone(st.Models), slices.Clone(st.Devices)
	return st
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
// under a data directory, where they survive a restart of the server. At
// most maxRunning simulate at once; later ones wait in a queue, in order.
type Runs struct {
	dir      string
	hub      *Hub
	cat      *catalog.Catalog
	profiles perf.ProfileSet
	log      *log.Logger

	mu         sync.Mutex
	runs       map[string]*Run
	seq        int
	now        func() time.Time
	wg         sync.WaitGroup
	maxRunning int
	running    int
	queue      []*queued
	closed     bool

	// simRun simulates: sim.Run, replaced by tests (a panicking job).
	simRun func(context.Context, *scenario.Scenario, sim.Options) (*sim.Result, error)
	// flushEvery is how often a running run's state is saved.
	flushEvery time.Duration
}

// queued is a run waiting for a slot.
type queued struct {
	r   *Run
	sc  *scenario.Scenario
	ctx context.Context
}

// DefaultMaxRuns is how many runs simulate at once unless configured: one
// per core, at least two.
func DefaultMaxRuns() int { return max(2, runtime.NumCPU()) }

// SetMaxRunning sets how many runs simulate at once (n < 1: the default).
func (m *Runs) SetMaxRunning(n int) {
	if n < 1 {
		n = DefaultMaxRuns()
	}
	m.mu.Lock()
	m.maxRunning = n
	m.mu.Unlock()
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
// Past the limit of runs at once the run is queued, and starts when a
// slot frees.
func (m *Runs) StartIn(session, name string, data []byte, speed float64) (*Run, error) {
	sc, err := m.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if speed < 0 || math.IsNaN(speed) || math.IsInf(speed, 0) {
		return nil, fmt.Errorf("speed must be 0 (as fast as possible) or positive, got %v", speed)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("start run: the server is stopping")
	}
	m.seq++
	now := m.now()
	id := fmt.Sprintf("%s-%03d-%s", now.UTC().Format("20060102-150405"), m.seq%1000, slug(sc.Name))
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{scenario: data, cancel: cancel, done: make(chan struct{}), delta: len(sc.Nodes) > deltaDevices}
	r.state.Meta = Meta{ID: id, Name: sc.Name, Status: StatusQueued, Created: now, Speed: speed, DurationS: sc.Duration.Seconds(), Session: session}
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
		return nil, fmt.Errorf("start run: %w", err)
	}
	m.mu.Lock()
	start := m.running < m.maxRunning
	if start {
		m.running++
		r.state.Status = StatusRunning
	} else {
		m.queue = append(m.queue, &queued{r: r, sc: sc, ctx: ctx})
		r.state.QueuePos = len(m.queue)
	}
	m.runs[id] = r
	m.wg.Add(1) // done when the run ends, queued or not
	meta := r.state.Meta
	m.mu.Unlock()
	if err := m.saveMeta(meta); err != nil {
		m.log.Printf("run %s: %v", id, err) // the run goes on; a restart will not list it
	}
	m.publish(r)
	if start {
		go m.launch(ctx, r, sc)
	}
	return r, nil
}

// launch simulates r in this goroutine, then hands its slot to the next
// queued run.
func (m *Runs) launch(ctx context.Context, r *Run, sc *scenario.Scenario) {
	defer m.wg.Done()
	defer m.release()
	defer close(r.done)
	m.simulateSafe(ctx, r, sc)
}

// release frees a slot and starts the first queued run in it.
func (m *Runs) release() {
	m.mu.Lock()
	m.running--
	var next *queued
	if len(m.queue) > 0 && !m.closed {
		next, m.queue = m.queue[0], m.queue[1:]
		m.running++
		next.r.mu.Lock()
		next.r.state.Status, next.r.state.QueuePos = StatusRunning, 0
		next.r.mu.Unlock()
	}
	moved := m.renumber()
	m.mu.Unlock()
	if next != nil {
		if err := m.saveMeta(next.r.State().Meta); err != nil {
			m.log.Printf("run %s: %v", next.r.State().ID, err)
		}
		m.publish(next.r)
		go m.launch(next.ctx, next.r, next.sc)
	}
	for _, r := range moved {
		m.publish(r)
	}
}

// renumber sets the queue positions (m.mu held) and returns the runs in
// the queue.
func (m *Runs) renumber() []*Run {
	out := make([]*Run, len(m.queue))
	for i, q := range m.queue {
		q.r.mu.Lock()
		q.r.state.QueuePos = i + 1
		q.r.mu.Unlock()
		out[i] = q.r
	}
	return out
}

// unqueue removes a queued run, which ends with status without having
// simulated anything; false if it was not queued.
func (m *Runs) unqueue(r *Run, status, why string) bool {
	m.mu.Lock()
	i := -1
	for j, q := range m.queue {
		if q.r == r {
			i = j
		}
	}
	if i < 0 {
		m.mu.Unlock()
		return false
	}
	m.queue = append(m.queue[:i:i], m.queue[i+1:]...)
	moved := m.renumber()
	m.mu.Unlock()
	r.mu.Lock()
	r.state.Status, r.state.QueuePos, r.state.Done, r.state.Error = status, 0, true, why
	st := r.state
	r.mu.Unlock()
	if err := m.saveMeta(st.Meta); err != nil {
		m.log.Printf("run %s: %v", st.ID, err)
	}
	m.publish(r)
	close(r.done)
	r.cancel()
	m.wg.Done()
	for _, q := range moved {
		m.publish(q)
	}
	return true
}

// publish sends the run's complete state to its viewers.
func (m *Runs) publish(r *Run) {
	r.mu.Lock()
	r.state.Seq++
	msg := mustJSON(r.state)
	id := r.state.ID
	r.mu.Unlock()
	m.hub.Publish(topic(id), msg)
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

// Stop cancels a running run (its partial results are kept) or takes a
// queued one out of the queue.
func (m *Runs) Stop(id string) error {
	r, ok := m.Get(id)
	if !ok {
		return fmt.Errorf("no run %q", id)
	}
	if m.unqueue(r, StatusStopped, "stopped before it started") {
		return nil
	}
	if r.cancel != nil {
		r.cancel()
	}
	return nil
}

// Close stops every run and waits for them to save: running ones end
// interrupted with what they had, queued ones interrupted before starting.
func (m *Runs) Close() {
	m.mu.Lock()
	m.closed = true
	var waiting []*Run
	for _, q := range m.queue {
		waiting = append(waiting, q.r)
	}
	for _, r := range m.runs {
		if r.cancel != nil {
			r.cancel()
		}
	}
	m.mu.Unlock()
	for _, r := range waiting {
		m.unqueue(r, StatusInterrupted, "the server stopped before it started")
	}
	m.wg.Wait()
}
