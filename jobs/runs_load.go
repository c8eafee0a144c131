package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/twin"
)

// OpenRuns loads the runs kept under cfg.DataDir/runs (created if
// missing); at most maxAtOnce simulate at once (below 1: DefaultMaxRuns).
// The runs' contexts derive from ctx: its end, like Close, interrupts
// them. Runs that were in progress or queued when the server stopped are
// marked interrupted; what they had saved is kept. An entry that cannot
// be loaded (a stray file, an empty folder a failed start left, a torn or
// unreadable file) is logged and skipped: it never keeps the server from
// starting.
func OpenRuns(ctx context.Context, cfg Config, maxAtOnce int) (*Runs, error) {
	if maxAtOnce < 1 {
		maxAtOnce = DefaultMaxRuns()
	}
	logger := cfg.logger()
	m := &Runs{cfg: cfg, dir: filepath.Join(cfg.DataDir, "runs"), log: logger, runs: map[string]*Run{}, Now: time.Now,
		SimRun: sim.Run, FlushEvery: time.Second}
	m.ctx, m.end = context.WithCancel(ctx)
	m.q = slots[*Run]{max: maxAtOnce, place: m.place}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		m.end()
		return nil, fmt.Errorf("open runs: %w", err)
	}
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		// Unlistable (permissions): start with no old runs rather than not at all.
		logger.Printf("data dir: cannot list the runs in %s, none loaded: %v", m.dir, err)
		return m, nil
	}
	for _, e := range entries {
		path := filepath.Join(m.dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			continue // a temporary file of an atomic write
		}
		if !e.IsDir() {
			logger.Printf("data dir: skipping %s: not a run folder", path)
			continue
		}
		r, err := m.load(path, e.Name())
		if err != nil {
			logger.Printf("data dir: skipping %s: %v", path, err)
			continue
		}
		m.runs[r.state.ID] = r
	}
	return m, nil
}

// load reads one run folder. Without a readable run.json and scenario it
// is no run; a state or result that cannot be read is logged and left
// out (the run is listed with what remains).
func (m *Runs) load(dir, id string) (*Run, error) {
	r := &Run{dir: dir, done: make(chan struct{})}
	close(r.done)
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no %s: a run that never started", metaFile)
	}
	if err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	if err := json.Unmarshal(b, &r.state.Meta); err != nil {
		return nil, fmt.Errorf("load run: %s: %w", metaFile, err)
	}
	if r.scenario, err = os.ReadFile(filepath.Join(dir, scenarioFile)); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, stateFile)); err == nil {
		var st State
		if err := json.Unmarshal(b, &st); err != nil {
			m.log.Printf("data dir: run %s: %s cannot be read, its series are lost: %v", dir, stateFile, err)
		} else {
			meta := r.state.Meta
			r.state = st
			r.state.Meta = meta // run.json is written last: it has the status
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		m.log.Printf("data dir: run %s: %v", dir, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, resultFile)); err == nil {
		var o twin.Simulation
		if err := json.Unmarshal(b, &o); err != nil {
			m.log.Printf("data dir: run %s: %s cannot be read, the result is lost: %v", dir, resultFile, err)
		} else {
			r.outcome = &o
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		m.log.Printf("data dir: run %s: %v", dir, err)
	}
	if r.state.ID != id {
		if r.state.ID != "" {
			m.log.Printf("data dir: run %s says it is %q; known by its folder's name", dir, r.state.ID)
		}
		r.state.ID = id
	}
	r.state.Delta, r.state.QueuePos = false, 0
	r.delta = len(r.state.Devices) > deltaDevices
	switch r.state.Status {
	case StatusRunning, StatusQueued, "":
		was := r.state.Status
		r.state.Status = StatusInterrupted
		r.state.Done = true
		if was == StatusQueued {
			r.state.Error = "the server stopped before it started"
		}
		if err := m.saveMeta(r.state.Meta); err != nil {
			m.log.Printf("data dir: run %s: cannot mark it interrupted: %v", dir, err)
		}
	}
	return r, nil
}

func (m *Runs) saveMeta(meta Meta) error {
	return atomicfile.WriteFile(filepath.Join(m.dir, meta.ID, metaFile), mustJSON(meta), 0o644)
}
