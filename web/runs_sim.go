package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
)

// updatesPerSecond is the live stream's rate when a run is paced.
const updatesPerSecond = 10

// deltaDevices is the largest fleet whose live messages are complete
// states. A complete state grows with devices × points (a 100-node run's
// is megabytes); past this, each message carries only the newest point
// (a few hundred bytes per device), and a viewer starts from the complete
// state sent on connect.
const deltaDevices = 8

// simulateSafe is simulate, and a run that panics ends failed with the
// panic's message (its stack in the server log); the server goes on.
func (m *Runs) simulateSafe(ctx context.Context, r *Run, sc *scenario.Scenario) {
	defer func() {
		if p := recover(); p != nil {
			id := r.State().ID
			m.log.Printf("run %s panicked: %v\n%s", id, p, debug.Stack())
			m.finish(r, nil, StatusFailed, fmt.Errorf("the simulation crashed (a bug; the server log has the stack): %v", p))
		}
	}()
	m.simulate(ctx, r, sc)
}

func (m *Runs) simulate(ctx context.Context, r *Run, sc *scenario.Scenario) {
	started := time.Now()
	opt := sim.Options{SnapshotEvery: max(sc.Duration/200, engine.Millisecond)}
	if speed := r.State().Speed; speed > 0 {
		opt.SnapshotEvery = max(engine.FromSeconds(speed/updatesPerSecond), engine.Millisecond)
		opt.Pacer = &sim.WallPacer{Start: started, Speed: speed}
	}
	opt.OnSnapshot = func(s sim.Snapshot) { m.snapshot(r, s, time.Since(started).Seconds()) }
	res, err := m.simRun(ctx, sc, opt)
	out := &Outcome{Result: res}
	status := StatusDone
	switch {
	case errors.Is(err, context.Canceled) && m.closing():
		status, err = StatusInterrupted, nil
	case errors.Is(err, context.Canceled):
		status, err = StatusStopped, nil
	case err != nil:
		status = StatusFailed
	}
	if res != nil && status == StatusDone && res.Throttled() {
		var perr error
		if out.Throttling, perr = sim.PriceThrottling(ctx, sc, res); perr != nil {
			status = StatusStopped
			if m.closing() {
				status = StatusInterrupted
			}
		}
	}
	if res != nil {
		out.Cost, _ = tco.Evaluate(sc, res) // a cloud-priced node without a price failed validation already
	} else {
		out = nil
	}
	m.finish(r, out, status, err)
}

func (m *Runs) closing() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// snapshot adds a point to the run's state, publishes it (complete, or
// the point alone for a large fleet) and saves the state every
// flushEvery, so a server killed mid-run keeps it up to the last save.
func (m *Runs) snapshot(r *Run, s sim.Snapshot, elapsed float64) {
	var msg, save []byte
	id := func() string { // locked; unlocked however apply ends
		r.mu.Lock()
		defer r.mu.Unlock()
		r.state.apply(s, elapsed)
		r.state.Seq++
		if r.delta {
			msg = wireJSON(r.state.delta(1))
		} else {
			msg = mustJSON(r.state)
		}
		if time.Since(r.flushed) >= m.flushEvery {
			r.flushed = time.Now()
			if save = msg; r.delta {
				save = mustJSON(r.state)
			}
		}
		return r.state.ID
	}()
	m.hub.Publish(topic(id), msg)
	if save != nil {
		if err := atomicfile.WriteFile(filepath.Join(m.dir, id, stateFile), save, 0o644); err != nil {
			m.log.Printf("run %s: saving its state: %v", id, err)
		}
	}
}

// finish records how the run ended, saves it and publishes the last state.
func (m *Runs) finish(r *Run, out *Outcome, status string, err error) {
	dir := filepath.Join(m.dir, r.State().ID)
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
		errs = append(errs, atomicfile.WriteFile(filepath.Join(dir, resultFile), mustJSON(out), 0o644))
	}
	errs = append(errs, atomicfile.WriteFile(filepath.Join(dir, stateFile), mustJSON(st), 0o644), m.saveMeta(st.Meta))
	if err := errors.Join(errs...); err != nil {
		m.log.Printf("run %s: saving: %v", st.ID, err)
		r.mu.Lock()
		r.state.Error = strings.TrimSpace(r.state.Error + "; saving: " + err.Error())
		st = r.state
		r.mu.Unlock()
	}
	if r.delta {
		m.hub.Publish(topic(st.ID), wireJSON(st.delta(0)))
	} else {
		m.hub.Publish(topic(st.ID), mustJSON(st))
	}
}

// wireJSON is mustJSON without the indentation, for the stream.
func wireJSON(v any) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, mustJSON(v)); err != nil {
		panic(err) // mustJSON writes valid JSON
	}
	return b.Bytes()
}

// delta is the state with only its newest n points: what a viewer holding
// state Seq-1 appends (then thinning to MaxPoints, as thin does) to hold
// state Seq.
func (st State) delta(n int) State {
	last := func(xs []float64) []float64 { return xs[max(0, len(xs)-n):] }
	d := st
	d.Delta, d.MaxPoints = true, maxPoints
	d.T = last(st.T)
	d.Models = make([]ModelSeries, len(st.Models))
	for i, m := range st.Models {
		d.Models[i] = ModelSeries{Model: m.Model, Completed: m.Completed, TTFTP95: last(m.TTFTP95), TPOTP95: last(m.TPOTP95),
			E2EP95: last(m.E2EP95), Throughput: last(m.Throughput)}
	}
	d.Devices = make([]DeviceSeries, len(st.Devices))
	for i, x := range st.Devices {
		d.Devices[i] = DeviceSeries{Node: x.Node, Utilization: last(x.Utilization), KVUse: last(x.KVUse), PowerW: last(x.PowerW),
			TempC: last(x.TempC), Clock: last(x.Clock), Waiting: last(x.Waiting), Throttle: x.Throttle}
	}
	return d
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

// thin keeps every other point (and always the last), in new slices:
// copies of the state handed out earlier still share the old ones.
func (st *State) thin() {
	half := func(xs []float64) []float64 {
		out := make([]float64, 0, len(xs)/2+1)
		for i, x := range xs {
			if i%2 == 1 || i == len(xs)-1 {
				out = append(out, x)
			}
		}
		return out
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
