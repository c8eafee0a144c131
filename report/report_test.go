package report

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
)

func env(t *testing.T) (*catalog.Catalog, perf.ProfileSet) {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	profs, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	return cat, profs
}

func render(t *testing.T, v any) *goquery.Document {
	t.Helper()
	data, err := jsonfmt.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, data); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script") || strings.Contains(b.String(), "src=\"http") {
		t.Error("the report is not self-contained")
	}
	doc, err := goquery.NewDocumentFromReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// A plan's report shows its winner, its verification, every ranked and
// rejected configuration, and its charts inline.
func TestPlanReport(t *testing.T) {
	cat, profs := env(t)
	data, err := os.ReadFile("../planner/testdata/small.toml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Parse("small.toml", data, cat, profs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Search(context.Background(), planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Finish(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc := render(t, r)
	if got, want := doc.Find(`[data-testid=ranked] tr`).Length()-1, len(r.Ranked); got != want {
		t.Errorf("%d ranked rows, want %d", got, want)
	}
	if got, want := doc.Find(`[data-testid=rejected] tr`).Length()-1, len(r.Rejected); got != want {
		t.Errorf("%d rejected rows, want %d", got, want)
	}
	if got, want := doc.Find(`[data-testid=verify] tr`).Length()-1, len(r.Verify.Runs); got != want {
		t.Errorf("%d verification rows, want %d", got, want)
	}
	if w := doc.Find(`[data-testid=winner]`).Text(); !strings.Contains(w, r.Winner.Quant) {
		t.Errorf("winner paragraph %q does not name %s", w, r.Winner.Quant)
	}
	if got, want := doc.Find("figure svg").Length(), len(PlanCharts(r)); got != want || got < 2 {
		t.Errorf("%d inline charts, want %d (at least the Pareto front and a day chart)", got, want)
	}
	if got := doc.Find(`[data-testid=layouts] tr`).Length() - 1; got != len(r.Layouts) {
		t.Errorf("%d placement rows, want %d", got, len(r.Layouts))
	}
	planProvenance(t, r, doc)
}

func TestSimulationReport(t *testing.T) {
	cat, profs := env(t)
	sc, err := scenario.Load("../scenarios/seed-colocated.toml", cat, profs)
	if err != nil {
		t.Fatal(err)
	}
	sc.Duration = sc.Warmup * 3
	res, err := sim.Run(context.Background(), sc, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cost, err := tco.Evaluate(sc, res)
	if err != nil {
		t.Fatal(err)
	}
	doc := render(t, twin.Simulation{Result: res, Cost: cost})
	if got := doc.Find(`[data-testid=models] tr`).Length() - 1; got != len(res.Models) {
		t.Errorf("%d model rows, want %d", got, len(res.Models))
	}
	if got := doc.Find(`[data-testid=devices] tr`).Length() - 1; got != len(res.Devices) {
		t.Errorf("%d device rows, want %d", got, len(res.Devices))
	}
	if !strings.Contains(doc.Find(`[data-testid=cost]`).Text(), "per million tokens") {
		t.Error("no cost paragraph")
	}
	if doc.Find("figure svg").Length() != 1 {
		t.Error("no latency chart")
	}
}

func TestReportRefusesOtherJSON(t *testing.T) {
	for _, in := range []string{`{"name": "x"}`, `[1, 2]`, `{`} {
		if err := WriteHTML(&bytes.Buffer{}, []byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
