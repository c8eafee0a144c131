package report

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

func simulate(t *testing.T, file string) (*twin.Simulation, []verdict.SLO) {
	t.Helper()
	cat, profs := env(t)
	sc, err := scenario.Load(file, cat, profs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := twin.Simulate(context.Background(), sc, twin.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, verdict.SLOs(sc)
}

// The report opens with the verdict: with the scenario's SLOs and a
// baseline, the seed claim's answers with their reasons; from the result
// alone, what the result can say.
func TestReportVerdict(t *testing.T) {
	colo, slos := simulate(t, "../scenarios/seed-colocated.toml")
	sep, sepSLOs := simulate(t, "../scenarios/seed-separate.toml")
	data, err := jsonfmt.Marshal(colo)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  Options
		want []string
	}{
		{"with the scenario and a baseline", Options{SLOs: slos, Baseline: &verdict.Run{Sim: sep, SLOs: sepSLOs}},
			[]string{"Verdict against seed-separate", "qwen3-14b misses TTFT p95 3.58 s > 3 s", "utilization 78.5% ≥ 70.0%",
				"hardware spend 50.0% lower ($4,699 against $9,398)", "but qwen3-14b misses TTFT p95 3.58 s > 3 s, where the baseline meets every SLO"}},
		{"from the result alone", Options{},
			[]string{"qwen3-14b misses its SLO (the targets are not recorded with the result", "no baseline to compare with"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, data, tc.opt); err != nil {
				t.Fatal(err)
			}
			doc, err := goquery.NewDocumentFromReader(&b)
			if err != nil {
				t.Fatal(err)
			}
			v := doc.Find(`[data-testid=verdict]`)
			if v.Length() != 1 {
				t.Fatalf("%d verdicts", v.Length())
			}
			for _, w := range tc.want {
				if !strings.Contains(v.Text(), w) {
					t.Errorf("verdict lacks %q:\n%s", w, v.Text())
				}
			}
			if got := v.Find(`[data-testid=verdict-answer][data-status=fail]`).Length(); got < 1 {
				t.Errorf("%d failing answers, want the 14B's", got)
			}
			// First on the page: before the tables.
			if html, _ := doc.Html(); strings.Index(html, `data-testid="verdict"`) > strings.Index(html, `data-testid="models"`) {
				t.Error("the verdict comes after the models table")
			}
		})
	}
}
