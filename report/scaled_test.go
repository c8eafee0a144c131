package report

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/fleettwin/fleettwin/planner"
)

// scaledResult is a plan result by hand: a winner of 4 nodes, its day
// fixed at the peak and the same day autoscaled (2.5 nodes held on
// average over 10 hours).
func scaledResult(autoscaled bool) *planner.Result {
	models := func(att float64, met bool) []planner.ModelMetrics {
		return []planner.ModelMetrics{{Model: "qwen3-8b", SLOAttainment: att, SLOMet: met}, {Model: "llama-3.1-8b", SLOAttainment: 0.99, SLOMet: true}}
	}
	w := &planner.Outcome{Candidate: planner.Candidate{Index: 7}, Metrics: &planner.Metrics{Nodes: 4, USDPerHour: 12}}
	day := &planner.DayRun{DurationS: 36000, BinS: 12000, Util: []float64{0.2, 0.8, 0.3}, PowerW: []float64{1, 2, 3}, TempC: []float64{40, 60, 45},
		Metrics: &planner.Metrics{Nodes: 4, USDPerHour: 12, Models: models(0.995, true)}}
	r := &planner.Result{Plan: "day", PlanSHA256: "x", Winner: w, Ranked: []planner.Outcome{*w}, Verify: &planner.Verification{Day: day}}
	if autoscaled {
		r.Verify.ScaledDay = &planner.DayRun{DurationS: 36000, BinS: 12000, NodesHeld: []float64{1, 4, 2.5}, NodeHours: 25, MeanNodes: 2.5,
			Metrics: &planner.Metrics{Nodes: 4, USDPerHour: 7.5, Models: models(0.97, false)}}
	}
	return r
}

// A plan with an autoscaled day shows the nodes held against the fixed
// count and a table of both days: cost, node-hours, each model's SLO.
func TestScaledDayReport(t *testing.T) {
	doc := render(t, scaledResult(true))
	rows := doc.Find(`[data-testid=scaled-day] tr`)
	if rows.Length() != 3 {
		t.Fatalf("%d rows in the scaled-day table, want a header and 2", rows.Length())
	}
	for i, want := range []string{"fixed at the peak $12.00 40.0 4.00 99.5% met 99.0% met", "autoscaled $7.50 25.0 2.50 97.0% missed 99.0% met"} {
		var cells []string
		rows.Eq(i + 1).Find("td").Each(func(_ int, s *goquery.Selection) { cells = append(cells, s.Text()) })
		if got := strings.Join(cells, " "); got != want {
			t.Errorf("row %d: %q, want %q", i+1, got, want)
		}
	}
	if h := doc.Find(`[data-testid=scaled-day] th`).Text(); !strings.Contains(h, "qwen3-8b SLO attainment") || !strings.Contains(h, "llama-3.1-8b SLO attainment") {
		t.Errorf("header %q does not name each model", h)
	}
	var names []string
	for _, c := range PlanCharts(scaledResult(true)) {
		names = append(names, c.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "day-nodes") {
		t.Errorf("charts %v lack day-nodes", names)
	}
	if !strings.Contains(doc.Find("figcaption").Text(), "Nodes held over the day") {
		t.Error("no inline chart of the nodes held")
	}

	plain := render(t, scaledResult(false))
	if plain.Find(`[data-testid=scaled-day]`).Length() != 0 || strings.Contains(plain.Find("figcaption").Text(), "Nodes held") {
		t.Error("a plan without an autoscaled day shows one")
	}
}
