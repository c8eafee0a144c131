package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

// Files of a run directory under <data>/runs/<id>/.
const (
	metaFile     = "run.json"
	scenarioFile = "scenario.toml"
	resultFile   = "result.json"
	stateFile    = "state.json"
	seriesFile   = "series.csv" // the result's series (twin.WriteSeriesCSV), written with result.json
)

// Run is one simulation, live or finished.
type Run struct {
	mu       sync.Mutex
	dir      string
	state    State
	scenario []byte
	sc       *scenario.Scenario // nil once it ran, and for a run of an earlier life
	outcome  *twin.Simulation
	ctx      context.Context
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

// StateJSON is the run's complete state as it is published: compact,
// as every message on the stream (a 100-node run's is 0.9 MB so, 2.0 MB
// indented).
func (r *Run) StateJSON() []byte { return wireJSON(r.State()) }

// Scenario returns the scenario file the run simulates.
func (r *Run) Scenario() []byte { return r.scenario }

// Outcome returns the result of a finished run, or nil.
func (r *Run) Outcome() *twin.Simulation {
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

// Runs starts simulations, publishes their states and keeps them under
// the data directory, where they survive a restart of the server. At most
// a limit simulate at once; later ones wait in a queue, in order.
type Runs struct {
	cfg Config
	dir string
	log *log.Logger
	ctx context.Context // every run's parent: ends at Close
	end context.CancelFunc

	mu   sync.Mutex
	runs map[string]*Run
	seq  int
	q    slots[*Run]
	wg   sync.WaitGroup

	// SimRun simulates (twin.Options.Run; nil: sim.Run). Tests replace
	// it: a run that panics.
	SimRun func(context.Context, *scenario.Scenario, sim.Options) (*sim.Result, error)
	// FlushEvery is how often a running run's state is saved.
	FlushEvery time.Duration
	// Now is the clock that names runs.
	Now func() time.Time
}

// DefaultMaxRuns is how many runs simulate at once unless configured: one
// per core, at least two.
func DefaultMaxRuns() int { return max(2, runtime.NumCPU()) }

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

// Parse resolves a scenario file against the catalog; errors name the
// file, line and field. The files a scenario names (a trace) are read from
// the shipped scenarios' folder (scenarios.FS): the dashboard has no other,
// and so a shipped scenario, or a what-if edit of one, finds its trace.
func (m *Runs) Parse(name string, data []byte) (*scenario.Scenario, error) {
	return scenario.Parse(name, data, m.cfg.Catalog, m.cfg.Profiles, scenarios.FS)
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
	if m.closing() {
		return nil, fmt.Errorf("start run: %w", ErrStopping)
	}
	m.mu.Lock()
	m.seq++
	now := m.Now()
	id := runID(now, m.seq, sc.Name)
	m.mu.Unlock()

	ctx, cancel := context.WithCancel(m.ctx)
	r := &Run{dir: filepath.Join(m.dir, id), scenario: data, sc: sc, ctx: ctx, cancel: cancel, done: make(chan struct{}), delta: len(sc.Nodes) > deltaDevices}
	r.state.Meta = Meta{ID: id, Name: sc.Name, Status: StatusQueued, Created: now, Speed: speed, DurationS: sc.Duration.Seconds(), Session: session,
		Profiles: twin.Profiles(sc), SLOs: verdict.SLOs(sc)}
	for _, mdl := range sc.Models {
		r.state.Models = append(r.state.Models, ModelSeries{Model: mdl.Name})
	}
	for _, n := range sc.Nodes {
		r.state.Devices = append(r.state.Devices, DeviceSeries{Node: n.Name, Group: n.Group})
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		cancel()
		return nil, fmt.Errorf("start run: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(r.dir, scenarioFile), data, 0o644); err != nil {
		cancel()
		return nil, fmt.Errorf("start run: %w", err)
	}
	m.mu.Lock()
	m.runs[id] = r
	m.wg.Add(1) // done when the run ends, queued or not
	m.mu.Unlock()
	start, err := m.q.enter(r)
	if err != nil {
		m.mu.Lock()
		delete(m.runs, id)
		m.mu.Unlock()
		m.wg.Done()
		cancel()
		return nil, fmt.Errorf("start run: %w", err)
	}
	if err := m.saveMeta(r.State().Meta); err != nil {
		m.log.Printf("run %s: %v", id, err) // the run goes on; a restart will not list it
	}
	m.publish(r)
	if start {
		go m.launch(r)
	}
	return r, nil
}

// SetBaseline records the run whose cost run id is judged against, and
// saves it with the run.
func (m *Runs) SetBaseline(id, baseline string) error {
	r, ok := m.Get(id)
	if !ok {
		return fmt.Errorf("no run %q", id)
	}
	if _, ok := m.Get(baseline); !ok || baseline == id {
		return fmt.Errorf("run %s: no baseline run %q", id, baseline)
	}
	r.mu.Lock()
	r.state.Baseline = baseline
	meta := r.state.Meta
	r.mu.Unlock()
	if err := m.saveMeta(meta); err != nil {
		return fmt.Errorf("run %s: %w", id, err)
	}
	m.publish(r)
	return nil
}

// place is the queue's callback: a run's place, or its start.
func (m *Runs) place(r *Run, pos int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.QueuePos = pos
	if pos == 0 {
		r.state.Status = StatusRunning
	}
}

// launch simulates r in this goroutine, then hands its slot to the next
// queued run.
func (m *Runs) launch(r *Run) {
	defer m.wg.Done()
	defer m.release()
	defer close(r.done)
	m.simulateSafe(r)
}

// release frees a slot and starts the first queued run in it.
func (m *Runs) release() {
	next, ok, moved := m.q.leave()
	if ok {
		if err := m.saveMeta(next.State().Meta); err != nil {
			m.log.Printf("run %s: %v", next.State().ID, err)
		}
		m.publish(next)
		go m.launch(next)
	}
	for _, r := range moved {
		m.publish(r)
	}
}

// unqueue removes a queued run, which ends with status without having
// simulated anything; false if it was not queued.
func (m *Runs) unqueue(r *Run, status, why string) bool {
	ok, moved := m.q.remove(r)
	if !ok {
		return false
	}
	r.mu.Lock()
	r.state.Status, r.state.QueuePos, r.state.Done, r.state.Error = status, 0, true, why
	st := r.state
	r.sc = nil
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
	msg := wireJSON(r.state)
	if r.delta {
		// A large fleet's whole state is over a message's limit: send no
		// new points, as the last state of a run does (run_sim.go).
		msg = wireJSON(r.state.delta(0))
	}
	id := r.state.ID
	r.mu.Unlock()
	m.cfg.Publisher.Publish(RunTopic(id), msg)
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

// closing reports whether the runs are closing: a run that ends now was
// interrupted, not stopped.
func (m *Runs) closing() bool { return m.q.isClosed() || m.ctx.Err() != nil }

// Close stops every run and waits for them to save: running ones end
// interrupted with what they had, queued ones interrupted before starting.
func (m *Runs) Close() {
	waiting := m.q.close()
	m.end()
	for _, r := range waiting {
		m.unqueue(r, StatusInterrupted, "the server stopped before it started")
	}
	m.wg.Wait()
}

// Wait blocks until every run started so far has ended, or ctx is done.
func (m *Runs) Wait(ctx context.Context) error {
	for _, st := range m.List() {
		if r, ok := m.Get(st.ID); ok {
			if err := r.Wait(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// ErrNoSeries is SeriesCSV's answer for a run without a result's series:
// one still going (its live points are in its state), queued, or that
// ended before it had a result.
var ErrNoSeries = errors.New("the run has no series yet: series.csv is the result's, written when the run ends (state.json has the live points)")

// SeriesCSV is the run's result's per-device series in the one series
// format (twin.WriteSeriesCSV, as `simulate --series` writes it): from
// the result in memory, or from the series.csv saved with it.
func (r *Run) SeriesCSV() ([]byte, error) {
	if o := r.Outcome(); o != nil && o.Series != nil {
		var b bytes.Buffer
		if err := twin.WriteSeriesCSV(&b, o.Series); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	data, err := os.ReadFile(filepath.Join(r.dir, seriesFile))
	if err != nil {
		return nil, ErrNoSeries
	}
	return data, nil
}
