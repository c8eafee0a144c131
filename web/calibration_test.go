package web

import (
	"context"
	"encoding/json"
	"github.com/fleettwin/fleettwin/jobs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// recordedRun is a real calibration run: two random-weight Qwen3 models
// on a real Ollama on the CI CPU (see calibrate's tests).
const recordedRun = "../cmd/fleettwin/testdata/calibrate-run"

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCalibrationLive watches a calibration run being recorded: half of
// its requests are on disk at first, then the rest arrive (and a torn
// line, as from a server dying mid-write); the page and the websocket
// show every experiment measured and replayed by the twin as it comes.
func TestCalibrationLive(t *testing.T) {
	cat, err := catalog.Load("../calibrate/testdata/ci-catalog.toml")
	if err != nil {
		t.Fatal(err)
	}
	// The twin's profile: fitted on the whole run, as `calibrate fit`
	// writes it into the run directory.
	full := t.TempDir()
	for _, f := range []string{"plan.toml", "run.json", "servers.json", "telemetry.jsonl", "requests.jsonl"} {
		copyFile(t, filepath.Join(recordedRun, f), filepath.Join(full, f))
	}
	run, err := calibrate.LoadRun(full, cat)
	if err != nil {
		t.Fatal(err)
	}
	prof, _, err := run.Fit(context.Background(), cat, calibrate.FitOptions{PrefillChunk: 512, Work: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	profile, err := perf.EncodeProfile(prof, "test")
	if err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	const id = "20261125-000000-ci-cpu"
	live := filepath.Join(root, id)
	os.MkdirAll(live, 0o755)
	for _, f := range []string{"plan.toml", "run.json", "servers.json", "telemetry.jsonl"} {
		copyFile(t, filepath.Join(full, f), filepath.Join(live, f))
	}
	os.WriteFile(filepath.Join(live, "profile.toml"), profile, 0o644)
	lines := strings.SplitAfter(strings.TrimSpace(mustRead(t, filepath.Join(full, "requests.jsonl"))), "\n")
	half := len(lines) / 2
	os.WriteFile(filepath.Join(live, "requests.jsonl"), []byte(strings.Join(lines[:half], "")), 0o644)

	s, err := newServer(testOptions{DataDir: t.TempDir(), Catalog: cat, Profiles: profiles, CalibrationDirs: []string{root, filepath.Join(root, "missing")}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer func() { hs.Close(); s.Close() }()
	ts := &testServer{wired: s, url: hs.URL}
	ts.client = hs.Client()

	if d := ts.doc(t, "/calibration"); !strings.Contains(byTestID(d, "calibration-runs").Text(), id) {
		t.Fatalf("calibration page does not list %s", id)
	}
	page := ts.doc(t, "/calibration/runs/"+id)
	first := byTestID(page, "cal-row").Length()
	if first == 0 || byTestID(page, "cal-error").Text() != "" || !strings.Contains(page.Text(), "this run's fitted profile.toml") {
		t.Fatalf("half-recorded run: %d rows, error %q", first, byTestID(page, "cal-error").Text())
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/calibration/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	read := func() jobs.CalState {
		ws.SetReadDeadline(time.Now().Add(time.Minute))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var st jobs.CalState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := read(); len(st.Exps) != first {
		t.Errorf("first state: %d experiments, page showed %d", len(st.Exps), first)
	}
	// The rest of the run arrives, then a line cut short.
	f, err := os.OpenFile(filepath.Join(live, "requests.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.Join(lines[half:], "") + "\n" + `{"experiment":"rate-ci-a`)
	f.Close()
	st := read()
	total := 0
	for id, ms := range run.Measured {
		if id == calibrate.WarmupID {
			continue
		}
		for _, m := range ms {
			total += m.Requests
		}
	}
	t.Logf("after append: %d requests of %d, %d experiments, error %q", st.Requests, total, len(st.Exps), st.Error)
	for st.Requests < total {
		st = read()
	}
	if len(st.Exps) <= first || st.Error != "" || st.Requests != st.Planned {
		t.Fatalf("after the rest: %d experiments (was %d), error %q", len(st.Exps), first, st.Error)
	}
	if len(st.MedianErr.TPOT) != len(st.Exps) || len(st.Telemetry.T) == 0 {
		t.Errorf("running error has %d points for %d experiments; %d telemetry points", len(st.MedianErr.TPOT), len(st.Exps), len(st.Telemetry.T))
	}
	for _, e := range st.Exps {
		if !(e.E2E > 0 && e.E2ESim > 0) {
			t.Errorf("%s %s: E2E measured %v, twin %v", e.Experiment, e.Model, e.E2E, e.E2ESim)
		}
	}
	if final := st.MedianErr.E2E[len(st.MedianErr.E2E)-1]; !(final < 30) {
		t.Errorf("median |E2E error| %.1f%% on the run's own fit", final)
	}
	// A file the twin cannot read any more keeps what was shown, and says why.
	f, _ = os.OpenFile(filepath.Join(live, "requests.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("\n\n{}\n")
	f.Close()
	if bad := read(); bad.Error == "" || len(bad.Exps) != len(st.Exps) {
		t.Errorf("unreadable records: error %q, %d experiments kept of %d", bad.Error, len(bad.Exps), len(st.Exps))
	}
	for _, c := range []string{"tpot.svg", "e2e.png", "err.svg", "telemetry.svg"} {
		resp, body := ts.get(t, "/calibration/runs/"+id+"/chart/"+c)
		if resp.StatusCode != 200 || !(strings.Contains(body, "<svg") || strings.HasPrefix(body, "\x89PNG")) {
			t.Errorf("chart %s: %d", c, resp.StatusCode)
		}
	}
	if resp, _ := ts.get(t, "/calibration/runs/"+id+"/chart/nope.svg"); resp.StatusCode != 404 {
		t.Errorf("unknown chart: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(t, "/calibration/runs/no-such-run"); resp.StatusCode != 404 {
		t.Errorf("unknown calibration run: %d", resp.StatusCode)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
