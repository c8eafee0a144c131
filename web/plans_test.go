package web

import (
	"encoding/json"
	"github.com/fleettwin/fleettwin/jobs"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/planner"
)

func (ts *testServer) postPlan(t *testing.T, fields url.Values) (*http.Response, string) {
	t.Helper()
	return ts.do(t, "POST", "/plans", strings.NewReader(fields.Encode()), "application/x-www-form-urlencoded")
}

// startSmallPlan posts the planner's small test plan as pasted TOML and
// returns the new plan's ID.
func (ts *testServer) startSmallPlan(t *testing.T) string {
	t.Helper()
	small, err := os.ReadFile("../planner/testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.postPlan(t, url.Values{"toml": {string(small)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /plans: %d %s", resp.StatusCode, body)
	}
	return strings.TrimPrefix(resp.Header.Get("Location"), "/plans/")
}

// A plan launched from the what-if page streams its progress over the
// websocket, then shows its report, and keeps its result on disk.
func TestPlanFromDashboard(t *testing.T) {
	ts := newTestServer(t, "", "")
	ts.client.Jar, _ = cookiejar.New(nil) // one browser session throughout
	d := ts.doc(t, "/whatif")
	if byTestID(d, "plan-form").Length() != 1 || byTestID(d, "plan-name").Find("option").Length() < 2 {
		t.Fatal("the what-if page offers no plan form with the shipped plans")
	}
	small, err := os.ReadFile("../planner/testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.postPlan(t, url.Values{"toml": {string(small)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /plans: %d %s", resp.StatusCode, body)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/plans/")
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.url, "http")+"/ws/plans/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	var states []jobs.PlanState
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d states: %v", len(states), err)
		}
		var st jobs.PlanState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if n := len(states); n > 0 && st.Done < states[n-1].Done {
			t.Fatalf("progress went back: %d after %d", st.Done, states[n-1].Done)
		}
		states = append(states, st)
		if st.Phase == "done" || st.Phase == "failed" {
			break
		}
	}
	last := states[len(states)-1]
	if last.Phase != "done" || last.Total != 18 || last.Done != last.Total || last.Sims == 0 {
		t.Fatalf("last state %+v", last)
	}
	d = ts.doc(t, "/plans/"+id)
	if !strings.Contains(byTestID(d, "plan-summary").Text(), "cheapest") || byTestID(d, "plan-report").Length() != 1 {
		t.Errorf("the finished plan's page shows no summary or report: %q", byTestID(d, "plan-summary").Text())
	}
	rep := ts.doc(t, "/plans/"+id+"/report.html")
	if rep.Find(`[data-testid=ranked] tr`).Length() < 2 || rep.Find("svg").Length() == 0 {
		t.Error("the report has no ranked table or charts")
	}
	_, js := ts.get(t, "/plans/"+id+"/result.json")
	var res planner.Result
	if err := json.Unmarshal([]byte(js), &res); err != nil || res.Winner == nil {
		t.Fatalf("result.json: %v", err)
	}
	if resp, _ := ts.get(t, "/plans/"+id+"/chart/pareto.png"); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("pareto.png: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if _, err := os.Stat(filepath.Join(ts.dir, "plans", id, "result.json")); err != nil {
		t.Errorf("the result is not kept on disk: %v", err)
	}
	if byTestID(ts.doc(t, "/whatif"), "plan-history-row").Length() != 1 {
		t.Error("the what-if page does not list this session's plan")
	}
	// A restarted server still has the plan's page, result and report.
	again := newTestServer(t, ts.dir, "")
	if d := again.doc(t, "/plans/"+id); byTestID(d, "plan-phase").Text() != "done" || byTestID(d, "plan-report").Length() != 1 {
		t.Error("after a restart the plan's page lost its result")
	}
	if _, js2 := again.get(t, "/plans/"+id+"/result.json"); js2 != js {
		t.Error("after a restart result.json differs")
	}
}

func TestPlanBadInput(t *testing.T) {
	ts := newTestServer(t, "", "")
	resp, body := ts.postPlan(t, url.Values{"toml": {"name = \"x\"\n[search]\nhardware = [\"dgx-sparkle\"]\n"}})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "edited.toml:3: search.hardware[0]") {
		t.Errorf("bad plan: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.postPlan(t, url.Values{"plan": {"../etc/passwd"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown shipped plan: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.get(t, "/plans/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown plan page: %d", resp.StatusCode)
	}
	if resp, body := ts.get(t, "/shipped-plans/seed.toml"); resp.StatusCode != 200 || !strings.Contains(body, "[search]") {
		t.Errorf("shipped plan: %d", resp.StatusCode)
	}
}

// The planner has its own page in the navigation, listing the plans.
func TestPlannerInNavigation(t *testing.T) {
	ts := newTestServer(t, "", "")
	home := ts.doc(t, "/")
	if href, _ := byTestID(home, "nav").Find(`a:contains("Planner")`).Attr("href"); href != "/plans" {
		t.Fatalf("no Planner in the navigation: %q", byTestID(home, "nav").Text())
	}
	if d := ts.doc(t, "/plans"); byTestID(d, "no-plans").Length() != 1 || byTestID(d, "plan-start-link").Length() != 1 {
		t.Errorf("empty planner page: %q", d.Find("main").Text())
	}
	id := ts.startSmallPlan(t)
	d := ts.doc(t, "/plans")
	if row := byTestID(d, "plan-row"); row.Length() != 1 || !strings.Contains(row.Text(), id) {
		t.Errorf("planner page rows: %q, want %s", row.Text(), id)
	}
	if on := byTestID(ts.doc(t, "/plans/"+id), "nav").Find(`a[aria-current=page]`).Text(); on != "Planner" {
		t.Errorf("a plan's page highlights %q in the navigation", on)
	}
}
