package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenarios"
)

// newPriorServer is newTestServer with the provenance of the H100 vLLM
// and Spark Ollama profiles replaced by a prior's (their numbers
// unchanged), so that fleet-h100 and an Ollama plan rest on a prior
// whatever the shipped profiles say.
func newPriorServer(t *testing.T) *testServer {
	t.Helper()
	set := perf.ProfileSet{}
	for _, p := range profiles {
		set.Add(p)
	}
	for _, pair := range [][2]string{{"h100-sxm", "vllm"}, {"dgx-spark", "ollama"}} {
		p, err := set.Get(pair[0], pair[1])
		if err != nil {
			t.Fatal(err)
		}
		p.Provenance = perf.Prior(p.Hardware, p.Engine).Provenance
		set.Add(p)
	}
	dir := t.TempDir()
	s, err := newServer(testOptions{DataDir: dir, Catalog: cat, Profiles: set})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &testServer{wired: s, url: hs.URL, dir: dir, client: client}
}

// A run page names the profiles its numbers rest on; one resting on a
// prior (fleet-h100 on a prior H100 vLLM profile) says so in a notice.
func TestRunPageProvenance(t *testing.T) {
	ts := newPriorServer(t)
	fitted := ts.start(t, "seed-colocated.toml", "0")
	ts.wait(t, fitted)
	d := ts.doc(t, "/runs/"+fitted)
	if got := byTestID(d, "profile-label").Text(); !strings.Contains(got, "llama.cpp on dgx-spark: fitted on") && !strings.Contains(got, "llama.cpp on dgx-spark: calibrated on") {
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
	ts := newPriorServer(t)
	c := ts.doc(t, "/calibration")
	labels := byTestID(c, "profile-label")
	if labels.Length() != len(profiles) {
		t.Errorf("%d profile labels, %d profiles", labels.Length(), len(profiles))
	}
	for _, want := range []string{"vllm on h100-sxm: prior: not validated", "llama.cpp on dgx-spark: "} {
		if !strings.Contains(labels.Text(), want) {
			t.Errorf("labels %q lack %q", labels.Text(), want)
		}
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

// A run on a fitted profile whose fit did not set its weight format's
// factor (disagg-h100: fp8 under the H100 vLLM fit, which carries
// TensorRT-LLM's fp8_compute_rel) says so in the run page's notice.
func TestRunPageFormatPrior(t *testing.T) {
	ts := newTestServer(t, "", "")
	id := ts.start(t, "disagg-h100.toml", "0")
	ts.wait(t, id)
	d := ts.doc(t, "/runs/"+id)
	notice := byTestID(d, "provenance").Find(`[data-testid="prior-notice"]`).Text()
	if !strings.Contains(notice, "This run rests on weight-format factors not fitted for their engine: vllm on h100-sxm: fp8 weights: carried (fp8_compute_rel") ||
		strings.Contains(notice, "rests on a prior:") {
		t.Errorf("notice %q", notice)
	}
}
