package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/plans"
	"github.com/fleettwin/fleettwin/report"
)

// shippedPlans lists the plans in plans.FS, the default first.
func shippedPlans() []string {
	entries, _ := fs.ReadDir(plans.FS, ".")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmpBool(b == plans.Default, a == plans.Default)*2 + strings.Compare(a, b)
	})
	return out
}

// planStart parses the posted plan (edited TOML, or a shipped plan by
// name) and searches it in the background, or queues it past the limit.
func (s *Server) planStart(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("plan")
	src := []byte(strings.TrimSpace(r.FormValue("toml")))
	if len(src) == 0 {
		data, err := plans.FS.ReadFile(name)
		if err != nil || strings.Contains(name, "/") {
			http.Error(w, fmt.Sprintf("no shipped plan %q; choose one of %s or paste a plan's TOML", name, strings.Join(shippedPlans(), ", ")), http.StatusBadRequest)
			return
		}
		src = data
	} else {
		name = "edited.toml"
	}
	p, err := s.Plans.Parse(name, src)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	st, err := s.Plans.Start(session(r), src, p)
	switch {
	case errors.Is(err, jobs.ErrStopping):
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/plans/"+st.ID, http.StatusSeeOther)
}

// planStop stops a searching plan (it ends stopped, with how far it got)
// or takes a queued one out of the queue.
func (s *Server) planStop(w http.ResponseWriter, r *http.Request) {
	j, ok := s.planJob(w, r)
	if !ok {
		return
	}
	s.Plans.Stop(j.State().ID)
	http.Redirect(w, r, "/plans/"+j.State().ID, http.StatusSeeOther)
}

func (s *Server) planJob(w http.ResponseWriter, r *http.Request) (*jobs.Plan, bool) {
	j, ok := s.Plans.Get(r.PathValue("id"))
	if !ok {
		http.Error(w, "no such plan: "+r.PathValue("id"), http.StatusNotFound)
		return nil, false
	}
	return j, true
}

func (s *Server) planPage(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		render(w, r, http.StatusOK, planPage(j.State()))
	}
}

func (s *Server) planState(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		writeJSON(w, j.State())
	}
}

func (s *Server) planWS(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if topic := jobs.PlanTopic(j.State().ID); s.Hub.Last(topic) == nil {
			s.Hub.Publish(topic, j.StateJSON())
		}
		s.Hub.ServeWS(w, r, jobs.PlanTopic(r.PathValue("id")))
	}
}

// finished returns the plan's result, or answers 409 while it has none.
func finished(w http.ResponseWriter, j *jobs.Plan) (*planner.Result, []byte, bool) {
	res, data, st := j.Finished()
	if res == nil {
		http.Error(w, "the plan has no result (yet): "+st.Phase+" "+st.Error, http.StatusConflict)
		return nil, nil, false
	}
	return res, data, true
}

func (s *Server) planResult(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if _, data, ok := finished(w, j); ok {
			w.Header().Set("Content-Type", "application/json")
			w.Write(data)
		}
	}
}

func (s *Server) planReport(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if res, _, ok := finished(w, j); ok {
			var b bytes.Buffer
			if err := report.Plan(&b, res); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(b.Bytes())
		}
	}
}

func (s *Server) planChart(w http.ResponseWriter, r *http.Request) {
	j, ok := s.planJob(w, r)
	if !ok {
		return
	}
	res, _, ok := finished(w, j)
	if !ok {
		return
	}
	name, format, _ := strings.Cut(r.PathValue("file"), ".")
	for _, c := range report.PlanCharts(res) {
		if _, ok := imageTypes[format]; ok && c.Name == name {
			serveImage(w, format, http.StatusInternalServerError, func(out io.Writer) error { return c.Draw(out, format) })
			return
		}
	}
	http.Error(w, "no chart "+r.PathValue("file"), http.StatusNotFound)
}

// shippedPlan serves a shipped plan's TOML, for the what-if page's editor.
func (s *Server) shippedPlan(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	data, err := plans.FS.ReadFile(name)
	if err != nil || strings.Contains(name, "/") {
		http.Error(w, "no shipped plan "+name, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(data)
}

func firstOr(xs []string, d string) string {
	if len(xs) > 0 {
		return xs[0]
	}
	return d
}

func planFraction(st jobs.PlanState) float64 {
	switch {
	case st.Phase == jobs.PhaseDone:
		return 100
	case st.Total == 0:
		return 0
	}
	return 100 * float64(st.Done) / float64(st.Total)
}

// planProgressText is done/total, rate and time left, as the terminal
// shows them.
func planProgressText(st jobs.PlanState) string {
	switch st.Phase {
	case jobs.PhaseQueued:
		return fmt.Sprintf("#%d in the queue: it starts when the running plan ends", st.QueuePos)
	case jobs.PhaseVerifying:
		v := st.Verify
		return fmt.Sprintf("%d/%d configurations searched (%d simulations); re-simulating the winner: run %d of %d, %.0f/%.0f simulated s",
			st.Done, st.Total, st.Sims, v.Run, v.Runs, v.NowS, v.DurationS)
	case jobs.PhaseDone:
		return fmt.Sprintf("%d/%d configurations, %d simulations", st.Total, st.Total, st.Sims)
	case jobs.PhaseFailed, jobs.PhaseStopped, jobs.PhaseInterrupted:
		return fmt.Sprintf("%s at %d/%d configurations (%d simulations)", st.Phase, st.Done, st.Total, st.Sims)
	}
	if st.Total == 0 {
		return "analysing the search space…"
	}
	return fmt.Sprintf("%d/%d configurations (%.0f%%) · %.2g per second · %s left · %d simulations",
		st.Done, st.Total, 100*float64(st.Done)/float64(st.Total), st.RatePerS, (time.Duration(st.LeftS) * time.Second).String(), st.Sims)
}

// plansList is the planner's page: every plan, newest first.
func (s *Server) plansList(w http.ResponseWriter, r *http.Request) {
	render(w, r, http.StatusOK, plansListPage(s.Plans.List()))
}
