package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/calibrate/ollama"
)

// calJob is a calibration the dashboard started: real requests against
// real servers, recorded under the first calibration folder, which the
// calibration page then follows next to its twin.
type calJob struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set when done
	log    strings.Builder
}

// startCalibration runs the plan (name for errors, data its TOML) in the
// background and returns the run's ID. Models with url = "local" are
// served by the Ollama binary the server was given. When fromFolder, the
// plan is a file of the server's and errors do not quote it.
func (s *Server) startCalibration(name string, data []byte, fromFolder bool) (string, error) {
	if len(s.opt.CalibrationDirs) == 0 {
		return "", errors.New("no calibration folder: start the server with --calibrations DIR")
	}
	plan, err := calibrate.ParsePlan(name, data, s.opt.Catalog)
	if err != nil {
		if fromFolder {
			return "", withoutContents(name, err)
		}
		return "", err
	}
	planData := data
	local := 0
	for _, m := range plan.Models {
		if m.URL == calibrate.Local {
			local++
		}
	}
	if local > 0 && s.opt.Ollama == "" {
		return "", fmt.Errorf(`%s: %d model(s) have url = "local", and this server has no Ollama to serve them (fleettwin serve --ollama BIN)`, name, local)
	}
	// Starting and registering happen under one lock, so two requests
	// cannot both pass the check.
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	if busy := s.runningCalibration(); busy != "" {
		return "", fmt.Errorf("%w: %s is measuring; stop it or wait for it to end", errCalibrationBusy, busy)
	}
	root := s.opt.CalibrationDirs[0]
	dir, err := calibrate.Start(root, plan, planData, map[string]string{"fleettwin_go": runtime.Version(), "started_by": "dashboard"})
	if err != nil {
		return "", err
	}
	id := filepath.Base(dir)
	ctx, cancel := context.WithCancel(s.ctx)
	job := &calJob{cancel: cancel, done: make(chan struct{})}
	s.jobs[id] = job
	s.jobsWG.Add(1)
	go func() {
		defer s.jobsWG.Done()
		defer close(job.done)
		job.err = s.calibrateSafe(ctx, id, plan, dir, local > 0, &job.log)
		if job.err != nil {
			fmt.Fprintf(&job.log, "calibration stopped: %v\n", job.err)
		}
		if w, ok := s.watcher(id); ok {
			w.refresh() // the last records, and the job's end
		}
	}()
	return id, nil
}

// errCalibrationBusy refuses a second calibration while one runs: a
// calibration measures latency, power and heat, and two at once on the
// same machine or accelerator would measure each other.
var errCalibrationBusy = errors.New("one calibration at a time")

// runningCalibration returns the ID of a calibration still running, or
// "". s.jobsMu must be held.
func (s *Server) runningCalibration() string {
	for id, j := range s.jobs {
		select {
		case <-j.done:
		default:
			return id
		}
	}
	return ""
}

// calibrateSafe is calRun, and a calibration that panics ends with the
// panic as its error (the stack in the server log); the server goes on.
func (s *Server) calibrateSafe(ctx context.Context, id string, plan *calibrate.Plan, dir string, local bool, log io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.opt.Logger.Printf("calibration %s panicked: %v\n%s", id, p, debug.Stack())
			err = fmt.Errorf("the calibration crashed (a bug; the server log has the stack): %v", p)
		}
	}()
	return s.calRun(ctx, plan, dir, local, log)
}

func (s *Server) calibrate(ctx context.Context, plan *calibrate.Plan, dir string, local bool, log io.Writer) error {
	var srv *ollama.Server
	if local {
		var err error
		srv, err = calibrate.ServeLocal(ctx, plan, s.opt.Catalog, calibrate.LocalOptions{
			Bin: s.opt.Ollama, Dir: filepath.Join(filepath.Dir(dir), ".ollama"), Threads: 1, Log: log})
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

// jobError is what the dashboard knows of a calibration it started: its
// error once it ended, or "".
func (s *Server) jobError(id string) (running bool, msg string) {
	s.jobsMu.Lock()
	job, ok := s.jobs[id]
	s.jobsMu.Unlock()
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

// calibrationStart starts a calibration from a plan pasted as TOML, or
// named from the server's calibration plans folder. No other file of the
// server's is read.
func (s *Server) calibrationStart(w http.ResponseWriter, r *http.Request) {
	var (
		name       string
		data       []byte
		fromFolder bool
	)
	if text := strings.TrimSpace(r.FormValue("toml")); text != "" {
		name, data = "pasted-plan.toml", []byte(text)
	} else {
		name = strings.TrimSpace(r.FormValue("plan"))
		if name == "" {
			http.Error(w, "paste a calibration plan's TOML, or choose one of the server's plans ("+s.plansHint()+")", http.StatusBadRequest)
			return
		}
		var err error
		if data, err = readPlanFile(s.opt.CalibrationPlans, name); err != nil {
			http.Error(w, err.Error()+"; the server's plans: "+s.plansHint(), http.StatusBadRequest)
			return
		}
		fromFolder = true
	}
	id, err := s.startCalibration(name, data, fromFolder)
	if errors.Is(err, errCalibrationBusy) {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r, "/calibration/runs/"+id, http.StatusSeeOther)
}

func (s *Server) calibrationStop(w http.ResponseWriter, r *http.Request) {
	s.jobsMu.Lock()
	job, ok := s.jobs[r.PathValue("id")]
	s.jobsMu.Unlock()
	if !ok {
		http.Error(w, "this dashboard did not start that calibration", http.StatusNotFound)
		return
	}
	job.cancel()
	http.Redirect(w, r, "/calibration/runs/"+r.PathValue("id"), http.StatusSeeOther)
}
