package jobs

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/perf"
)

// CalState is a calibration run next to its twin: each experiment as
// measured and as the simulator replays it, with the running error, and
// the device telemetry. Complete in every message, like State.
type CalState struct {
	ID       string `json:"id"`
	Dir      string `json:"dir"`
	Hardware string `json:"hardware"`
	Engine   string `json:"engine"`
	Profile  string `json:"profile"` // what the twin ran on
	Finished bool   `json:"finished"`
	Running  bool   `json:"running"` // started by this dashboard and still measuring
	// Outcome is CalMeasuring, CalFinished, CalFailed (Error says why,
	// the job's cause first), CalStopped or CalUnfinished.
	Outcome   string   `json:"outcome"`
	Requests  int      `json:"requests"` // recorded so far
	Planned   int      `json:"planned"`
	Error     string   `json:"error,omitempty"`
	Exps      []CalExp `json:"experiments"`
	MedianErr struct {
		TPOT []float64 `json:"tpot_p50"` // after each experiment, in percent
		E2E  []float64 `json:"e2e_p50"`
	} `json:"median_abs_error_pct"`
	Telemetry struct {
		T      []float64 `json:"t"` // seconds since the first sample
		Util   []float64 `json:"util_pct"`
		PowerW []float64 `json:"power_w"`
		TempC  []float64 `json:"temp_c"`
	} `json:"telemetry"`
}

// CalExp is one model in one experiment, measured and simulated (p50s,
// seconds).
type CalExp struct {
	Experiment string  `json:"experiment"`
	Model      string  `json:"model"`
	HeldOut    bool    `json:"held_out"`
	TPOT       float64 `json:"tpot_measured"`
	TPOTSim    float64 `json:"tpot_simulated"`
	E2E        float64 `json:"e2e_measured"`
	E2ESim     float64 `json:"e2e_simulated"`
	TPOTErrPct float64 `json:"tpot_error_pct"`
	E2EErrPct  float64 `json:"e2e_error_pct"`
}

// calWatcher follows one calibration run directory: whenever its records
// grow it replays the finished experiments through the twin and
// publishes the new state. Watching costs nothing while the files do not
// change.
type calWatcher struct {
	c     *Calibrations
	id    string
	dir   string
	mu    sync.Mutex
	state CalState
	seen  string                 // size and time of the files at the last look
	cache *calibrate.ReplayCache // the replays of this run's experiments
}

// calPoll is how often a watched calibration run is looked at.
const calPoll = 500 * time.Millisecond

// runs lists the run directories under the calibration folders, by ID.
func (c *Calibrations) runs() map[string]string {
	out := map[string]string{}
	for _, root := range c.dirs {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			dir := filepath.Join(root, e.Name())
			if _, err := os.Stat(filepath.Join(dir, calibrate.StateFile)); e.IsDir() && err == nil {
				out[e.Name()] = dir
			}
		}
	}
	return out
}

// Watch returns the state of the calibration run id, found under the
// calibration folders, replayed through the twin, and follows it from
// then on: its updates are published under CalibrationTopic(id). False
// if there is no such run.
func (c *Calibrations) Watch(id string) (CalState, bool) {
	w, ok := c.watcher(id)
	if !ok {
		return CalState{}, false
	}
	return w.State(), true
}

// watcher returns the run's watcher, starting it on first use.
func (c *Calibrations) watcher(id string) (*calWatcher, bool) {
	dir, ok := c.runs()[id]
	if !ok {
		return nil, false
	}
	c.watchMu.Lock()
	defer c.watchMu.Unlock()
	if w, ok := c.watchers[id]; ok {
		return w, true
	}
	w := &calWatcher{c: c, id: id, dir: dir, cache: newReplayCache()}
	w.update()
	c.watchers[id] = w
	go w.loop(c.ctx)
	return w, true
}

func (w *calWatcher) loop(ctx context.Context) {
	t := time.NewTicker(calPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.update()
		}
	}
}

func fileStamp(paths ...string) string {
	var s string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return s
}

// update reloads the run if its files changed and publishes the state.
func (w *calWatcher) update() {
	stamp := fileStamp(filepath.Join(w.dir, calibrate.RequestsFile), filepath.Join(w.dir, calibrate.StateFile),
		filepath.Join(w.dir, calibrate.TelemetryFile), filepath.Join(w.dir, "profile.toml"))
	w.mu.Lock()
	same := stamp == w.seen
	w.seen = stamp
	w.mu.Unlock()
	if same {
		return
	}
	st := w.computeSafe()
	w.mu.Lock()
	if st.Error != "" && len(st.Exps) == 0 && len(w.state.Exps) > 0 {
		// A file that cannot be read right now (a bad line, a run
		// directory being rewritten) does not wipe what was shown.
		// The job's end still shows.
		prev := w.state
		prev.Error, prev.Running, prev.Outcome = st.Error, st.Running, st.Outcome
		st = prev
	}
	w.state = st
	w.mu.Unlock()
	w.c.cfg.Publisher.Publish(CalibrationTopic(w.id), mustJSON(st))
}

// computeSafe is compute, and a replay that panics shows the panic as the
// run's error (the stack in the server log) and keeps the watcher going.
func (w *calWatcher) computeSafe() (st CalState) {
	defer func() {
		if p := recover(); p != nil {
			w.c.log.Printf("calibration run %s: replaying it panicked: %v\n%s", w.id, p, debug.Stack())
			running, _ := w.c.JobError(w.id)
			st = CalState{ID: w.id, Dir: w.dir, Running: running, Outcome: outcome(running, "", false), Exps: []CalExp{},
				Error: fmt.Sprintf("replaying the run through the twin crashed (a bug; the server log has the stack): %v", p)}
		}
	}()
	return w.compute()
}

// refresh recomputes and publishes even if no file changed (a job ended).
func (w *calWatcher) refresh() {
	w.mu.Lock()
	w.seen = ""
	w.mu.Unlock()
	w.update()
}

// State is what the watcher published last.
func (w *calWatcher) State() CalState {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

// compute replays what the run has recorded so far through the twin: on
// the run's own fitted profile if `calibrate fit` wrote one, else on the
// server's profile for the run's hardware and engine.
func (w *calWatcher) compute() (st CalState) {
	st = CalState{ID: w.id, Dir: w.dir}
	running, jobErr := w.c.JobError(w.id)
	st.Running = running
	defer func() {
		st.Outcome = outcome(running, jobErr, st.Finished)
		switch {
		case st.Outcome == CalStopped:
			st.Error = strings.TrimSpace("stopped before every experiment was recorded\n" + st.Error)
		case jobErr != "":
			// The job's cause first: what the records lack follows from it.
			st.Error = strings.TrimSpace(jobErr + "\n" + st.Error)
		}
		if st.Exps == nil {
			st.Exps = []CalExp{} // "experiments": [], never null, for the page's script
		}
	}()
	run, err := calibrate.LoadRun(w.dir, w.c.cfg.Catalog)
	if err != nil {
		st.Error = err.Error()
		return st
	}
	st.Hardware, st.Engine, st.Finished = run.State.Hardware, run.State.Engine, run.State.Finished
	for id, rs := range run.Measured {
		if id == calibrate.WarmupID {
			continue
		}
		for _, m := range rs {
			st.Requests += m.Requests
		}
	}
	for _, e := range run.Experiments {
		st.Planned += e.Requests * len(e.Models)
	}
	prof, err := w.c.cfg.Profiles.Get(st.Hardware, st.Engine)
	st.Profile = "the " + st.Hardware + "/" + st.Engine + " profile"
	if err != nil && slices.Contains(perf.Engines, st.Engine) {
		// No profile yet for this pair: the datasheet prior, as
		// `fleettwin profile prior` writes it.
		prof, err = perf.Prior(st.Hardware, st.Engine), nil
		st.Profile = "the datasheet prior for " + st.Hardware + "/" + st.Engine + " (not fitted yet)"
	}
	if data, ferr := os.ReadFile(filepath.Join(w.dir, "profile.toml")); ferr == nil {
		if p, perr := perf.ParseProfile("profile.toml", data); perr == nil {
			prof, err, st.Profile = p, nil, "this run's fitted profile.toml"
		}
	}
	if err != nil {
		st.Error = fmt.Sprintf("no profile to replay on: %v (run `fleettwin calibrate fit %s`)", err, w.dir)
	} else {
		cs, err := w.replay(run, prof)
		if err != nil {
			st.Error = err.Error()
		}
		st.Exps = experiments(cs)
	}
	var tpot, e2e []float64
	for _, e := range st.Exps {
		if !math.IsNaN(e.TPOTErrPct) {
			tpot = append(tpot, math.Abs(e.TPOTErrPct))
		}
		if !math.IsNaN(e.E2EErrPct) {
			e2e = append(e2e, math.Abs(e.E2EErrPct))
		}
		st.MedianErr.TPOT = append(st.MedianErr.TPOT, median(tpot))
		st.MedianErr.E2E = append(st.MedianErr.E2E, median(e2e))
	}
	if samples, err := calibrate.ReadTelemetry(w.dir); err == nil && len(samples) > 0 {
		step := max(1, len(samples)/maxPoints)
		t0 := samples[0].T
		for i := 0; i < len(samples); i += step {
			s := samples[i]
			st.Telemetry.T = append(st.Telemetry.T, s.T.Sub(t0).Seconds())
			st.Telemetry.Util = append(st.Telemetry.Util, s.UtilPct)
			st.Telemetry.PowerW = append(st.Telemetry.PowerW, orNaN(s.PowerW, s.Has.Power))
			st.Telemetry.TempC = append(st.Telemetry.TempC, orNaN(s.TempC, s.Has.Temp))
		}
	}
	return st
}

func orNaN(v float64, ok bool) float64 {
	if ok {
		return v
	}
	return math.NaN()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// experiments folds comparisons into one row per experiment and model,
// in the order the run measured them.
func experiments(cs []calibrate.Comparison) []CalExp {
	var out []CalExp
	index := map[[2]string]int{}
	for _, c := range cs {
		k := [2]string{c.Experiment, c.Model}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, CalExp{Experiment: c.Experiment, Model: c.Model, HeldOut: c.HeldOut,
				TPOT: math.NaN(), TPOTSim: math.NaN(), E2E: math.NaN(), E2ESim: math.NaN(), TPOTErrPct: math.NaN(), E2EErrPct: math.NaN()})
		}
		e := &out[i]
		switch c.Metric {
		case "tpot_p50":
			e.TPOT, e.TPOTSim, e.TPOTErrPct = c.Measured, c.Predicted, c.ErrorPct()
		case "e2e_p50":
			e.E2E, e.E2ESim, e.E2EErrPct = c.Measured, c.Predicted, c.ErrorPct()
		}
	}
	return out
}
