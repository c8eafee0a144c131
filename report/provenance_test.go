package report

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
)

// A simulation's report has a provenance table, one row per profile, and
// a notice when the run rests on a prior.
func TestSimulationReportProvenance(t *testing.T) {
	cat, profs := env(t)
	for _, tc := range []struct {
		file, label string
		prior       bool
	}{
		{"seed-colocated", "llama.cpp on dgx-spark: ", false},
		{"fleet-h100", "vllm on h100-sxm: prior: not validated", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sc, err := scenario.Load("../scenarios/"+tc.file+".toml", cat, profs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range sc.Nodes {
				prof := &sc.Nodes[i].Profile
				if tc.prior { // whatever the shipped profile says
					prof.Provenance = perf.Prior(prof.Hardware, prof.Engine).Provenance
				} else if prof.Provenance.IsPrior() {
					t.Skipf("%s rests on a prior", tc.file)
				}
			}
			sc.Warmup = 10 * engine.Second
			sc.Duration = 30 * engine.Second
			out, err := twin.Simulate(context.Background(), sc, twin.Options{})
			if err != nil {
				t.Fatal(err)
			}
			doc := render(t, out)
			rows := doc.Find(`[data-testid=provenance] tr`)
			if rows.Length() != 2 || !strings.Contains(rows.Last().Text(), tc.label) {
				t.Errorf("provenance table %q, want one row with %q", rows.Text(), tc.label)
			}
			note := doc.Find(`[data-testid=prior-note]`)
			if (note.Length() == 1) != tc.prior {
				t.Errorf("prior note %q, want one: %v", note.Text(), tc.prior)
			}
		})
	}
}

// planProvenance checks a plan report's provenance: a table of the
// space's profiles, the profile column, and, once the winner is marked as
// resting on a prior, the marks and the winner's notice.
func planProvenance(t *testing.T, r *planner.Result, doc *goquery.Document) {
	t.Helper()
	if got := doc.Find(`[data-testid=provenance] tr`).Length() - 1; got != len(r.Profiles) || got == 0 {
		t.Errorf("%d provenance rows, want %d", got, len(r.Profiles))
	}
	if doc.Find(`[data-testid=winner-prior]`).Length() != 0 {
		t.Error("a winner on a fitted profile is said to rest on a prior")
	}
	r.Ranked[0].Prior, r.Ranked[0].Provenance = true, "x on y: prior: not validated"
	w := *r.Winner
	w.Prior, w.Provenance = true, "x on y: prior: not validated"
	r.Winner = &w
	doc = render(t, r)
	if doc.Find(`[data-testid=ranked] [data-prior=true]`).Length() != 1 {
		t.Error("the prior configuration is not marked in the ranked table")
	}
	if got := doc.Find(`[data-testid=winner-prior]`).Text(); !strings.Contains(got, "rests on a prior: x on y") {
		t.Errorf("winner's notice %q", got)
	}
}
