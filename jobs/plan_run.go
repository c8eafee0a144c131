package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/internal/atomicfile"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/planner"
)

// search is the real SearchFunc: the planner's search, then the winner's
// verification, reporting progress at most five times a second.
func (s *Plans) search(ctx context.Context, p *planner.Plan, j *Plan) (*planner.Result, error) {
	last := time.Time{}
	sh, err := p.Search(ctx, planner.Options{Progress: func(pr planner.Progress) {
		if pr.Done < pr.Total && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		j.Update(func(st *PlanState) {
			st.Done, st.Total, st.Sims = pr.Done, pr.Total, pr.Simulations
			el := time.Since(st.Started).Seconds()
			if el > 0 && pr.Done > 0 {
				st.RatePerS = float64(pr.Done) / el
				st.LeftS = float64(pr.Total-pr.Done) / st.RatePerS
			}
		}, false)
	}})
	if err != nil {
		return nil, err
	}
	j.Update(func(st *PlanState) { st.Phase = PhaseVerifying }, false)
	s.publish(j, true) // a phase change is saved at once
	return p.Finish(ctx, sh, func(v planner.Verifying) {
		if time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		j.Update(func(st *PlanState) { st.Verify = v }, false)
	})
}

// finish keeps the result (err == nil) under the data dir and records
// how the plan ended: done, stopped by the user, interrupted by the
// plans' closing, or failed.
func (s *Plans) finish(j *Plan, res *planner.Result, err error) {
	var data []byte
	if err == nil {
		data, err = jsonfmt.Marshal(res)
	}
	if err == nil && s.cfg.DataDir != "" {
		err = atomicfile.WriteFile(filepath.Join(s.dir(j.State().ID), planResultFile), data, 0o644)
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
		st.Summary, st.Prior = PlanSummary(res), PlanPriorNote(res)
	case j.ctx.Err() != nil && s.ctx.Err() != nil:
		st.Phase, st.Error = PhaseInterrupted, "the server stopped while it ran"
	case j.ctx.Err() != nil:
		st.Phase, st.Error = PhaseStopped, "stopped"
	default:
		st.Phase, st.Error = PhaseFailed, err.Error()
	}
	j.mu.Unlock()
	s.publish(j, true)
}

// PlanSummary is a plan result in a line: how many configurations, how
// many meet every target, and the cheapest.
func PlanSummary(r *planner.Result) string {
	if r.Winner == nil {
		return fmt.Sprintf("%d configurations: none meets every target", r.Candidates)
	}
	w := r.Winner
	return fmt.Sprintf("%d configurations, %d meet every target; cheapest: #%d %s %s %s, %d nodes, $%.0f per month",
		r.Candidates, len(r.Ranked), w.Index, w.Hardware, w.Engine, w.Quant, w.Metrics.Nodes, w.Metrics.USDPerMonth)
}

// PlanPriorNote says which configurations rest on a prior profile, or on
// a weight-format factor their fitted profile did not set, and whether the
// winner does; "" when none of the ranked ones does.
func PlanPriorNote(r *planner.Result) string {
	var parts []string
	if n := len(r.Priors()); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d configurations that meet every target rest on a prior profile (not fitted to measurements; marked prior in the table)", n, len(r.Ranked)))
	}
	if n := len(r.FormatPriors()); n > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d rest on a weight-format factor their profile's fit did not set (marked format prior)", n, len(r.Ranked)))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	if w := r.Winner; w != nil && (w.Prior || len(w.FormatPriors) > 0) {
		s += "; so does the winner: " + w.Provenance
	}
	return s
}

// load registers the plans of earlier lives of the server
// (DataDir/plans/{id}/): finished ones with their results, one that was
// searching or queued as interrupted, with how far it got. An entry that
// cannot be read is logged and skipped.
func (s *Plans) load() {
	if s.cfg.DataDir == "" {
		return
	}
	root := filepath.Join(s.cfg.DataDir, "plans")
	dirs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.Printf("data dir: cannot list the plans in %s, none loaded: %v", root, err)
		return
	}
	for _, d := range dirs {
		if strings.HasPrefix(d.Name(), ".") {
			continue
		}
		dir := filepath.Join(root, d.Name())
		if !d.IsDir() {
			s.log.Printf("data dir: skipping %s: not a plan folder", dir)
			continue
		}
		j, err := s.loadPlan(dir, d.Name())
		if err != nil {
			s.log.Printf("data dir: skipping %s: %v", dir, err)
			continue
		}
		s.plans[d.Name()] = j
	}
}

func (s *Plans) loadPlan(dir, id string) (*Plan, error) {
	j := &Plan{owner: s}
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
		st := PlanState{ID: id, Name: res.Plan, Phase: PhaseDone, Summary: PlanSummary(&res), Prior: PlanPriorNote(&res), Done: res.Candidates, Total: res.Candidates}
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
	if !PlanOver(j.state.Phase) {
		was := j.state.Phase
		j.state.Phase = PhaseInterrupted
		j.state.Error = fmt.Sprintf("the server stopped while it was %s", was)
		if err := s.save(j.state); err != nil {
			s.log.Printf("data dir: plan %s: cannot mark it interrupted: %v", dir, err)
		}
	}
	return j, nil
}
