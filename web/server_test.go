package web

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gorilla/websocket"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

var (
	cat         = catalog.Default()
	profiles, _ = perf.DefaultProfiles()
)

type testServer struct {
	*wired
	url    string
	dir    string
	client *http.Client
}

func newTestServer(t *testing.T, dir, token string) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := newServer(testOptions{DataDir: dir, Token: token, Catalog: cat, Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	// Redirects are checked by hand.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testServer{wired: s, url: hs.URL, dir: dir, client: client}
}

func (ts *testServer) do(t *testing.T, method, path string, body io.Reader, contentType string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (ts *testServer) get(t *testing.T, path string) (*http.Response, string) {
	return ts.do(t, "GET", path, nil, "")
}

func (ts *testServer) doc(t *testing.T, path string) *goquery.Document {
	t.Helper()
	resp, body := ts.get(t, path)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// start posts a shipped scenario and returns the new run's ID, waiting
// for the run to end.
func (ts *testServer) start(t *testing.T, name, speed string) string {
	t.Helper()
	resp, body := ts.do(t, "POST", "/runs", strings.NewReader(url.Values{"scenario": {name}, "speed": {speed}}.Encode()), "application/x-www-form-urlencoded")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("start %s: %d %s", name, resp.StatusCode, body)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/runs/")
	return id
}

func (ts *testServer) wait(t *testing.T, id string) jobs.State {
	t.Helper()
	r, ok := ts.Runs.Get(id)
	if !ok {
		t.Fatalf("no run %s", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return r.State()
}

func byTestID(d *goquery.Document, id string) *goquery.Selection {
	return d.Find(`[data-testid="` + id + `"]`)
}

func TestRunLifecycleAndDownloads(t *testing.T) {
	ts := newTestServer(t, "", "")
	home := ts.doc(t, "/")
	if byTestID(home, "no-runs").Length() != 1 || byTestID(home, "scenario-select").Find("option").First().Text() != "seed-colocated.toml" {
		t.Errorf("empty home page: want the no-runs note and the seed scenario first")
	}
	id := ts.start(t, "seed-colocated.toml", "0")
	st := ts.wait(t, id)
	if st.Status != jobs.StatusDone || st.Progress != 1 || len(st.T) < 100 || len(st.Devices[0].PowerW) != len(st.T) {
		t.Fatalf("finished run: status %s, progress %v, %d points", st.Status, st.Progress, len(st.T))
	}
	// The throughput series integrates back to the completions.
	for _, m := range st.Models {
		var n, prev float64
		for i, r := range m.Throughput {
			n += r * (st.T[i] - prev)
			prev = st.T[i]
		}
		if math.Abs(n-float64(m.Completed)) > 1e-6*float64(m.Completed) {
			t.Errorf("%s: ∫ throughput = %v, completed %d", m.Model, n, m.Completed)
		}
	}
	page := ts.doc(t, "/runs/"+id)
	if got := byTestID(page, "status").Text(); got != jobs.StatusDone {
		t.Errorf("status %q", got)
	}
	rows := byTestID(page, "summary").Find("tbody tr")
	if rows.Length() != 2 || !strings.Contains(rows.First().Text(), "qwen3-14b") {
		t.Errorf("summary rows: %d %q", rows.Length(), rows.First().Text())
	}
	if got := byTestID(page, "devices-now").Text(); !strings.HasPrefix(got, "spark: ") || strings.Contains(got, "throttled") {
		t.Errorf("devices now: %q", got)
	}
	if !strings.Contains(byTestID(page, "cost").Text(), "per million tokens") || byTestID(page, "chart-power").Length() != 1 {
		t.Errorf("cost line %q, power chart %d", byTestID(page, "cost").Text(), byTestID(page, "chart-power").Length())
	}

	// Downloads: the scenario loads back, the result has its cost, the
	// series and charts are what they say.
	resp, toml := ts.get(t, "/runs/"+id+"/scenario.toml")
	if !strings.Contains(resp.Header.Get("Content-Disposition"), "seed-colocated.toml") {
		t.Errorf("scenario download header %q", resp.Header.Get("Content-Disposition"))
	}
	if _, err := scenario.Parse("downloaded.toml", []byte(toml), cat, profiles, nil); err != nil {
		t.Errorf("downloaded scenario does not load: %v", err)
	}
	_, js := ts.get(t, "/runs/"+id+"/result.json")
	var out struct {
		Scenario string
		Models   []json.RawMessage
		Cost     struct {
			USDPerHour float64 `json:"usd_per_hour"`
		}
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil || len(out.Models) != 2 || out.Cost.USDPerHour <= 0 {
		t.Errorf("result.json: %v, %d models, $%v/h", err, len(out.Models), out.Cost.USDPerHour)
	}
	// The series are the result's, in the format `simulate --series`
	// writes: one row per device and bin.
	_, csv := ts.get(t, "/runs/"+id+"/series.csv")
	bins := 0
	for _, d := range mustRun(t, ts, id).Outcome().Series {
		bins += len(d.Utilization)
	}
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); lines[0] != "node,t_s,utilization,mfu,mbu,kv_use,running,waiting,power_w,temp_c,clock,throttled" || bins == 0 || len(lines) != bins+1 {
		t.Errorf("series.csv: %d lines for %d bins, header %q", len(lines), bins, lines[0])
	}
	for _, c := range []struct{ path, ctype, start string }{
		{"/chart/power.svg", "image/svg+xml", "<?xml"},
		{"/chart/ttft.png", "image/png", "\x89PNG"},
	} {
		resp, body := ts.get(t, "/runs/"+id+c.path)
		if resp.Header.Get("Content-Type") != c.ctype || !strings.HasPrefix(body, c.start) {
			t.Errorf("%s: %s, starts %q", c.path, resp.Header.Get("Content-Type"), body[:min(len(body), 8)])
		}
	}
	if resp, _ := ts.get(t, "/runs/"+id+"/chart/nope.svg"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown chart: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(t, "/runs/no-such-run"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown run: %d", resp.StatusCode)
	}
}

// Runs survive a restart of the server: finished ones with their results,
// one that was running as interrupted.
func TestRunsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, dir, "")
	id := ts.start(t, "seed-separate.toml", "0")
	ts.wait(t, id)
	ts.Close()
	// A run the server was killed in the middle of.
	live := filepath.Join(dir, "runs", "20260101-000000-001-killed")
	os.MkdirAll(live, 0o755)
	os.WriteFile(filepath.Join(live, metaFile), mustJSON(jobs.Meta{ID: "20260101-000000-001-killed", Name: "killed", Status: jobs.StatusRunning}), 0o644)
	os.WriteFile(filepath.Join(live, scenarioFile), []byte("name = \"killed\""), 0o644)

	again := newTestServer(t, dir, "")
	list := again.Runs.List()
	if len(list) != 2 || list[0].ID != id || list[0].Status != jobs.StatusDone || list[1].Status != jobs.StatusInterrupted {
		t.Fatalf("after restart: %+v", list)
	}
	if o := mustRun(t, again, id).Outcome(); o == nil || o.Cost == nil || len(o.Models) != 2 {
		t.Errorf("restored result: %+v", o)
	}
	b, _ := os.ReadFile(filepath.Join(live, metaFile))
	if !strings.Contains(string(b), jobs.StatusInterrupted) {
		t.Errorf("the interrupted status was not saved: %s", b)
	}
	page := again.doc(t, "/runs/"+id)
	if byTestID(page, "summary").Length() != 1 {
		t.Error("restored run page has no summary")
	}
}

func mustRun(t *testing.T, ts *testServer, id string) *jobs.Run {
	t.Helper()
	r, ok := ts.Runs.Get(id)
	if !ok {
		t.Fatalf("no run %s", id)
	}
	return r
}

func TestCompare(t *testing.T) {
	ts := newTestServer(t, "", "")
	a := ts.start(t, "seed-separate.toml", "0")
	b := ts.start(t, "seed-colocated.toml", "0")
	ts.wait(t, a)
	ts.wait(t, b)
	d := ts.doc(t, "/compare?a="+a+"&b="+b)
	rows := map[string]*goquery.Selection{}
	byTestID(d, "compare-row").Each(func(_ int, s *goquery.Selection) { rows[s.Find("td").First().Text()] = s })
	for label, class := range map[string]string{
		"hardware spend ($)":                 "good", // one Spark instead of two
		"qwen3-8b TPOT p95 (ms)":             "bad",  // sharing slows decode
		"mean utilization after warm-up (%)": "good",
		"qwen3-14b SLO met":                  "bad", // met on its own Spark, missed when sharing
		"qwen3-8b SLO met":                   "",
		"qwen3-14b output tokens/s":          "", // same traffic, same throughput
		"time throttled (device-s)":          "",
	} {
		r, ok := rows[label]
		if !ok {
			t.Errorf("no row %q", label)
			continue
		}
		if got, _ := r.Find("td").Last().Attr("class"); got != class {
			t.Errorf("%s: class %q, want %q (%s)", label, got, class, r.Text())
		}
	}
	if r := rows["hardware spend ($)"]; r != nil && !strings.Contains(r.Text(), "-50.0%") {
		t.Errorf("hardware spend row %q", r.Text())
	}
	if d := ts.doc(t, "/compare?a="+a); byTestID(d, "compare").Length() != 0 {
		t.Error("one run picked: compared anyway")
	}
}

func TestCatalogAndCalibrationPages(t *testing.T) {
	ts := newTestServer(t, "", "")
	d := ts.doc(t, "/catalog")
	text := byTestID(d, "models").Text()
	for _, m := range []string{"qwen3-0.6b", "qwen3-8b", "qwen3-235b-a22b", "235.09B"} {
		if !strings.Contains(text, m) {
			t.Errorf("catalog models lack %q", m)
		}
	}
	if strings.Contains(text, "qwen3-7b") {
		t.Error("there is no Qwen3-7B")
	}
	if n := byTestID(d, "hardware").Find("tbody tr").Length(); n != len(cat.Hardware) {
		t.Errorf("%d hardware rows, catalog has %d", n, len(cat.Hardware))
	}
	// Node types: devices, interconnect, power and price.
	if n := byTestID(d, "node-type").Length(); n != len(cat.NodeTypes) {
		t.Errorf("%d node type rows, catalog has %d", n, len(cat.NodeTypes))
	}
	nt := byTestID(d, "node-types").Text()
	for _, want := range []string{"hgx-h100-8", "8 × h100-sxm", "nvlink4-nvswitch", "5600 W", "2500 W", "$270000", "dgx-spark-pair"} {
		if !strings.Contains(nt, want) {
			t.Errorf("node types table lacks %q", want)
		}
	}
	c := ts.doc(t, "/calibration")
	if n := byTestID(c, "profile").Length(); n != len(profiles) {
		t.Errorf("%d profiles shown, %d loaded", n, len(profiles))
	}
	resp, body := ts.get(t, "/calibration/dgx-spark/llama.cpp.svg")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<svg") {
		t.Errorf("profile scatter: %d", resp.StatusCode)
	}
	if resp, _ := ts.get(t, "/calibration/dgx-spark/vllm.svg"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("scatter of an unfitted prior: %d, want 404", resp.StatusCode)
	}
}

func TestTokenRequired(t *testing.T) {
	ts := newTestServer(t, "", "s3cret")
	if resp, _ := ts.get(t, "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	resp, _ := ts.get(t, "/?token=s3cret")
	var token *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == tokenCookie {
			token = c
		}
	}
	if resp.StatusCode != http.StatusOK || token == nil || !token.HttpOnly {
		t.Fatalf("with the token: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	req, _ := http.NewRequest("GET", ts.url+"/catalog", nil)
	req.AddCookie(token)
	if r2, err := ts.client.Do(req); err != nil || r2.StatusCode != http.StatusOK {
		t.Errorf("with the cookie: %v %v", err, r2)
	}
	if resp, _ := ts.get(t, "/?token=wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", resp.StatusCode)
	}
}

// A paced run streams complete states over the websocket, progress only
// growing, until done; a browser that disconnects loses nothing.
func TestLiveStream(t *testing.T) {
	ts := newTestServer(t, "", "")
	id := ts.start(t, "seed-colocated.toml", "7200") // 2 s of wall time, 10 states a second
	u := "ws" + strings.TrimPrefix(ts.url, "http") + "/ws/runs/" + id
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var states []jobs.State
	c.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d states: %v", len(states), err)
		}
		var st jobs.State
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if n := len(states); n > 0 && st.Progress < states[n-1].Progress {
			t.Fatalf("progress went back: %v after %v", st.Progress, states[n-1].Progress)
		}
		states = append(states, st)
		if len(states) == 3 {
			c.Close() // the browser goes away mid-run ...
			c, _, err = websocket.DefaultDialer.Dial(u, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(time.Minute))
		}
		if st.Done {
			break
		}
	}
	if len(states) < 10 || states[len(states)-1].Status != jobs.StatusDone {
		t.Errorf("%d states, last %s", len(states), states[len(states)-1].Status)
	}
	// ... and the run finished with every point: one per 720 simulated
	// seconds, the last at the end (the final snapshot, at the same time,
	// adds none).
	if st := ts.wait(t, id); len(st.T) != 20 || st.T[len(st.T)-1] != 14400 {
		t.Errorf("%d points, last at %v s", len(st.T), st.T[len(st.T)-1])
	}
}

// The closet Spark throttles; the run page says so.
func TestRunShowsThrottling(t *testing.T) {
	ts := newTestServer(t, "", "")
	id := ts.start(t, "seed-colocated-closet.toml", "0")
	st := ts.wait(t, id)
	held := false
	for _, d := range st.Devices {
		held = held || d.Throttle != ""
	}
	page := ts.doc(t, "/runs/"+id)
	now := byTestID(page, "devices-now").Text()
	if held != strings.Contains(now, "throttled (thermal)") {
		t.Errorf("state throttle %v, page %q", held, now)
	}
	if o := mustRun(t, ts, id).Outcome(); o == nil || len(o.Throttling) != 2 || o.Devices[0].ThermalS == 0 {
		t.Errorf("the closet run's outcome has no throttling priced: %+v", o)
	}
}
