package jobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/twin"
)

// updatesPerSecond is the live stream's rate when a run is paced.
const updatesPerSecond = 10

// simulateSafe is simulate, and a run that panics ends failed with the
// panic's message (its stack in the server log); the server goes on.
func (m *Runs) simulateSafe(r *Run) {
	defer func() {
		if p := recover(); p != nil {
			id := r.State().ID
			m.log.Printf("run %s panicked: %v\n%s", id, p, debug.Stack())
			m.finish(r, nil, StatusFailed, fmt.Errorf("the simulation crashed (a bug; the server log has the stack): %v", p))
		}
	}()
	m.simulate(r)
}

// simulate runs the pipeline (twin.Simulate) for r and records how it
// ended: done; stopped by the user or interrupted by Close, with what it
// had (a throttle pricing cut short too); or failed.
func (m *Runs) simulate(r *Run) {
	r.mu.Lock()
	sc, speed := r.sc, r.state.Speed
	r.sc = nil
	r.mu.Unlock()
	started := time.Now()
	opt := twin.Options{SnapshotEvery: max(sc.Duration/200, engine.Millisecond), Run: m.SimRun}
	if speed > 0 {
		opt.SnapshotEvery = max(engine.FromSeconds(speed/updatesPerSecond), engine.Millisecond)
		opt.Pace = speed
	}
	var names []string
	for _, mdl := range sc.Models {
		names = append(names, mdl.Name)
	}
	win := newWindows(names)
	opt.OnRequest = win.add
	opt.OnSnapshot = func(s sim.Snapshot) { m.snapshot(r, s, win.take(), time.Since(started).Seconds()) }
	out, err := twin.Simulate(r.ctx, sc, opt)
	status := StatusDone
	var pricing *twin.PricingError
	var cost *twin.CostError
	switch {
	case errors.As(err, &pricing):
		status, err = StatusStopped, nil
		if m.closing() {
			status = StatusInterrupted
		}
	case errors.As(err, &cost):
		err = nil // a cloud-priced node without a price failed validation already
	case errors.Is(err, context.Canceled) && m.closing():
		status, err = StatusInterrupted, nil
	case errors.Is(err, context.Canceled):
		status, err = StatusStopped, nil
	case err != nil:
		status = StatusFailed
	}
	m.finish(r, out, status, err)
}

// snapshot adds a point to the run's state, publishes it (complete, or
// the point alone for a large fleet) and saves the state every
// FlushEvery, so a server killed mid-run keeps it up to the last save.
func (m *Runs) snapshot(r *Run, s sim.Snapshot, win []windowP95, elapsed float64) {
	var msg, save []byte
	id := func() string { // locked; unlocked however apply ends
		r.mu.Lock()
		defer r.mu.Unlock()
		added := 0
		if r.state.applyWindows(s, elapsed, win) {
			added = 1
		}
		r.state.Seq++
		if r.delta {
			msg = wireJSON(r.state.delta(added))
		} else {
			msg = wireJSON(r.state)
		}
		if time.Since(r.flushed) >= m.FlushEvery {
			r.flushed = time.Now()
			save = mustJSON(r.state) // the file indented, for people
		}
		return r.state.ID
	}()
	m.cfg.Publisher.Publish(RunTopic(id), msg)
	if save != nil {
		if err := atomicfile.WriteFile(filepath.Join(r.dir, stateFile), save, 0o644); err != nil {
			m.log.Printf("run %s: saving its state: %v", id, err)
		}
	}
}

// finish records how the run ended, saves it and publishes the last state.
func (m *Runs) finish(r *Run, out *twin.Simulation, status string, err error) {
	r.mu.Lock()
	r.state.Status = status
	r.state.Done = true
	if err != nil {
		r.state.Error = err.Error()
	}
	if out != nil {
		r.outcome = out
	}
	r.state.Seq++
	st := r.state
	r.mu.Unlock()
	var errs []error
	if out != nil {
		errs = append(errs, atomicfile.WriteFile(filepath.Join(r.dir, resultFile), mustJSON(out), 0o644))
		if len(out.Series) > 0 {
			var b bytes.Buffer
			if err := twin.WriteSeriesCSV(&b, out.Series); err != nil {
				errs = append(errs, err)
			} else {
				errs = append(errs, atomicfile.WriteFile(filepath.Join(r.dir, seriesFile), b.Bytes(), 0o644))
			}
		}
	}
	errs = append(errs, atomicfile.WriteFile(filepath.Join(r.dir, stateFile), mustJSON(st), 0o644), m.saveMeta(st.Meta))
	if err := errors.Join(errs...); err != nil {
		m.log.Printf("run %s: saving: %v", st.ID, err)
		r.mu.Lock()
		r.state.Error = strings.TrimSpace(r.state.Error + "; saving: " + err.Error())
		st = r.state
		r.mu.Unlock()
	}
	if r.delta {
		m.cfg.Publisher.Publish(RunTopic(st.ID), wireJSON(st.delta(0)))
	} else {
		m.cfg.Publisher.Publish(RunTopic(st.ID), wireJSON(st))
	}
}
