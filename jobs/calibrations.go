package jobs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/calibrate/ollama"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
)

// Calibrations starts calibrations (real requests against real servers,
// recorded under the first calibration folder) and follows calibration
// run directories next to their twin (Watch). One measures at a time.
type Calibrations struct {
	cfg    Config
	log    *log.Logger
	dirs   []string
	ollama string
	ctx    context.Context // every calibration's and watcher's parent: ends at Close
	end    context.CancelFunc

	watchMu  sync.Mutex
	watchers map[string]*calWatcher
	jobsMu   sync.Mutex // not watchMu: a watcher's first update, under watchMu, reads the jobs
	jobs     map[string]*calJob
	wg       sync.WaitGroup

	// Run measures a plan into dir (calibrate's Runner, serving url =
	// "local" models with Ollama when local). Tests replace it: a
	// calibration that panics, or waits to be stopped.
	Run func(ctx context.Context, plan *calibrate.Plan, dir string, local bool, log io.Writer) error
}

// calJob is a calibration started here.
type calJob struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set when done
	log    strings.Builder
}

// OpenCalibrations follows the calibration runs under dirs (the first
// is where new ones are recorded); ollama is the binary that serves
// url = "local" models ("" refuses such plans). Its calibrations and
// watchers end with ctx, or at Close.
func OpenCalibrations(ctx context.Context, cfg Config, dirs []string, ollama string) *Calibrations {
	c := &Calibrations{cfg: cfg, log: cfg.logger(), dirs: dirs, ollama: ollama, watchers: map[string]*calWatcher{}, jobs: map[string]*calJob{}}
	c.ctx, c.end = context.WithCancel(ctx)
	c.Run = c.calibrate
	return c
}

// IDs lists the calibration runs under the calibration folders, newest
// first (IDs start with the date).
func (c *Calibrations) IDs() []string {
	var ids []string
	for id := range c.runs() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids
}

// Dirs are the calibration folders followed.
func (c *Calibrations) Dirs() []string { return c.dirs }

// ErrBusy refuses a second calibration while one runs: a calibration
// measures latency, power and heat, and two at once on the same machine
// or accelerator would measure each other.
var ErrBusy = errors.New("one calibration at a time")

// Start runs the plan (name for errors, data its TOML) in the background
// and returns the run's ID. beside is nil for a pasted plan; for a plan
// from the server's plans folder it reads the files beside it (the
// plan's own catalog entries), and errors do not quote the plan.
func (c *Calibrations) Start(name string, data []byte, beside calibrate.ReadFunc) (string, error) {
	if len(c.dirs) == 0 {
		return "", errors.New("no calibration folder: start the server with --calibrations DIR")
	}
	fromFolder := beside != nil
	plan, err := calibrate.ParsePlanFrom(name, data, c.cfg.Catalog, beside)
	if err != nil {
		if fromFolder {
			return "", withoutContents(name, err)
		}
		return "", err
	}
	// A plan that starts programs of its own is for `fleettwin calibrate
	// run` on the measured box: the dashboard starts no server processes.
	if len(plan.Servers) > 0 {
		return "", fmt.Errorf("%s: the plan starts %d server process(es) itself ([[servers]]); the dashboard starts none: run it with `fleettwin calibrate run`", name, len(plan.Servers))
	}
	local := 0
	for _, m := range plan.Models {
		if m.URL == calibrate.Local {
			local++
		}
	}
	if local > 0 && c.ollama == "" {
		return "", fmt.Errorf(`%s: %d model(s) have url = "local", and this server has no Ollama to serve them: start the dashboard with `+"`make run-ollama`"+`, which builds Ollama, or with fleettwin serve --ollama BIN`, name, local)
	}
	// Starting and registering happen under one lock, so two requests
	// cannot both pass the check.
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	if busy := c.running(); busy != "" {
		return "", fmt.Errorf("%w: %s is measuring; stop it or wait for it to end", ErrBusy, busy)
	}
	dir, err := calibrate.Start(c.dirs[0], plan, data, map[string]string{"fleettwin_go": runtime.Version(), "started_by": "dashboard"})
	if err != nil {
		return "", err
	}
	id := filepath.Base(dir)
	ctx, cancel := context.WithCancel(c.ctx)
	job := &calJob{cancel: cancel, done: make(chan struct{})}
	c.jobs[id] = job
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		err := c.runSafe(ctx, id, plan, dir, local > 0, &job.log)
		if err != nil {
			fmt.Fprintf(&job.log, "calibration stopped: %v\n", err)
		}
		// Marked done before the watcher recomputes, so the state it
		// publishes is the job's end (failed, stopped, finished), not
		// "measuring" for ever.
		job.err = err
		close(job.done)
		if w, ok := c.watcher(id); ok {
			w.refresh() // the last records, and the job's end
		}
	}()
	return id, nil
}

// Running returns the ID of the calibration measuring, or "".
func (c *Calibrations) Running() string {
	c.jobsMu.Lock()
	defer c.jobsMu.Unlock()
	return c.running()
}

// running is Running with c.jobsMu held.
func (c *Calibrations) running() string {
	for id, j := range c.jobs {
		select {
		case <-j.done:
		default:
			return id
		}
	}
	return ""
}

// runSafe is Run, and a calibration that panics ends with the panic as
// its error (the stack in the server log); the server goes on.
func (c *Calibrations) runSafe(ctx context.Context, id string, plan *calibrate.Plan, dir string, local bool, log io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Printf("calibration %s panicked: %v\n%s", id, p, debug.Stack())
			err = fmt.Errorf("the calibration crashed (a bug; the server log has the stack): %v", p)
		}
	}()
	return c.Run(ctx, plan, dir, local, log)
}

func (c *Calibrations) calibrate(ctx context.Context, plan *calibrate.Plan, dir string, local bool, log io.Writer) error {
	var srv *ollama.Server
	if local {
		var err error
		srv, err = calibrate.ServeLocal(ctx, plan, c.cfg.Catalog, calibrate.LocalOptions{
			Bin: c.ollama, Dir: filepath.Join(filepath.Dir(dir), ".ollama"), Threads: 1, Log: log})
		if err != nil {
			return err
		}
		defer srv.Stop()
		if _, err := calibrate.RecordServers(ctx, dir, srv, plan); err != nil {
			fmt.Fprintf(log, "could not record server settings: %v\n", err)
		}
	}
	return (&calibrate.Runner{Plan: plan, Dir: dir, Progress: log}).Run(ctx)
}

// JobError is what is known of a calibration started here: whether it
// still runs, and its error once it ended ("" for none, or for a run
// not started here).
func (c *Calibrations) JobError(id string) (running bool, msg string) {
	c.jobsMu.Lock()
	job, ok := c.jobs[id]
	c.jobsMu.Unlock()
	if !ok {
		return false, ""
	}
	select {
	case <-job.done:
		if job.err != nil {
			return false, job.err.Error()
		}
		return false, ""
	default:
		return true, ""
	}
}

// The outcomes of a calibration, as CalState.Outcome says them.
const (
	CalMeasuring  = "measuring"  // started here and still measuring
	CalFinished   = "finished"   // every experiment recorded
	CalFailed     = "failed"     // started here and ended with an error
	CalStopped    = "stopped"    // started here and stopped by the user (or the server's end)
	CalUnfinished = "unfinished" // recorded elsewhere (or before a restart) and not finished
)

// outcome is a run's outcome from what its job says and its records.
func outcome(running bool, jobErr string, finished bool) string {
	switch {
	case running:
		return CalMeasuring
	case finished:
		return CalFinished
	case jobErr == context.Canceled.Error():
		return CalStopped
	case jobErr != "":
		return CalFailed
	}
	return CalUnfinished
}

// Stop stops a calibration started here; false if there is none by id.
func (c *Calibrations) Stop(id string) bool {
	c.jobsMu.Lock()
	job, ok := c.jobs[id]
	c.jobsMu.Unlock()
	if ok {
		job.cancel()
	}
	return ok
}

// Close stops the calibrations and the watchers, and waits for the
// calibrations to stop their servers and keep their records.
func (c *Calibrations) Close() {
	c.end()
	c.wg.Wait()
}

// withoutContents rewrites a plan's errors to name the plan, line and
// field only: the messages of the TOML decoder and of validation may
// quote the file, which a request must not be able to read this way.
func withoutContents(name string, err error) error {
	var list tomlcheck.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return fmt.Errorf("%s: not a valid calibration plan", name)
	}
	msgs := make([]string, 0, len(list))
	for _, e := range list {
		m := name
		if e.Line > 0 {
			m += fmt.Sprintf(":%d", e.Line)
		}
		if e.Field != "" {
			m += ": " + e.Field
		}
		msgs = append(msgs, m+": invalid")
	}
	return fmt.Errorf("%s is not a valid calibration plan (messages are not shown for the server's files; paste the plan to see them):\n%s", name, strings.Join(msgs, "\n"))
}
