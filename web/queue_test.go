package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/planner"
)

// copyTree copies a data dir as it is on disk at one moment: what a
// server killed with SIGKILL then leaves (atomic writes: every file is
// whole, old or new).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // a temporary file renamed meanwhile
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) apiRun(t *testing.T, id string) jobs.State {
	t.Helper()
	_, body := ts.get(t, "/api/runs")
	var list []jobs.State
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	for _, st := range list {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("run %s not in /api/runs", id)
	return jobs.State{}
}

// Past --max-runs, runs wait queued, in order, with their position in the
// API and on the pages; a queued run can be stopped; the next starts when
// a slot frees.
func TestRunsQueue(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{MaxRuns: 1})
	// At 60× real time the seed scenario takes four minutes: each of these
	// runs until it is stopped.
	a, b, c := ts.start(t, "seed-colocated.toml", "60"), ts.start(t, "seed-colocated.toml", "60"), ts.start(t, "seed-colocated.toml", "60")
	if st := ts.apiRun(t, a); st.Status != jobs.StatusRunning {
		t.Errorf("first run: %s", st.Status)
	}
	for i, id := range []string{b, c} {
		if st := ts.apiRun(t, id); st.Status != jobs.StatusQueued || st.QueuePos != i+1 {
			t.Errorf("run %d: %s at %d, want queued at %d", i+2, st.Status, st.QueuePos, i+1)
		}
	}
	home := ts.doc(t, "/")
	if got := byTestID(home, "run-queue-position").Text(); got != "#2#1" { // newest first
		t.Errorf("runs page queue positions: %q", got)
	}
	page := ts.doc(t, "/runs/"+b)
	if byTestID(page, "status").Text() != jobs.StatusQueued || !strings.HasPrefix(byTestID(page, "queue-position").Text(), "#1 ") || byTestID(page, "stop").Length() != 1 {
		t.Errorf("queued run's page: %q %q, %d stop buttons", byTestID(page, "status").Text(), byTestID(page, "queue-position").Text(), byTestID(page, "stop").Length())
	}
	if resp, _ := ts.do(t, "POST", "/runs/"+b+"/stop", nil, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("stop the queued run: %d", resp.StatusCode)
	}
	if st := ts.wait(t, b); st.Status != jobs.StatusStopped || len(st.T) != 0 {
		t.Errorf("stopped queued run: %s, %d points", st.Status, len(st.T))
	}
	if st := ts.apiRun(t, c); st.Status != jobs.StatusQueued || st.QueuePos != 1 {
		t.Errorf("after the first queued one stopped: %s at %d", st.Status, st.QueuePos)
	}
	ts.do(t, "POST", "/runs/"+a+"/stop", nil, "")
	ts.wait(t, a)
	eventually(t, "the queued run starts when the slot frees", func() bool { return ts.apiRun(t, c).Status == jobs.StatusRunning })
	ts.do(t, "POST", "/runs/"+c+"/stop", nil, "")
	if st := ts.wait(t, c); st.Status != jobs.StatusStopped {
		t.Errorf("third run: %s", st.Status)
	}
}

// A running run saves its state every second: a server killed with
// SIGKILL keeps the series up to the last save, and shows the run
// interrupted on restart. A server stopped cleanly marks its running and
// queued runs interrupted too (not stopped: the user did not stop them).
func TestRunsSurviveKillAndClose(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServerOpt(t, testOptions{DataDir: dir, MaxRuns: 1})
	a, b := ts.start(t, "seed-colocated.toml", "60"), ts.start(t, "seed-colocated.toml", "60")
	saved := filepath.Join(dir, "runs", a, stateFile)
	var onDisk jobs.State
	eventually(t, "the running run saves its state", func() bool {
		data, err := os.ReadFile(saved)
		return err == nil && json.Unmarshal(data, &onDisk) == nil && len(onDisk.T) >= 2
	})
	killed := t.TempDir()
	copyTree(t, dir, killed)
	ts.Close()

	for _, c := range []struct {
		name, dir string
		result    bool
	}{{"after SIGKILL", killed, false}, {"after a clean stop", dir, true}} {
		again := newTestServer(t, c.dir, "")
		ra, rb := mustRun(t, again, a).State(), mustRun(t, again, b).State()
		if ra.Status != jobs.StatusInterrupted || len(ra.T) < len(onDisk.T) || len(ra.Devices[0].PowerW) != len(ra.T) {
			t.Errorf("%s: the running run is %s with %d points", c.name, ra.Status, len(ra.T))
		}
		if c.result != (mustRun(t, again, a).Outcome() != nil) {
			t.Errorf("%s: result kept %v, want %v", c.name, !c.result, c.result)
		}
		if rb.Status != jobs.StatusInterrupted || !strings.Contains(rb.Error, "before it started") {
			t.Errorf("%s: the queued run is %s %q", c.name, rb.Status, rb.Error)
		}
		if d := again.doc(t, "/runs/"+a); byTestID(d, "status").Text() != jobs.StatusInterrupted {
			t.Errorf("%s: run page status %q", c.name, byTestID(d, "status").Text())
		}
		again.Close()
	}
}

// Plans queue past --max-plans, can be stopped queued or searching from
// the page or the API, save their state as they go, and come back after a
// restart, clean or SIGKILL, as interrupted with how far they got.
func TestPlansQueueStopAndRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServerOpt(t, testOptions{DataDir: dir, MaxPlans: 1})
	ts.client.Jar, _ = cookiejar.New(nil)
	// A search that reports 3 of 18 configurations and then waits to be
	// stopped, ending as the real one does.
	ts.Plans.Search = func(ctx context.Context, _ *planner.Plan, j *jobs.Plan) (*planner.Result, error) {
		j.Update(func(st *jobs.PlanState) { st.Done, st.Total, st.Sims = 3, 18, 7 }, true)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	plan := func() string { return ts.startSmallPlan(t) }
	a, b, c := plan(), plan(), plan()
	eventually(t, "the first plan searches", func() bool { return ts.planPhase(t, a).Done == 3 })
	for i, id := range []string{b, c} {
		if st := ts.planPhase(t, id); st.Phase != jobs.PhaseQueued || st.QueuePos != i+1 {
			t.Errorf("plan %d: %s at %d, want queued at %d", i+2, st.Phase, st.QueuePos, i+1)
		}
	}
	d := ts.doc(t, "/plans/"+b)
	if byTestID(d, "plan-stop").Length() != 1 || !strings.HasPrefix(byTestID(d, "plan-progress-text").Text(), "#1 in the queue") {
		t.Errorf("queued plan's page: %d stop buttons, %q", byTestID(d, "plan-stop").Length(), byTestID(d, "plan-progress-text").Text())
	}
	if resp, _ := ts.do(t, "POST", "/plans/"+b+"/stop", nil, ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("stop a queued plan: %d", resp.StatusCode)
	}
	if st := ts.planPhase(t, b); st.Phase != jobs.PhaseStopped {
		t.Errorf("stopped queued plan: %s", st.Phase)
	}
	if st := ts.planPhase(t, c); st.QueuePos != 1 {
		t.Errorf("after the stop the last plan is at %d", st.QueuePos)
	}
	ts.do(t, "POST", "/plans/"+a+"/stop", nil, "")
	eventually(t, "the searching plan stops", func() bool { return ts.planPhase(t, a).Phase == jobs.PhaseStopped })
	if st := ts.planPhase(t, a); st.Done != 3 || st.Total != 18 {
		t.Errorf("stopped plan lost its progress: %d/%d", st.Done, st.Total)
	}
	if d := ts.doc(t, "/plans/"+a); byTestID(d, "plan-stop").Length() != 0 || !strings.HasPrefix(byTestID(d, "plan-progress-text").Text(), "stopped at 3/18") {
		t.Errorf("stopped plan's page: %q", byTestID(d, "plan-progress-text").Text())
	}
	eventually(t, "the queued plan starts", func() bool { return ts.planPhase(t, c).Done == 3 })
	eventually(t, "the searching plan's state is saved", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "plans", c, planStateFile))
		return err == nil && strings.Contains(string(b), `"phase": "searching"`) && strings.Contains(string(b), `"done": 3`)
	})
	d4 := plan() // queued behind c
	killed := t.TempDir()
	copyTree(t, dir, killed)
	ts.Close()

	for _, c2 := range []struct{ name, dir string }{{"after SIGKILL", killed}, {"after a clean stop", dir}} {
		again := newTestServer(t, c2.dir, "")
		again.client.Jar = ts.client.Jar // the same browser
		if st := again.planPhase(t, c); st.Phase != jobs.PhaseInterrupted || st.Done != 3 || st.Total != 18 || st.Sims != 7 {
			t.Errorf("%s: the searching plan is %s at %d/%d, %d simulations", c2.name, st.Phase, st.Done, st.Total, st.Sims)
		}
		if st := again.planPhase(t, a); st.Phase != jobs.PhaseStopped {
			t.Errorf("%s: the stopped plan is %s", c2.name, st.Phase)
		}
		if st := again.planPhase(t, d4); st.Phase != jobs.PhaseInterrupted {
			t.Errorf("%s: the queued plan is %s", c2.name, st.Phase)
		}
		if n := byTestID(again.doc(t, "/whatif"), "plan-history-row").Length(); n != 4 {
			t.Errorf("%s: the session lists %d plans, want 4", c2.name, n)
		}
		again.Close()
	}
}
