package web

import (
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

func speedOf(r *http.Request) (float64, error) {
	v := r.FormValue("speed")
	if v == "" {
		return 600, nil
	}
	speed, err := strconv.ParseFloat(v, 64)
	if err != nil || speed < 0 {
		return 0, fmt.Errorf("speed: %q is not 0 or a positive multiple of real time", v)
	}
	return speed, nil
}

// startShipped starts one of the embedded scenarios.
func (s *Server) startShipped(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("scenario")
	if name == "" {
		name = scenarios.Default
	}
	if !slices.Contains(s.names, name) {
		http.Error(w, fmt.Sprintf("no shipped scenario %q", name), http.StatusBadRequest)
		return
	}
	speed, err := speedOf(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, _ := scenarios.FS.ReadFile(name)
	run, err := s.Runs.StartIn(session(r), name, data, speed)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	http.Redirect(w, r, "/runs/"+run.State().ID, http.StatusSeeOther)
}

func (s *Server) run(w http.ResponseWriter, r *http.Request) (*jobs.Run, bool) {
	run, ok := s.Runs.Get(r.PathValue("id"))
	if !ok {
		http.Error(w, fmt.Sprintf("no run %q", r.PathValue("id")), http.StatusNotFound)
	}
	return run, ok
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request) {
	if run, ok := s.run(w, r); ok {
		render(w, r, http.StatusOK, runPage(run.State(), run.Outcome(), s.verdictOf(run)))
	}
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	if err := s.Runs.Stop(r.PathValue("id")); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	http.Redirect(w, r, "/runs/"+r.PathValue("id"), http.StatusSeeOther)
}

func attachment(w http.ResponseWriter, name, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
}

func (s *Server) scenarioFile(w http.ResponseWriter, r *http.Request) {
	if run, ok := s.run(w, r); ok {
		attachment(w, jobs.Slug(run.State().Name)+".toml", "application/toml")
		w.Write(run.Scenario())
	}
}

func (s *Server) resultFile(w http.ResponseWriter, r *http.Request) {
	if run, ok := s.run(w, r); ok {
		o := run.Outcome()
		if o == nil {
			http.Error(w, "the run has no result yet", http.StatusConflict)
			return
		}
		writeJSON(w, o)
	}
}

func (s *Server) stateFile(w http.ResponseWriter, r *http.Request) {
	if run, ok := s.run(w, r); ok {
		writeJSON(w, run.State())
	}
}

// seriesCSV serves a finished run's result's per-device series in the one
// series format, the columns `simulate --series` writes (twin's
// WriteSeriesCSV): one row per device and bin. A run still going (or
// queued, or ended without a result) has none: 409, saying where its live
// points are (state.json).
func (s *Server) seriesCSV(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	data, err := run.SeriesCSV()
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	attachment(w, run.State().ID+"-series.csv", "text/csv")
	w.Write(data)
}

func (s *Server) chart(w http.ResponseWriter, r *http.Request) {
	run, ok := s.run(w, r)
	if !ok {
		return
	}
	file := r.PathValue("file")
	ext := path.Ext(file)
	format := strings.TrimPrefix(ext, ".")
	if format != "svg" && format != "png" {
		http.Error(w, "charts are .svg or .png", http.StatusNotFound)
		return
	}
	serveImage(w, format, http.StatusNotFound, func(out io.Writer) error {
		return writeChart(out, run.State(), strings.TrimSuffix(file, ext), format)
	})
}

// ws streams a run: its complete state first (a large fleet's as a head
// and parts, each under jobs.MessageLimit), then what it publishes
// (complete states, or deltas for a large fleet).
func (s *Server) ws(w http.ResponseWriter, r *http.Request) {
	if run, ok := s.run(w, r); ok {
		s.Hub.ServeWSFrom(w, r, jobs.RunTopic(r.PathValue("id")), func() [][]byte { return run.State().WireParts(jobs.MessageLimit) })
	}
}
