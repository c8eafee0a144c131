package report

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/planner"
)

// The plan report's words: a span in hours with the exact seconds, the
// reasons configurations were turned down as counts, and day charts that
// say how long they cover (not "over the day" for two hours).
func TestPlanReportText(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		want string
	}{{45, "45 s"}, {750, "12.5 min (750 s)"}, {7500, "2.1 h (7,500 s)"}, {86400, "1 day (86,400 s)"}, {3 * 86400, "3.0 days (259,200 s)"}} {
		if got := Span(tc.s); got != tc.want {
			t.Errorf("Span(%v) = %q, want %q", tc.s, got, tc.want)
		}
	}
	if got := Reasons(map[string]int{"memory": 4, "slo": 30, "layout": 4}); got != "30 on slo, 4 on layout, 4 on memory" {
		t.Errorf("Reasons: %q", got)
	}
	r := &planner.Result{Plan: "p", Winner: &planner.Outcome{},
		Verify: &planner.Verification{Day: &planner.DayRun{DurationS: 7500, BinS: 75, Util: make([]float64, 100), PowerW: make([]float64, 100), TempC: make([]float64, 100)}}}
	var titles []string
	for _, c := range PlanCharts(r) {
		titles = append(titles, c.Title)
	}
	if got := strings.Join(titles, "; "); got != "utilization over the plan's traffic (2.1 h (7,500 s)); power over the plan's traffic (2.1 h (7,500 s)); temperature over the plan's traffic (2.1 h (7,500 s))" {
		t.Errorf("day chart titles: %s", got)
	}
}
