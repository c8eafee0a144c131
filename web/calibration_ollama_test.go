package web

import (
	"encoding/json"
	"github.com/fleettwin/fleettwin/jobs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/catalog"
)

// TestDashboardCalibratesOllama starts the shipped example calibration
// (ExamplePlan, chosen by name from calibration-plans/ as a newcomer
// would) from the dashboard against a real Ollama serving two
// random-weight Qwen3 models on this CPU, and follows it live next to its
// twin until it finishes. `make test` builds Ollama and runs it
// (FLEETTWIN_OLLAMA); plain `go test` skips.
func TestDashboardCalibratesOllama(t *testing.T) {
	bin := os.Getenv("FLEETTWIN_OLLAMA")
	if bin == "" {
		t.Skip("FLEETTWIN_OLLAMA is not set: run `make test`, which builds Ollama and sets it")
	}
	// The built-in catalog: the example brings its CPU and model shapes.
	root := t.TempDir()
	s, err := newServer(testOptions{DataDir: t.TempDir(), Catalog: catalog.Default(), Profiles: profiles, CalibrationDirs: []string{root},
		CalibrationPlans: "../calibration-plans", Ollama: bin})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer func() { hs.Close(); s.Close() }()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(hs.URL+"/calibration/start", url.Values{"plan": {ExamplePlan}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start: %d", resp.StatusCode)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/calibration/runs/")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/calibration/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	start := time.Now()
	var states []jobs.CalState
	for {
		ws.SetReadDeadline(time.Now().Add(5 * time.Minute)) // a hang guard
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d states: %v", len(states), err)
		}
		var st jobs.CalState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
		if st.Finished || !st.Running && len(states) > 1 {
			break
		}
	}
	last := states[len(states)-1]
	t.Logf("calibration from the dashboard: %d states in %v; %d of %d requests; %d experiment rows; error %q",
		len(states), time.Since(start).Round(time.Second), last.Requests, last.Planned, len(last.Exps), last.Error)
	if !last.Finished || last.Requests != last.Planned || last.Planned == 0 {
		t.Fatalf("the calibration did not finish: %+v", last)
	}
	// It streamed as it went: several states, requests only growing.
	grew := 0
	for i := 1; i < len(states); i++ {
		if states[i].Requests < states[i-1].Requests {
			t.Errorf("requests went back: %d after %d", states[i].Requests, states[i-1].Requests)
		}
		if states[i].Requests > states[i-1].Requests {
			grew++
		}
	}
	if grew < 3 {
		t.Errorf("requests grew in %d of %d states: not live", grew, len(states))
	}
	// The twin replayed the experiments on the server's prior for the CI
	// host (no fit yet): every row has both sides.
	if len(last.Exps) == 0 {
		t.Fatalf("no experiments replayed: %q", last.Error)
	}
	for _, e := range last.Exps {
		if !(e.E2E > 0 && e.E2ESim > 0) {
			t.Errorf("%s %s: E2E measured %v, twin %v", e.Experiment, e.Model, e.E2E, e.E2ESim)
		}
	}
}
