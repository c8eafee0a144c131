package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/report"
	"github.com/fleettwin/fleettwin/scenarios"
)

// PlanState is a plan launched from the dashboard, as its page and its
// websocket show it.
type PlanState struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Session  string    `json:"-"`
	Started  time.Time `json:"started"`
	Done     int       `json:"done"`
	Total    int       `json:"total"`
	Sims     int64     `json:"simulations"`
	RatePerS float64   `json:"rate_per_s"` // configurations settled per second
	LeftS    float64   `json:"left_s"`     // estimated seconds to go
	Phase    string    `json:"phase"`      // searching, verifying, done, failed
	Error    string    `json:"error,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	// Verify is how far the winner's re-simulations are.
	Verify planner.Verifying `json:"verify"`
}

type planJob struct {
	mu     sync.Mutex
	state  PlanState
	source []byte
	result *planner.Result
	json   []byte
}

// loadPlans registers the plans finished in earlier lives of the server
// (dataDir/plans/{id}/result.json), so their pages and reports stay.
func (s *Server) loadPlans() error {
	if s.opt.DataDir == "" {
		return nil
	}
	dirs, err := os.ReadDir(filepath.Join(s.opt.DataDir, "plans"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("plans: %w", err)
	}
	for _, d := range dirs {
		dir := filepath.Join(s.opt.DataDir, "plans", d.Name())
		data, err := os.ReadFile(filepath.Join(dir, "result.json"))
		if err != nil {
			continue // a plan that never finished left nothing to show
		}
		var res planner.Result
		if err := json.Unmarshal(data, &res); err != nil {
			return fmt.Errorf("plan %s: %w", filepath.Join(dir, "result.json"), err)
		}
		src, _ := os.ReadFile(filepath.Join(dir, "plan.toml"))
		info, _ := d.Info()
		st := PlanState{ID: d.Name(), Name: res.Plan, Phase: "done", Summary: planSummary(&res), Done: res.Candidates, Total: res.Candidates}
		if info != nil {
			st.Started = info.ModTime()
		}
		s.plans[d.Name()] = &planJob{state: st, source: src, result: &res, json: data}
	}
	return nil
}

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

// planStart parses the posted plan (edited TOML, or a shipped plan by
// name) and searches it in the background.
func (s *Server) planStart(w http.ResponseWriter, r *http.Request) {
	name := r.FormValue("plan")
	src := []byte(strings.TrimSpace(r.FormValue("toml")))
	if len(src) == 0 {
		data, err := scenarios.Plans.ReadFile("plans/" + name)
		if err != nil || strings.Contains(name, "/") {
			http.Error(w, fmt.Sprintf("no shipped plan %q; choose one of %s or paste a plan's TOML", name, strings.Join(shippedPlans(), ", ")), http.StatusBadRequest)
			return
		}
		src = data
	} else {
		name = "edited.toml"
	}
	p, err := planner.Parse(name, src, s.opt.Catalog, s.opt.Profiles, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	b := make([]byte, 4)
	rand.Read(b)
	id := time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
	j := &planJob{source: src, state: PlanState{ID: id, Name: p.Name, Session: session(r), Started: time.Now(), Phase: "searching"}}
	s.plansMu.Lock()
	s.plans[id] = j
	s.plansMu.Unlock()
	s.jobsWG.Add(1)
	go func() {
		defer s.jobsWG.Done()
		s.runPlan(s.ctx, p, j)
	}()
	http.Redirect(w, r, "/plans/"+id, http.StatusSeeOther)
}

// runPlan searches, finishes and keeps the result under the data dir.
func (s *Server) runPlan(ctx context.Context, p *planner.Plan, j *planJob) {
	publish := func() {
		st := j.snapshot()
		s.hub.Publish(planTopic(st.ID), mustJSON(st))
	}
	update := func(f func(*PlanState)) {
		j.mu.Lock()
		f(&j.state)
		j.mu.Unlock()
		publish()
	}
	last := time.Time{}
	sh, err := p.Search(ctx, planner.Options{Progress: func(pr planner.Progress) {
		if pr.Done < pr.Total && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		update(func(st *PlanState) {
			st.Done, st.Total, st.Sims = pr.Done, pr.Total, pr.Simulations
			el := time.Since(st.Started).Seconds()
			if el > 0 && pr.Done > 0 {
				st.RatePerS = float64(pr.Done) / el
				st.LeftS = float64(pr.Total-pr.Done) / st.RatePerS
			}
		})
	}})
	var res *planner.Result
	if err == nil {
		update(func(st *PlanState) { st.Phase = "verifying" })
		res, err = p.Finish(ctx, sh, func(v planner.Verifying) {
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			update(func(st *PlanState) { st.Verify = v })
		})
	}
	var data []byte
	if err == nil {
		data, err = jsonfmt.Marshal(res)
	}
	if err == nil && s.opt.DataDir != "" {
		dir := filepath.Join(s.opt.DataDir, "plans", j.state.ID)
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = atomicfile.WriteFile(filepath.Join(dir, "plan.toml"), j.source, 0o644)
		}
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(dir, "result.json"), data, 0o644)
		}
	}
	j.mu.Lock()
	j.result, j.json = res, data
	j.mu.Unlock()
	update(func(st *PlanState) {
		st.LeftS = 0
		if err != nil {
			st.Phase, st.Error = "failed", err.Error()
			return
		}
		st.Phase = "done"
		st.Summary = planSummary(res)
	})
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
	case st.Phase == "done":
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
	case "verifying":
		v := st.Verify
		return fmt.Sprintf("%d/%d configurations searched (%d simulations); re-simulating the winner: run %d of %d, %.0f/%.0f simulated s",
			st.Done, st.Total, st.Sims, v.Run, v.Runs, v.NowS, v.DurationS)
	case "done":
		return fmt.Sprintf("%d/%d configurations, %d simulations", st.Total, st.Total, st.Sims)
	case "failed":
		return fmt.Sprintf("stopped at %d/%d configurations", st.Done, st.Total)
	}
	if st.Total == 0 {
		return "analysing the search space…"
	}
	return fmt.Sprintf("%d/%d configurations (%.0f%%) · %.2g per second · %s left · %d simulations",
		st.Done, st.Total, 100*float64(st.Done)/float64(st.Total), st.RatePerS, (time.Duration(st.LeftS) * time.Second).String(), st.Sims)
}
