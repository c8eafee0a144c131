package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/jobs"
)

// TestOllamaCalibrationPageInChromium runs the example calibration
// (ExamplePlan, chosen by name as a newcomer would) against a real Ollama (FLEETTWIN_OLLAMA, as TestDashboardCalibratesOllama)
// and opens its page once it is over: the status reads finished, every
// experiment has a row, and the page's screenshot is
// docs/img/dashboard-calibration.png (FLEETTWIN_SCREENSHOTS keeps it).
func TestOllamaCalibrationPageInChromium(t *testing.T) {
	bin := os.Getenv("FLEETTWIN_OLLAMA")
	if bin == "" {
		t.Skip("FLEETTWIN_OLLAMA is not set: run `make test`, which builds Ollama and sets it")
	}
	s, err := newServer(testOptions{DataDir: t.TempDir(), Catalog: catalog.Default(), Profiles: profiles, CalibrationDirs: []string{t.TempDir()},
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
	page := resp.Header.Get("Location")
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/ws/calibration/"+strings.TrimPrefix(page, "/calibration/runs/"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		ws.SetReadDeadline(time.Now().Add(5 * time.Minute)) // a hang guard
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d states: %v", n, err)
		}
		var st jobs.CalState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Finished || !st.Running && n > 0 {
			t.Logf("the calibration: %d of %d requests, %d experiment rows, error %q", st.Requests, st.Planned, len(st.Exps), st.Error)
			break
		}
	}
	ws.Close()
	ctx, cancel := browser(t)
	defer cancel()
	var status string
	var rows int
	err = chromedp.Run(ctx,
		chromedp.EmulateViewport(firstScreenW, firstScreenH),
		chromedp.Navigate(hs.URL+page),
		chromedp.Poll(`window.fleettwin.updates >= 1`, nil, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Sleep(time.Second), // the charts draw
		chromedp.Text(`[data-testid=cal-status]`, &status),
		chromedp.Evaluate(`document.querySelectorAll('[data-testid=cal-row]').length`, &rows),
	)
	if err != nil {
		t.Fatal(err)
	}
	if status != "finished" || rows == 0 {
		t.Errorf("the calibration's page: status %q, %d experiment rows", status, rows)
	}
	screenshot(t, ctx, "calibration")
}
