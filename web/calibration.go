package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
)

func (s *Server) calibrationRun(w http.ResponseWriter, r *http.Request) {
	st, ok := s.Calibrations.Watch(r.PathValue("id"))
	if !ok {
		http.Error(w, fmt.Sprintf("no calibration run %q under %v", r.PathValue("id"), s.Calibrations.Dirs()), http.StatusNotFound)
		return
	}
	render(w, r, http.StatusOK, calibrationRunPage(st))
}

func (s *Server) calibrationState(w http.ResponseWriter, r *http.Request) {
	if st, ok := s.Calibrations.Watch(r.PathValue("id")); ok {
		writeJSON(w, st)
		return
	}
	http.Error(w, "no such calibration run", http.StatusNotFound)
}

func (s *Server) calibrationWS(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.Calibrations.Watch(r.PathValue("id")); !ok {
		http.Error(w, "no such calibration run", http.StatusNotFound)
		return
	}
	s.Hub.ServeWS(w, r, jobs.CalibrationTopic(r.PathValue("id")))
}

func (s *Server) calibrationChart(w http.ResponseWriter, r *http.Request) {
	st, ok := s.Calibrations.Watch(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such calibration run", http.StatusNotFound)
		return
	}
	file := r.PathValue("file")
	ext := filepath.Ext(file)
	format := strings.TrimPrefix(ext, ".")
	title, xlabel, unit, x, labels, ys, ok := calChartSeries(st, strings.TrimSuffix(file, ext))
	if !ok || (format != "svg" && format != "png") {
		http.Error(w, fmt.Sprintf("no chart %q: tpot, e2e, err or telemetry, as .svg or .png", file), http.StatusNotFound)
		return
	}
	serveImage(w, format, http.StatusInternalServerError, func(out io.Writer) error {
		return writeLines(out, st.ID+": "+title, xlabel, unit, x, labels, ys, format)
	})
}

// calibrationStart starts a calibration from a plan pasted as TOML, or
// named from the server's calibration plans folder. No other file of the
// server's is read.
func (s *Server) calibrationStart(w http.ResponseWriter, r *http.Request) {
	var (
		name   string
		data   []byte
		beside func(string) ([]byte, error) // nil: pasted
	)
	if text := strings.TrimSpace(r.FormValue("toml")); text != "" {
		name, data = "pasted-plan.toml", []byte(text)
	} else {
		name = strings.TrimSpace(r.FormValue("plan"))
		if name == "" {
			s.calibrationProblem(w, r, http.StatusBadRequest, "paste a calibration plan's TOML, or choose one of the server's plans ("+s.plansHint()+")")
			return
		}
		var err error
		if data, err = readPlanFile(s.CalibrationPlans, name); err != nil {
			s.calibrationProblem(w, r, http.StatusBadRequest, err.Error()+"; the server's plans: "+s.plansHint())
			return
		}
		beside = func(file string) ([]byte, error) { return readPlanFile(s.CalibrationPlans, file) }
	}
	id, err := s.Calibrations.Start(name, data, beside)
	if errors.Is(err, jobs.ErrBusy) {
		s.calibrationProblem(w, r, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.calibrationProblem(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	http.Redirect(w, r, "/calibration/runs/"+id, http.StatusSeeOther)
}

// calibrationProblem answers a calibration that cannot start with the
// calibration page, the problem above its form, not a bare text page.
func (s *Server) calibrationProblem(w http.ResponseWriter, r *http.Request, status int, problem string) {
	render(w, r, status, calibrationPage(s.sortedProfiles(), s.Calibrations.IDs(), s.calibrationPlans(), problem))
}

func (s *Server) calibrationStop(w http.ResponseWriter, r *http.Request) {
	if !s.Calibrations.Stop(r.PathValue("id")) {
		http.Error(w, "this dashboard did not start that calibration", http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/calibration/runs/"+r.PathValue("id"), http.StatusSeeOther)
}

// calStatusClass colours a calibration's outcome as a run's status.
func calStatusClass(outcome string) string {
	switch outcome {
	case jobs.CalMeasuring:
		return "running"
	case jobs.CalFinished:
		return "done"
	case jobs.CalFailed:
		return "failed"
	}
	return "stopped"
}
