package web

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

// startSeed starts the seed claim as serve --start does: its baseline (a
// Spark per model) first, then the claim, both as fast as possible, and
// waits for both.
func startSeed(t *testing.T, ts *testServer) (run, base string) {
	t.Helper()
	data, err := scenarios.FS.ReadFile("seed-colocated.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, b, err := ts.StartWithBaseline("seed-colocated.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil || b.State().Name != "seed-separate" {
		t.Fatalf("seed-colocated started without seed-separate beside it: %v", b)
	}
	ts.wait(t, b.State().ID)
	ts.wait(t, r.State().ID)
	return r.State().ID, b.State().ID
}

// The verdict panel answers the seed claim on the runs page serve
// --start opens with, on the run's page and on a comparison: the 14B's
// failing metric, the utilization target and where it comes from, and
// the saving against a Spark per model with its caveat.
func TestVerdictPanel(t *testing.T) {
	ts := newTestServer(t, "", "")
	run, base := startSeed(t, ts)
	if st, _ := ts.Runs.Get(run); st.State().Baseline != base || len(st.State().SLOs) != 2 {
		t.Fatalf("run meta: baseline %q, SLOs %v", st.State().Baseline, st.State().SLOs)
	}
	want := []string{
		"qwen3-14b misses TTFT p95 3.58 s > 3 s",
		"utilization 78.5% ≥ 70.0% (after warm-up; target 70.0%: the seed claim's >70%)",
		"no throttling",
		"hardware spend 50.0% lower ($4,699 against $9,398)",
		"but qwen3-14b misses TTFT p95 3.58 s > 3 s, where the baseline meets every SLO",
	}
	for _, page := range []string{"/", "/runs/" + run, "/compare?a=" + base + "&b=" + run} {
		t.Run(page, func(t *testing.T) {
			d := ts.doc(t, page)
			v := byTestID(d, "verdict")
			if v.Length() != 1 {
				t.Fatalf("%d verdict panels", v.Length())
			}
			text := strings.Join(strings.Fields(v.Text()), " ")
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("verdict lacks %q:\n%s", w, text)
				}
			}
			if !strings.Contains(text, "against seed-separate") {
				t.Errorf("verdict does not name its baseline:\n%s", text)
			}
			statuses := map[string]int{}
			v.Find(`[data-testid=verdict-answer]`).Each(func(_ int, a *goquery.Selection) {
				statuses[a.AttrOr("data-question", "")+" "+a.AttrOr("data-status", "")]++
			})
			if statuses["latency fail"] != 1 || statuses["latency pass"] != 1 || statuses["cost caveat"] != 1 || statuses["utilization pass"] != 1 {
				t.Errorf("answers %v", statuses)
			}
		})
	}
	// The baseline's own page judges it alone: no saving to claim.
	d := ts.doc(t, "/runs/"+base)
	if text := byTestID(d, "verdict").Text(); !strings.Contains(text, "no baseline to compare with") || !strings.Contains(text, "utilization < 70.0% on 2 of 2 devices") {
		t.Errorf("baseline's verdict:\n%s", text)
	}
}

// While a run goes, its panel says when the verdict comes and names the
// run it waits for (the page reloads when that one ends).
func TestVerdictPending(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, _ := scenarios.FS.ReadFile("seed-colocated.toml")
	r, err := ts.Runs.Start("seed-colocated.toml", data, 60) // 4 minutes: it is still going when the page is read
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Runs.Stop(r.State().ID)
	d := ts.doc(t, "/runs/"+r.State().ID)
	v := byTestID(d, "verdict")
	if p := byTestID(d, "verdict-pending").Text(); !strings.Contains(p, "The verdict comes when the run ends") {
		t.Errorf("pending text %q", p)
	}
	if got := v.AttrOr("data-pending-run", ""); got != r.State().ID {
		t.Errorf("waits for %q, want %q", got, r.State().ID)
	}
	if st := r.State(); st.Status != jobs.StatusRunning && st.Status != jobs.StatusQueued {
		t.Errorf("status %s", st.Status)
	}
}
