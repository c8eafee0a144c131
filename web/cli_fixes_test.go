package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/scenarios"
)

// While a run goes its page links no result.json or series.csv (both
// answer 409 until it ends) and says where the live points are; once it
// ends, both links work.
func TestResultLinksOnlyWithAResult(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, _ := scenarios.FS.ReadFile("seed-colocated.toml")
	r, err := ts.Runs.Start("seed-colocated.toml", data, 60) // four minutes: still going when the page is read
	if err != nil {
		t.Fatal(err)
	}
	id := r.State().ID
	d := ts.doc(t, "/runs/"+id)
	if n := byTestID(d, "download-json").Length() + byTestID(d, "download-csv").Length(); n != 0 {
		t.Errorf("a running run's page links %d result downloads", n)
	}
	if later := byTestID(d, "download-later"); !strings.Contains(later.Text(), "when the run has a result") || later.Find(`a[href$="/state.json"]`).Length() != 1 {
		t.Errorf("no note on when the downloads come: %q", later.Text())
	}
	ts.Runs.Stop(id)
	ts.wait(t, id)
	d = ts.doc(t, "/runs/"+id)
	for _, tid := range []string{"download-json", "download-csv"} {
		href, ok := byTestID(d, tid).Attr("href")
		if !ok {
			t.Errorf("a stopped run with a partial result has no %s link", tid)
			continue
		}
		if resp, body := ts.get(t, href); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %.80s", href, resp.StatusCode, body)
		}
	}
}

// A calibration that cannot start answers with the calibration page, its
// problem above the form, not a bare text page.
func TestCalibrationProblemPage(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{CalibrationDirs: []string{t.TempDir()}})
	for _, form := range []url.Values{{"plan": {""}}, {"toml": {"name = \"x\"\nhardware = \"dgx-sparkle\"\n"}}} {
		resp, body := ts.do(t, "POST", "/calibration/start", strings.NewReader(form.Encode()), "application/x-www-form-urlencoded")
		if resp.StatusCode < 400 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%v: %d %s, want an error status as an HTML page", form, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if p := byTestID(d, "calibration-error").Text(); p == "" || byTestID(d, "calibration-start").Length() != 1 || byTestID(d, "nav").Length() != 1 {
			t.Errorf("%v: problem %q, form %d, nav %d", form, p, byTestID(d, "calibration-start").Length(), byTestID(d, "nav").Length())
		}
	}
}

// The plans select leads a newcomer into the example, which needs no GPU
// and no server of theirs (the dashboard's Ollama), never into a plan
// that needs servers running; a plan's catalog entries are not offered
// as a plan.
func TestCalibrationPlansOfferTheExample(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{CalibrationDirs: []string{t.TempDir()}, CalibrationPlans: "../calibration-plans"})
	d := ts.doc(t, "/calibration")
	opts := byTestID(d, "calibration-plan").Find("option")
	if opts.Length() < 3 || opts.First().AttrOr("value", "x") != "" || !strings.Contains(opts.First().Text(), "choose a plan") {
		t.Fatalf("plan options: %d, first %q", opts.Length(), opts.First().Text())
	}
	if v := opts.Eq(1).AttrOr("value", ""); v != ExamplePlan || !strings.Contains(opts.Eq(1).Text(), "example") {
		t.Errorf("the first plan offered is %q (%q), want the example %s", v, opts.Eq(1).Text(), ExamplePlan)
	}
	sel := opts.Filter("[selected]")
	if sel.Length() != 1 || sel.AttrOr("value", "") != ExamplePlan {
		t.Errorf("selected: %d options, %q; want only the example", sel.Length(), sel.AttrOr("value", ""))
	}
	opts.Each(func(_ int, o *goquery.Selection) {
		if strings.HasSuffix(o.AttrOr("value", ""), ".catalog.toml") {
			t.Errorf("a catalog file is offered as a plan: %s", o.AttrOr("value", ""))
		}
	})
}

// Without an Ollama (plain `make run`), starting the example says how to
// get one, on the page.
func TestExampleWithoutOllamaSaysHow(t *testing.T) {
	ts := newTestServerOpt(t, testOptions{CalibrationDirs: []string{t.TempDir()}, CalibrationPlans: "../calibration-plans"})
	resp, err := http.PostForm(ts.url+"/calibration/start", url.Values{"plan": {ExamplePlan}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	d, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if p := byTestID(d, "calibration-error").Text(); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(p, "make run-ollama") {
		t.Errorf("%d: %q, want 422 naming make run-ollama", resp.StatusCode, p)
	}
}
