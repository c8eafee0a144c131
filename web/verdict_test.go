package web

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/perf"
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

// The result tables give one figure per metric, as the cost line and the
// verdict do: utilization after warm-up, power device and node apart,
// dollars with separators; a missed SLO says which target it missed.
func TestRunPageOneFigurePerMetric(t *testing.T) {
	ts := newTestServer(t, "", "")
	run, base := startSeed(t, ts)
	d := ts.doc(t, "/runs/"+run)
	util := strings.TrimSpace(byTestID(d, "device-util").First().Text())
	if util != "78.5%" || !strings.Contains(byTestID(d, "cost").Text(), "utilization "+util+" after warm-up") {
		t.Errorf("device utilization %q, cost line %q: want one figure, 78.5%%", util, byTestID(d, "cost").Text())
	}
	if !strings.Contains(byTestID(d, "cost").Text(), "hardware $4,699") {
		t.Errorf("cost line %q lacks hardware $4,699", byTestID(d, "cost").Text())
	}
	if heads := byTestID(d, "devices").Find("th").Text(); !strings.Contains(heads, "Device power") || !strings.Contains(heads, "Node power (with host)") {
		t.Errorf("device table heads %q", heads)
	}
	if why := byTestID(d, "slo-why").Text(); why != "TTFT p95 3.58 s > 3 s" {
		t.Errorf("why qwen3-14b missed its SLO: %q", why)
	}
	c := ts.doc(t, "/compare?a="+base+"&b="+run)
	rows := map[string]string{}
	byTestID(c, "compare-row").Each(func(_ int, s *goquery.Selection) {
		rows[s.Find("td").First().Text()] = strings.Join(s.Find("td").Map(func(_ int, td *goquery.Selection) string { return td.Text() }), " ")
	})
	for label, want := range map[string]string{
		"qwen3-14b SLO met":                  "qwen3-14b SLO met yes no met → missed",
		"hardware spend ($)":                 "hardware spend ($) 9,398 4,699 -50.0%",
		"mean utilization after warm-up (%)": "mean utilization after warm-up (%) 46.4 78.5",
	} {
		if !strings.HasPrefix(rows[label], want) {
			t.Errorf("compare row %q, want %q", rows[label], want)
		}
	}
}

// The verdict says what it rests on: the fitted profile's provenance for
// the seed, a prior's warning for a fleet on a datasheet prior.
func TestVerdictBasis(t *testing.T) {
	ts := newTestServer(t, "", "")
	run, _ := startSeed(t, ts)
	if b := byTestID(ts.doc(t, "/runs/"+run), "verdict-basis").Text(); !strings.HasPrefix(b, "Rests on llama.cpp on dgx-spark: fitted on") {
		t.Errorf("seed verdict basis %q", b)
	}
	if tag := byTestID(ts.doc(t, "/"), "tagline").Text(); strings.Contains(tag, "calibrated on real hardware") || !strings.Contains(tag, "datasheet priors") {
		t.Errorf("tagline %q", tag)
	}
	got, prior := basis([]perf.ProvenanceInfo{{Engine: "vllm", Hardware: "h100-sxm", Prior: true, Label: "x"}})
	if !prior || !strings.HasPrefix(got, "These answers rest on a prior: vllm on h100-sxm") {
		t.Errorf("prior basis %q, %v", got, prior)
	}
}
