package web

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

// The runs list shows each run's key metrics (the result's once done)
// and serves its rows for the page to poll while a run goes.
func TestRunsListMetrics(t *testing.T) {
	ts := newTestServer(t, "", "")
	done := ts.start(t, "seed-colocated.toml", "0")
	ts.wait(t, done)
	data, _ := scenarios.FS.ReadFile("seed-separate.toml")
	r, err := ts.Runs.Start("seed-separate.toml", data, 600)
	if err != nil {
		t.Fatal(err)
	}
	live := r.State().ID
	defer ts.Runs.Stop(live)

	d := ts.doc(t, "/")
	if got := byTestID(d, "runs").AttrOr("data-live", ""); got != "true" {
		t.Errorf("runs table data-live %q with a run going", got)
	}
	row := d.Find(`[data-testid=run-row][data-run="` + done + `"]`)
	for id, want := range map[string]string{"run-ttft": "3.58 s", "run-tpot": "95.8 ms", "run-util": "78.5%", "run-slo": "1 of 2", "run-cost": "$0.1945/h", "run-progress": "100%"} {
		if got := strings.TrimSpace(row.Find(`[data-testid=` + id + `]`).Text()); got != want {
			t.Errorf("finished run's %s: %q, want %q", id, got, want)
		}
	}
	if pts := row.Find(`[data-testid=run-spark] polyline`).AttrOr("points", ""); strings.Count(pts, ",") < 10 || strings.Count(pts, ",") > sparkPoints {
		t.Errorf("finished run's sparkline points %q: want 10 to %d", pts, sparkPoints)
	}
	rows := func() map[string]runRow {
		_, body := ts.get(t, "/api/runs/rows")
		var rs []runRow
		if err := json.Unmarshal([]byte(body), &rs); err != nil {
			t.Fatalf("%v: %.200s", err, body)
		}
		out := map[string]runRow{}
		for _, r := range rs {
			out[r.ID] = r
		}
		return out
	}
	var first runRow
	eventually(t, "the live run makes progress", func() bool { first = rows()[live]; return first.Progress > 0 })
	eventually(t, "the live run's row moves on", func() bool { return rows()[live].Progress > first.Progress })
	if got := rows()[live]; got.Done || got.Status != "running" || !(got.Utilization > 0) {
		t.Errorf("live row %+v", got)
	}
}

// The runs page follows a run without a reload: its progress cell moves.
func TestRunsListLiveInChromium(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, _ := scenarios.FS.ReadFile("seed-separate.toml")
	r, err := ts.Runs.Start("seed-separate.toml", data, 600) // 24 s
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Runs.Stop(r.State().ID)
	ctx, cancel := browser(t)
	defer cancel()
	cell := `document.querySelector('[data-testid=run-progress]').textContent`
	var before, after string
	var same bool
	err = chromedp.Run(ctx,
		chromedp.Navigate(ts.url+"/"),
		chromedp.WaitVisible(`[data-testid=run-progress]`),
		chromedp.Evaluate(`window.notReloaded = true`, nil),
		chromedp.Evaluate(cell, &before),
		chromedp.Poll(cell+` !== `+jsString(before), nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(cell, &after),
		chromedp.Evaluate(`window.notReloaded === true`, &same),
	)
	if err != nil {
		t.Fatalf("follow the runs list: %v", err)
	}
	if !same {
		t.Errorf("the page reloaded to move the progress from %s to %s", before, after)
	}
}

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestSpark(t *testing.T) {
	st := jobs.State{T: make([]float64, 100), Devices: []jobs.DeviceSeries{{Utilization: make([]float64, 100)}, {Utilization: make([]float64, 100)}}}
	for i := range st.T {
		st.T[i] = float64(i)
		st.Devices[0].Utilization[i], st.Devices[1].Utilization[i] = 0.5, float64(i)/100
	}
	sp := spark(st)
	if len(sp) > sparkPoints || len(sp) < sparkPoints/2 || sp[len(sp)-1] != (0.5+0.99)/2 {
		t.Errorf("%d points, last %v: want at most %d, the last point's mean last", len(sp), sp[len(sp)-1], sparkPoints)
	}
	if got := sparkLine([]float64{0, 1}); got != "0.0,19.0 80.0,1.0" {
		t.Errorf("sparkLine: %q", got)
	}
}
