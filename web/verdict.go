package web

import (
	"fmt"
	"path"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

// ShippedBaselines names each shipped scenario's baseline: the seed claim
// and its variants against a Spark per model. A scenario started with
// StartWithBaseline runs beside it, so its verdict answers the saving.
var ShippedBaselines = map[string]string{
	"seed-colocated.toml":             "seed-separate.toml",
	"seed-colocated-mps.toml":         "seed-separate.toml",
	"seed-colocated-one-process.toml": "seed-separate.toml",
	"seed-colocated-dynamic.toml":     "seed-separate.toml",
	"seed-colocated-closet.toml":      "seed-separate.toml",
}

// StartWithBaseline starts a scenario (a shipped one's name, or a file's)
// and, when it has a shipped baseline, that baseline first, as fast as
// possible, recording it as the run's (jobs.Runs.SetBaseline). The run
// becomes the one the runs page opens with (Featured). Call it before
// serving.
func (s *Server) StartWithBaseline(name string, data []byte, speed float64) (run, base *jobs.Run, err error) {
	if b, ok := ShippedBaselines[path.Base(name)]; ok {
		bdata, err := scenarios.FS.ReadFile(b)
		if err != nil {
			return nil, nil, fmt.Errorf("baseline %s: %w", b, err)
		}
		if base, err = s.Runs.Start(b, bdata, 0); err != nil {
			return nil, nil, fmt.Errorf("baseline %s: %w", b, err)
		}
	}
	if run, err = s.Runs.Start(name, data, speed); err != nil {
		if base != nil {
			s.Runs.Stop(base.State().ID)
		}
		return nil, nil, err
	}
	if base != nil {
		if err := s.Runs.SetBaseline(run.State().ID, base.State().ID); err != nil {
			return run, base, err
		}
	}
	s.Featured = run.State().ID
	return run, base, nil
}

// verdictView is what a verdict panel shows: the verdict once the run
// (and its baseline) have results, else why not yet and which run it
// waits for (the page reloads when that one ends).
type verdictView struct {
	RunID, RunName   string
	BaseID, BaseName string
	V                *verdict.Verdict
	Pending          string
	PendingRun       string // the run the verdict waits for
	// Basis says what the answers rest on: the profiles' provenance, and
	// Prior whether one is a datasheet prior.
	Basis string
	Prior bool
}

// verdictOf judges a run against its baseline run, if it has one.
func (s *Server) verdictOf(run *jobs.Run) verdictView {
	st := run.State()
	v := verdictView{RunID: st.ID, RunName: st.Name}
	var base *jobs.Run
	if st.Baseline != "" {
		if b, ok := s.Runs.Get(st.Baseline); ok {
			base = b
			v.BaseID, v.BaseName = st.Baseline, b.State().Name
		}
	}
	return judge(v, run, base)
}

// judge fills v with run's verdict against base (nil: none).
func judge(v verdictView, run, base *jobs.Run) verdictView {
	st, o := run.State(), run.Outcome()
	if o == nil || o.Result == nil {
		v.Pending, v.PendingRun = pendingWhy(st), st.ID
		return v
	}
	opt := verdict.Options{}
	if base != nil {
		bst, bo := base.State(), base.Outcome()
		if bo == nil || bo.Result == nil {
			v.Pending, v.PendingRun = "The verdict comes when the baseline "+bst.Name+" ends: "+pendingWhy(bst), bst.ID
			if bst.Done {
				v.Pending, v.PendingRun = "The baseline "+bst.Name+" ended "+bst.Status+" without a result: no saving to judge.", ""
			} else {
				return v
			}
		} else {
			opt.Baseline = &verdict.Run{Sim: bo, SLOs: bst.SLOs}
		}
	}
	vd := verdict.Of(verdict.Run{Sim: o, SLOs: st.SLOs}, opt)
	v.V = &vd
	v.Basis, v.Prior = basis(runProfiles(st, o))
	return v
}

// pendingWhy says why a run has no verdict yet.
func pendingWhy(st jobs.State) string {
	switch {
	case st.Done:
		return fmt.Sprintf("The run ended %s without a result: nothing to judge.", st.Status)
	case st.Status == jobs.StatusQueued:
		return "The run is queued; the verdict comes when it ends."
	case st.Progress > 0 && st.LeftS > 0:
		return fmt.Sprintf("The verdict comes when the run ends (%.0f%% done, about %.0f s left).", 100*st.Progress, st.LeftS)
	}
	return "The verdict comes when the run ends."
}

// statusClass is an answer's colour.
func statusClass(s verdict.Status) string {
	switch s {
	case verdict.Pass:
		return "good"
	case verdict.Fail:
		return "bad"
	case verdict.Caveat:
		return "warn"
	}
	return "muted"
}

// sloWhy is the reason a model missed its SLO, from the run's verdict:
// "TTFT p95 3.58 s > 3 s".
func sloWhy(v verdictView, model string) string {
	if v.V == nil {
		return ""
	}
	for _, a := range v.V.Answers {
		if a.Question == verdict.Latency && a.Subject == model && a.Status == verdict.Fail {
			return strings.TrimPrefix(a.Short, model+" misses ")
		}
	}
	return ""
}

// windowUtil is a device's utilization after warm-up (the whole run's
// for a result without a window), the one figure the page, the cost
// and the verdict give.
func windowUtil(d jobs.DeviceResult) float64 {
	if d.WindowS > 0 {
		return d.WindowUtilization
	}
	return d.Utilization
}

// basis is the line under a verdict saying what it rests on: "rests on
// llama.cpp on dgx-spark: fitted on 25 published measurements, …", or
// the prior note when a profile is a datasheet prior.
func basis(infos []perf.ProvenanceInfo) (string, bool) {
	if note := twin.PriorNote(infos); note != "" {
		return "These answers " + strings.Replace(note, "rests on", "rest on", 1) + ": treat them as estimates.", true
	}
	var labels []string
	for _, p := range infos {
		labels = append(labels, p.Label)
	}
	if len(labels) == 0 {
		return "", false
	}
	return "Rests on " + strings.Join(labels, "; ") + ".", false
}
