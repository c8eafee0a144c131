package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenarios"
)

// Plan phases.
const (
	PhaseQueued      = "queued" // waiting for a free slot (Options.MaxPlans)
	PhaseSearching   = "searching"
	PhaseVerifying   = "verifying"
	PhaseDone        = "done"
	PhaseFailed      = "failed"      // an error, or a crash
	PhaseStopped     = "stopped"     // by the user
	PhaseInterrupted = "interrupted" // the server stopped while it searched or waited
)

// planOver reports whether a plan in phase has ended.
func planOver(phase string) bool {
	switch phase {
	case PhaseDone, PhaseFailed, PhaseStopped, PhaseInterrupted:
		return true
	}
	return false
}

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
	Phase    string    `json:"phase"`      // one of the Phase constants
	QueuePos int       `json:"queue_position,omitempty"`
	Error    string    `json:"error,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	// Verify is how far the winner's re-simulations are.
	Verify planner.Verifying `json:"verify"`
}

// savedPlan is a plan's state.json: its state and the session that
// started it, saved as it goes, so a restart shows how far it got.
type savedPlan struct {
	PlanState
	Session string `json:"session,omitempty"`
}

type planJob struct {
	mu     sync.Mutex
	state  PlanState
	source []byte
	result *planner.Result
	json   []byte

	plan   *planner.Plan // nil for a plan of an earlier life of the server
	ctx    context.Context
	cancel context.CancelFunc
	saved  time.Time
}

// Files of a plan directory under <data>/plans/<id>/.
const (
	planSourceFile = "plan.toml"
	planStateFile  = "state.json"
	planResultFile = "result.json"
)

// loadPlans registers the plans of earlier lives of the server
// (dataDir/plans/{id}/): finished ones with their results, one that was
// searching or queued as interrupted, with how far it got. An entry that
// cannot be read is logged and skipped.
func (s *Server) loadPlans() {
	if s.opt.DataDir == "" {
		return
	}
	root := filepath.Join(s.opt.DataDir, "plans")
	dirs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.opt.Logger.Printf("data dir: cannot list the plans in %s, none loaded: %v", root, err)
		return
	}
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, d.Name())
		if !d.IsDir() {
			s.opt.Logger.Printf("data dir: skipping %s: not a plan folder", dir)
			continue
		}
		j, err := s.loadPlan(dir, d.Name())
		if err != nil {
			s.opt.Logger.Printf("data dir: skipping %s: %v", dir, err)
			continue
		}
		s.plans[d.Name()] = j
	}
}

func (s *Server) loadPlan(dir, id string) (*planJob, error) {
	j := &planJob{}
	j.source, _ = os.ReadFile(filepath.Join(dir, planSourceFile))
	var saved savedPlan
	b, serr := os.ReadFile(filepath.Join(dir, planStateFile))
	if serr == nil {
		if serr = json.Unmarshal(b, &saved); serr != nil {
			serr = fmt.Errorf("%s: %w", planStateFile, serr)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, planResultFile))
	if err == nil {
		var res planner.Result
		if err := json.Unmarshal(data, &res); err != nil {
			return nil, fmt.Errorf("%s: %w", planResultFile, err)
		}
		st := PlanState{ID: id, Name: res.Plan, Phase: PhaseDone, Summary: planSummary(&res), Done: res.Candidates, Total: res.Candidates}
		if serr == nil {
			st.Started, st.Session, st.Sims = saved.Started, saved.Session, saved.Sims
		} else if info, err := os.Stat(dir); err == nil {
			st.Started = info.ModTime()
		}
		j.state, j.result, j.json = st, &res, data
		return j, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if serr != nil {
		if errors.Is(serr, fs.ErrNotExist) {
			return nil, errors.New("no result and no state: a plan that never started")
		}
		return nil, serr
	}
	j.state = saved.PlanState
	j.state.ID, j.state.Session, j.state.QueuePos, j.state.LeftS = id, saved.Session, 0, 0
	if !planOver(j.state.Phase) {
		was := j.state.Phase
		j.state.Phase = PhaseInterrupted
		j.state.Error = fmt.Sprintf("the server stopped while it was %s", was)
		if err := s.savePlan(j.state); err != nil {
			s.opt.Logger.Printf("data dir: plan %s: cannot mark it interrupted: %v", dir, err)
		}
	}
	return j, nil
}

func (s *Server) planDir(id string) string { return filepath.Join(s.opt.DataDir, "plans", id) }

// savePlan writes the plan's state.json.
func (s *Server) savePlan(st PlanState) error {
	if s.opt.DataDir == "" {
		return nil
	}
	return atomicfile.WriteFile(filepath.Join(s.planDir(st.ID), planStateFile), mustJSON(savedPlan{PlanState: st, Session: st.Session}), 0o644)
}

// planStart parses the posted plan (edited TOML, or a shipped plan by
// name) and searches it in the background, or queues it past MaxPlans.
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
	ctx, cancel := context.WithCancel(s.ctx)
	j := &planJob{source: src, plan: p, ctx: ctx, cancel: cancel,
		state: PlanState{ID: id, Name: p.Name, Session: session(r), Started: time.Now(), Phase: PhaseQueued}}
	if s.opt.DataDir != "" {
		err := os.MkdirAll(s.planDir(id), 0o755)
		if err == nil {
			err = atomicfile.WriteFile(filepath.Join(s.planDir(id), planSourceFile), src, 0o644)
		}
		if err != nil {
			cancel()
			http.Error(w, fmt.Sprintf("plan %s: %v", id, err), http.StatusInternalServerError)
			return
		}
	}
	s.plansMu.Lock()
	if s.ctx.Err() != nil {
		s.plansMu.Unlock()
		cancel()
		http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
		return
	}
	start := s.plansRunning < s.opt.MaxPlans
	if start {
		s.plansRunning++
		j.state.Phase = PhaseSearching
	} else {
		s.planQueue = append(s.planQueue, j)
		j.state.QueuePos = len(s.planQueue)
	}
	s.plans[id] = j
	s.jobsWG.Add(1) // done when the plan ends, queued or not
	s.plansMu.Unlock()
	s.publishPlan(j, true)
	if start {
		go s.launchPlan(j)
	}
	http.Redirect(w, r, "/plans/"+id, http.StatusSeeOther)
}

// publishPlan sends the plan's state to its viewers, and saves it when
// save or a second has passed since the last save.
func (s *Server) publishPlan(j *planJob, save bool) {
	j.mu.Lock()
	st := j.state
	if save = save || time.Since(j.saved) >= time.Second; save {
		j.saved = time.Now()
	}
	j.mu.Unlock()
	s.hub.Publish(planTopic(st.ID), mustJSON(st))
	if save {
		if err := s.savePlan(st); err != nil {
			s.opt.Logger.Printf("plan %s: %v", st.ID, err)
		}
	}
}

// launchPlan runs the plan in this goroutine (a panic fails the plan, not
// the server), then hands its slot to the next queued plan.
func (s *Server) launchPlan(j *planJob) {
	defer s.jobsWG.Done()
	defer s.releasePlan()
	defer func() {
		if p := recover(); p != nil {
			s.opt.Logger.Printf("plan %s panicked: %v\n%s", j.snapshot().ID, p, debug.Stack())
			j.mu.Lock()
			j.state.Phase, j.state.LeftS = PhaseFailed, 0
			j.state.Error = fmt.Sprintf("the planner crashed (a bug; the server log has the stack): %v", p)
			j.mu.Unlock()
			s.publishPlan(j, true)
		}
	}()
	s.planRun(j.ctx, j.plan, j)
}

// releasePlan frees a plan slot and starts the first queued plan in it.
func (s *Server) releasePlan() {
	s.plansMu.Lock()
	s.plansRunning--
	var next *planJob
	if len(s.planQueue) > 0 && s.ctx.Err() == nil {
		next, s.planQueue = s.planQueue[0], s.planQueue[1:]
		s.plansRunning++
		next.mu.Lock()
		next.state.Phase, next.state.QueuePos = PhaseSearching, 0
		next.mu.Unlock()
	}
	moved := s.renumberPlans()
	s.plansMu.Unlock()
	if next != nil {
		s.publishPlan(next, true)
		go s.launchPlan(next)
	}
	for _, j := range moved {
		s.publishPlan(j, true)
	}
}

// renumberPlans sets the queue positions (plansMu held).
func (s *Server) renumberPlans() []*planJob {
	for i, j := range s.planQueue {
		j.mu.Lock()
		j.state.QueuePos = i + 1
		j.mu.Unlock()
	}
	return append([]*planJob(nil), s.planQueue...)
}

// unqueuePlan ends a queued plan in phase without searching; false if it
// was not queued.
func (s *Server) unqueuePlan(j *planJob, phase, why string) bool {
	s.plansMu.Lock()
	i := -1
	for k, q := range s.planQueue {
		if q == j {
			i = k
		}
	}
	if i < 0 {
		s.plansMu.Unlock()
		return false
	}
	s.planQueue = append(s.planQueue[:i:i], s.planQueue[i+1:]...)
	moved := s.renumberPlans()
	s.plansMu.Unlock()
	j.mu.Lock()
	j.state.Phase, j.state.QueuePos, j.state.Error = phase, 0, why
	j.mu.Unlock()
	j.cancel()
	s.publishPlan(j, true)
	s.jobsWG.Done()
	for _, q := range moved {
		s.publishPlan(q, true)
	}
	return true
}

// interruptQueuedPlans ends the queued plans when the server closes.
func (s *Server) interruptQueuedPlans() {
	s.plansMu.Lock()
	queued := append([]*planJob(nil), s.planQueue...)
	s.plansMu.Unlock()
	for _, j := range queued {
		s.unqueuePlan(j, PhaseInterrupted, "the server stopped before it started")
	}
}

// planStop stops a searching plan (it ends stopped, with how far it got)
// or takes a queued one out of the queue.
func (s *Server) planStop(w http.ResponseWriter, r *http.Request) {
	j, ok := s.planJob(w, r)
	if !ok {
		return
	}
	if !s.unqueuePlan(j, PhaseStopped, "stopped before it started") && j.cancel != nil {
		j.cancel()
	}
	http.Redirect(w, r, "/plans/"+j.snapshot().ID, http.StatusSeeOther)
}

// runPlan searches, finishes and keeps the result under the data dir.
func (s *Server) runPlan(ctx context.Context, p *planner.Plan, j *planJob) {
	update := func(f func(*PlanState)) {
		j.mu.Lock()
		f(&j.state)
		j.mu.Unlock()
		s.publishPlan(j, false)
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
		update(func(st *PlanState) { st.Phase = PhaseVerifying })
		s.publishPlan(j, true) // a phase change is saved at once
		res, err = p.Finish(ctx, sh, func(v planner.Verifying) {
			if time.Since(last) < 200*time.Millisecond {
				return
			}
			last = time.Now()
			update(func(st *PlanState) { st.Verify = v })
		})
	}
	s.endPlan(ctx, j, res, err)
}

// endPlan keeps the result (err == nil) under the data dir and records
// how the plan ended: done, stopped by the user, interrupted by the
// server's stopping, or failed.
func (s *Server) endPlan(ctx context.Context, j *planJob, res *planner.Result, err error) {
	var data []byte
	if err == nil {
		data, err = jsonfmt.Marshal(res)
	}
	if err == nil && s.opt.DataDir != "" {
		err = atomicfile.WriteFile(filepath.Join(s.planDir(j.snapshot().ID), planResultFile), data, 0o644)
	}
	j.mu.Lock()
	if err == nil {
		j.result, j.json = res, data
	}
	st := &j.state
	st.LeftS = 0
	switch {
	case err == nil:
		st.Phase = PhaseDone
		st.Summary = planSummary(res)
	case ctx.Err() != nil && s.ctx.Err() != nil:
		st.Phase, st.Error = PhaseInterrupted, "the server stopped while it ran"
	case ctx.Err() != nil:
		st.Phase, st.Error = PhaseStopped, "stopped"
	default:
		st.Phase, st.Error = PhaseFailed, err.Error()
	}
	j.mu.Unlock()
	s.publishPlan(j, true)
}
