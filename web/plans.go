package web

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/report"
	"github.com/fleettwin/fleettwin/scenarios"
)

func (j *planJob) snapshot() PlanState {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.state
}

func planTopic(id string) string { return "plan/" + id }

// shippedPlans lists the plans in scenarios.Plans, the default first.
func shippedPlans() []string {
	entries, _ := fs.ReadDir(scenarios.Plans, "plans")
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmpBool(b == scenarios.DefaultPlan, a == scenarios.DefaultPlan)*2 + strings.Compare(a, b)
	})
	return out
}

func planSummary(r *planner.Result) string {
	if r.Winner == nil {
		return fmt.Sprintf("%d configurations: none meets every target", r.Candidates)
	}
	w := r.Winner
	return fmt.Sprintf("%d configurations, %d meet every target; cheapest: #%d %s %s %s, %d nodes, $%.0f per month",
		r.Candidates, len(r.Ranked), w.Index, w.Hardware, w.Engine, w.Quant, w.Metrics.Nodes, w.Metrics.USDPerMonth)
}

func (s *Server) planJob(w http.ResponseWriter, r *http.Request) (*planJob, bool) {
	s.plansMu.Lock()
	j := s.plans[r.PathValue("id")]
	s.plansMu.Unlock()
	if j == nil {
		http.Error(w, "no such plan: "+r.PathValue("id"), http.StatusNotFound)
		return nil, false
	}
	return j, true
}

// sessionPlans lists a browser session's plans, newest first.
func (s *Server) sessionPlans(sess string) []PlanState {
	s.plansMu.Lock()
	defer s.plansMu.Unlock()
	var out []PlanState
	for _, j := range s.plans {
		if st := j.snapshot(); st.Session == sess {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b PlanState) int { return b.Started.Compare(a.Started) })
	return out
}

func (s *Server) planPage(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		render(w, r, http.StatusOK, planPage(j.snapshot()))
	}
}

func (s *Server) planState(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		writeJSON(w, j.snapshot())
	}
}

func (s *Server) planWS(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if s.hub.Last(planTopic(j.state.ID)) == nil {
			s.hub.Publish(planTopic(j.state.ID), mustJSON(j.snapshot()))
		}
		s.hub.ServeWS(w, r, planTopic(r.PathValue("id")))
	}
}

// finished returns the plan's result, or answers 409 while it runs.
func (j *planJob) finished(w http.ResponseWriter) (*planner.Result, []byte, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.result == nil {
		http.Error(w, "the plan has no result (yet): "+j.state.Phase+" "+j.state.Error, http.StatusConflict)
		return nil, nil, false
	}
	return j.result, j.json, true
}

func (s *Server) planResult(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if _, data, ok := j.finished(w); ok {
			w.Header().Set("Content-Type", "application/json")
			w.Write(data)
		}
	}
}

func (s *Server) planReport(w http.ResponseWriter, r *http.Request) {
	if j, ok := s.planJob(w, r); ok {
		if res, _, ok := j.finished(w); ok {
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
	res, _, ok := j.finished(w)
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
	data, err := scenarios.Plans.ReadFile("plans/" + name)
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

func planFraction(st PlanState) float64 {
	switch {
	case st.Phase == PhaseDone:
		return 100
	case st.Total == 0:
		return 0
	}
	return 100 * float64(st.Done) / float64(st.Total)
}

// planProgressText is done/total, rate and time left, as the terminal
// shows them.
func planProgressText(st PlanState) string {
	switch st.Phase {
	case PhaseQueued:
		return fmt.Sprintf("#%d in the queue: it starts when the running plan ends", st.QueuePos)
	case PhaseVerifying:
		v := st.Verify
		return fmt.Sprintf("%d/%d configurations searched (%d simulations); re-simulating the winner: run %d of %d, %.0f/%.0f simulated s",
			st.Done, st.Total, st.Sims, v.Run, v.Runs, v.NowS, v.DurationS)
	case PhaseDone:
		return fmt.Sprintf("%d/%d configurations, %d simulations", st.Total, st.Total, st.Sims)
	case PhaseFailed, PhaseStopped, PhaseInterrupted:
		return fmt.Sprintf("%s at %d/%d configurations (%d simulations)", st.Phase, st.Done, st.Total, st.Sims)
	}
	if st.Total == 0 {
		return "analysing the search space…"
	}
	return fmt.Sprintf("%d/%d configurations (%.0f%%) · %.2g per second · %s left · %d simulations",
		st.Done, st.Total, 100*float64(st.Done)/float64(st.Total), st.RatePerS, (time.Duration(st.LeftS) * time.Second).String(), st.Sims)
}
