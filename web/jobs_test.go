package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/internal/syncbuf"
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

type logBuffer = syncbuf.Buffer

// newTestServerOpt is newTestServer with options (the catalog, profiles
// and a data dir filled in when missing).
func newTestServerOpt(t *testing.T, opt testOptions) *testServer {
	t.Helper()
	if opt.DataDir == "" {
		opt.DataDir = t.TempDir()
	}
	opt.Catalog, opt.Profiles = cat, profiles
	s, err := newServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testServer{wired: s, url: hs.URL, dir: opt.DataDir, client: client}
}

// eventually polls cond until it holds, failing after a minute: a bound
// far above what any of these waits takes even on a loaded 2-core
// machine, so it only catches a hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
	}
}

// A run whose simulation panics, at once or in the middle of a snapshot,
// ends failed with the panic's message and its stack in the log; the
// server keeps serving and running.
func TestPanickingRunFailsAlone(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServerOpt(t, testOptions{Logger: log.New(logs, "", 0), MaxRuns: 1})
	ts.Runs.SimRun = func(context.Context, *scenario.Scenario, sim.Options) (*sim.Result, error) {
		panic("injected: a NaN step time")
	}
	id := ts.start(t, "seed-colocated.toml", "0")
	st := ts.wait(t, id)
	if st.Status != jobs.StatusFailed || !strings.Contains(st.Error, "injected: a NaN step time") {
		t.Errorf("panicked run: %s %q", st.Status, st.Error)
	}
	if l := logs.String(); !strings.Contains(l, "run "+id+" panicked: injected") || !strings.Contains(l, "goroutine ") {
		t.Errorf("the log lacks the panic and its stack:\n%s", l)
	}
	if b, _ := os.ReadFile(filepath.Join(ts.dir, "runs", id, metaFile)); !strings.Contains(string(b), jobs.StatusFailed) {
		t.Errorf("run.json after the panic: %s", b)
	}
	// A panic while the run's state is locked (a snapshot that does not
	// fit it) must not leave it locked.
	ts.Runs.SimRun = func(_ context.Context, _ *scenario.Scenario, opt sim.Options) (*sim.Result, error) {
		opt.OnSnapshot(sim.Snapshot{Models: make([]sim.ModelSnapshot, 99)})
		return nil, nil
	}
	id2 := ts.start(t, "seed-colocated.toml", "0")
	if st := ts.wait(t, id2); st.Status != jobs.StatusFailed || !strings.Contains(st.Error, "index out of range") {
		t.Errorf("run panicking in a snapshot: %s %q", st.Status, st.Error)
	}
	// The slot was given back, and the server still runs simulations.
	ts.Runs.SimRun = sim.Run
	id3 := ts.start(t, "seed-colocated.toml", "0")
	if st := ts.wait(t, id3); st.Status != jobs.StatusDone {
		t.Errorf("a run after two panics: %s %q", st.Status, st.Error)
	}
	if resp, _ := ts.get(t, "/runs/"+id); resp.StatusCode != http.StatusOK {
		t.Errorf("the failed run's page: %d", resp.StatusCode)
	}
}

// A plan or a calibration that panics fails alone too.
func TestPanickingPlanAndCalibrationFailAlone(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServerOpt(t, testOptions{Logger: log.New(logs, "", 0), CalibrationDirs: []string{t.TempDir()}})
	ts.Plans.Search = func(context.Context, *planner.Plan, *jobs.Plan) (*planner.Result, error) {
		panic("injected plan panic")
	}
	plan := func() string { return ts.startSmallPlan(t) }
	id := plan()
	eventually(t, "the panicking plan fails", func() bool { return ts.planPhase(t, id).Phase == jobs.PhaseFailed })
	if st := ts.planPhase(t, id); !strings.Contains(st.Error, "injected plan panic") {
		t.Errorf("failed plan's error: %q", st.Error)
	}
	if l := logs.String(); !strings.Contains(l, "plan "+id+" panicked: injected plan panic") || !strings.Contains(l, "goroutine ") {
		t.Errorf("the log lacks the plan's panic and stack:\n%s", l)
	}
	// Its slot is free: the next plan runs (here, one that ends at once).
	ts.Plans.Search = func(context.Context, *planner.Plan, *jobs.Plan) (*planner.Result, error) {
		return nil, errors.New("quick")
	}
	id2 := plan()
	eventually(t, "the next plan runs", func() bool { return ts.planPhase(t, id2).Phase == jobs.PhaseFailed })

	ts.Calibrations.Run = func(context.Context, *calibrate.Plan, string, bool, io.Writer) error {
		panic("injected calibration panic")
	}
	good := unreachablePlan
	resp, body := ts.do(t, "POST", "/calibration/start", strings.NewReader(url.Values{"toml": {good}}.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start a calibration: %d %s", resp.StatusCode, body)
	}
	cal := strings.TrimPrefix(resp.Header.Get("Location"), "/calibration/runs/")
	eventually(t, "the panicking calibration ends", func() bool { running, _ := ts.Calibrations.JobError(cal); return !running })
	if _, msg := ts.Calibrations.JobError(cal); !strings.Contains(msg, "injected calibration panic") {
		t.Errorf("calibration error: %q", msg)
	}
	if !strings.Contains(logs.String(), "calibration "+cal+" panicked") {
		t.Errorf("the log lacks the calibration's panic:\n%s", logs.String())
	}
	if resp, _ := ts.get(t, "/"); resp.StatusCode != http.StatusOK {
		t.Errorf("the server after three panics: %d", resp.StatusCode)
	}
}

func (ts *testServer) planPhase(t *testing.T, id string) jobs.PlanState {
	t.Helper()
	_, body := ts.get(t, "/plans/"+id+"/state.json")
	var st jobs.PlanState
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("plan %s state: %v: %s", id, err, body)
	}
	return st
}

// What a failed start or a full disk leaves in the data dir (an empty run
// folder, a torn file, a stray file, a file that cannot be read) is
// logged and skipped; the server starts and lists the good runs.
func TestDamagedDataDirIsSkipped(t *testing.T) {
	dir := t.TempDir()
	first := newTestServer(t, dir, "")
	good := first.start(t, "seed-colocated.toml", "0")
	first.wait(t, good)
	first.Close()
	runs, plans := filepath.Join(dir, "runs"), filepath.Join(dir, "plans")
	meta, _ := os.ReadFile(filepath.Join(runs, good, metaFile))
	scen, _ := os.ReadFile(filepath.Join(runs, good, scenarioFile))
	write := func(path, data string) {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(runs, "20260101-000000-001-empty"), 0o755)
	write(filepath.Join(runs, "20260101-000000-002-torn-state", metaFile), string(meta))
	write(filepath.Join(runs, "20260101-000000-002-torn-state", scenarioFile), string(scen))
	write(filepath.Join(runs, "20260101-000000-002-torn-state", stateFile), `{"t": [1, 2`)
	write(filepath.Join(runs, "20260101-000000-003-torn-meta", metaFile), `{"id": "x", "sta`)
	write(filepath.Join(runs, "20260101-000000-003-torn-meta", scenarioFile), string(scen))
	os.MkdirAll(filepath.Join(runs, "20260101-000000-004-unreadable", metaFile), 0o755) // reading it fails
	write(filepath.Join(runs, "stray.txt"), "left over")
	os.MkdirAll(filepath.Join(plans, "20260101-000000-empty-plan"), 0o755)
	write(filepath.Join(plans, "20260101-000000-torn-plan", planResultFile), `{"plan": `)
	write(filepath.Join(plans, "stray-file"), "x")

	logs := &logBuffer{}
	again := newTestServerOpt(t, testOptions{DataDir: dir, Logger: log.New(logs, "", 0)})
	list := again.Runs.List()
	if len(list) != 2 || list[0].ID != "20260101-000000-002-torn-state" && list[1].ID != "20260101-000000-002-torn-state" {
		t.Fatalf("runs listed after damage: %+v", list)
	}
	for _, st := range list {
		if st.ID == good && (st.Status != jobs.StatusDone || len(st.T) == 0) {
			t.Errorf("the good run: %s, %d points", st.Status, len(st.T))
		}
	}
	l := logs.String()
	for _, want := range []string{"001-empty: no run.json", "002-torn-state: state.json cannot be read", "003-torn-meta: load run: run.json",
		"004-unreadable: load run:", "stray.txt: not a run folder", "empty-plan: no result and no state", "torn-plan: result.json", "stray-file: not a plan folder"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log does not say %q:\n%s", want, l)
		}
	}
	if d := again.doc(t, "/"); byTestID(d, "run-row").Length() != 2 {
		t.Errorf("the runs page lists %d runs", byTestID(d, "run-row").Length())
	}
}

// One calibration at a time: a second start while one measures is refused
// with 409 and starts nothing; once the first is stopped, the next starts.
func TestOneCalibrationAtATime(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{CalibrationDirs: []string{t.TempDir()}})
	ts.Calibrations.Run = func(ctx context.Context, _ *calibrate.Plan, _ string, _ bool, _ io.Writer) error {
		<-ctx.Done()
		return ctx.Err()
	}
	good := unreachablePlan
	start := func() (*http.Response, string) {
		return ts.do(t, "POST", "/calibration/start", strings.NewReader(url.Values{"toml": {good}}.Encode()), "application/x-www-form-urlencoded")
	}
	resp, body := start()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first calibration: %d %s", resp.StatusCode, body)
	}
	first := strings.TrimPrefix(resp.Header.Get("Location"), "/calibration/runs/")
	resp, body = start()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, first+" is measuring") {
		t.Fatalf("second calibration while the first runs: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "POST", "/calibration/runs/"+first+"/stop", nil, ""); resp.StatusCode >= 400 {
		t.Fatalf("stop: %d %s", resp.StatusCode, body)
	}
	eventually(t, "the first calibration ends", func() bool { running, _ := ts.Calibrations.JobError(first); return !running })
	if resp, body := start(); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a calibration after the first ended: %d %s", resp.StatusCode, body)
	}
}
