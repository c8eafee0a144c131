package web

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/scenarios"
)

// A run page names the profiles its numbers rest on; one resting on a
// prior (fleet-h100: vLLM on H100, a datasheet prior) says so in a notice.
func TestRunPageProvenance(t *testing.T) {
	ts := newTestServer(t, "", "")
	fitted := ts.start(t, "seed-colocated.toml", "0")
	ts.wait(t, fitted)
	d := ts.doc(t, "/runs/"+fitted)
	if got := byTestID(d, "profile-label").Text(); !strings.Contains(got, "llama.cpp on dgx-spark: fitted on") {
		t.Errorf("fitted run's provenance %q", got)
	}
	if byTestID(d, "prior-notice").Length() != 0 {
		t.Error("a run on a fitted profile shows the prior notice")
	}

	data, err := scenarios.FS.ReadFile("fleet-h100.toml")
	if err != nil {
		t.Fatal(err)
	}
	run, err := ts.Runs.Start("fleet-h100.toml", data, 1) // slow: the page is read while it runs
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Runs.Stop(run.State().ID)
	d = ts.doc(t, "/runs/"+run.State().ID)
	notice := byTestID(d, "provenance").Find(`[data-testid="prior-notice"]`).Text()
	if !strings.Contains(notice, "rests on a prior: vllm on h100-sxm") {
		t.Errorf("prior run's notice %q", notice)
	}
	if got := byTestID(d, "profile-label").Text(); !strings.Contains(got, "vllm on h100-sxm: prior: not validated") {
		t.Errorf("prior run's provenance %q", got)
	}

	other := ts.start(t, "seed-separate.toml", "0")
	ts.wait(t, other)
	c := ts.doc(t, "/compare?a="+fitted+"&b="+other)
	if n := byTestID(c, "compare-profile").Length(); n != 2 {
		t.Errorf("compare shows %d profile labels, want one per run", n)
	}
}

// The calibration page labels every profile; a plan resting on a prior
// says so on its page.
func TestProfileLabelsAndPlanPrior(t *testing.T) {
	ts := newTestServer(t, "", "")
	c := ts.doc(t, "/calibration")
	labels := byTestID(c, "profile-label")
	if labels.Length() != len(profiles) {
		t.Errorf("%d profile labels, %d profiles", labels.Length(), len(profiles))
	}
	if !strings.Contains(labels.Text(), "vllm on l40s: prior: not validated") {
		t.Errorf("labels %q lack the L40S prior", labels.Text())
	}

	small, err := os.ReadFile("../planner/testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	mixed := strings.Replace(string(small), `engines = ["llama.cpp"]`, `engines = ["ollama"]`, 1)
	mixed = strings.Replace(mixed, `quants = ["q4_k_m", "q8_0", "bf16"]`, `quants = ["q4_k_m"]`, 1)
	resp, body := ts.postPlan(t, url.Values{"toml": {mixed}})
	if resp.StatusCode != 303 {
		t.Fatalf("POST /plans: %d %s", resp.StatusCode, body)
	}
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/plans/")
	eventually(t, "the plan ends", func() bool { return ts.planPhase(t, id).Phase == "done" })
	d := ts.doc(t, "/plans/"+id)
	if got := byTestID(d, "plan-prior").Text(); !strings.Contains(got, "rest on a prior profile") || !strings.Contains(got, "ollama on dgx-spark") {
		t.Errorf("plan page prior notice %q", got)
	}
	rep := ts.doc(t, "/plans/"+id+"/report.html")
	if rep.Find(`[data-testid=ranked] [data-prior=true]`).Length() == 0 || rep.Find(`[data-testid=winner-prior]`).Length() != 1 {
		t.Error("the plan report does not mark the prior configurations")
	}
}
