package report

import (
	"fmt"
	"io"

	"github.com/fleettwin/fleettwin/chart"
	"github.com/fleettwin/fleettwin/planner"
)

// scaledDay is the plan's day fixed at the peak beside the same day
// autoscaled (planner.Verification.ScaledDay): the rows of the report's
// comparison table, one per day, with each model's SLO attainment in the
// order of Models.
type scaledDay struct {
	Models []string
	Rows   []scaledRow
}

type scaledRow struct {
	Label      string
	USDPerHour float64
	NodeHours  float64
	MeanNodes  float64
	SLO        []planner.ModelMetrics
}

// scaledOf is the comparison, or nil where the plan has no autoscaled day.
// The fixed day holds every node for the hours the autoscaled one counts
// (its node-hours over its mean nodes, the warm-up left out), so its
// node-hours are the node count times those hours.
func scaledOf(v *planner.Verification) *scaledDay {
	if v == nil || v.Day == nil || v.ScaledDay == nil || v.Day.Metrics == nil || v.ScaledDay.Metrics == nil {
		return nil
	}
	fixed, scaled := v.Day, v.ScaledDay
	out := &scaledDay{}
	for _, m := range fixed.Metrics.Models {
		out.Models = append(out.Models, m.Model)
	}
	slo := func(d *planner.DayRun) []planner.ModelMetrics {
		row := make([]planner.ModelMetrics, len(out.Models))
		for i, name := range out.Models {
			row[i] = planner.ModelMetrics{Model: name, SLOAttainment: -1}
			for _, m := range d.Metrics.Models {
				if m.Model == name {
					row[i] = m
				}
			}
		}
		return row
	}
	n := float64(fixed.Metrics.Nodes)
	hours := 0.0
	if scaled.MeanNodes > 0 {
		hours = scaled.NodeHours / scaled.MeanNodes
	}
	out.Rows = []scaledRow{
		{Label: "fixed at the peak", USDPerHour: fixed.Metrics.USDPerHour, NodeHours: n * hours, MeanNodes: n, SLO: slo(fixed)},
		{Label: "autoscaled", USDPerHour: scaled.Metrics.USDPerHour, NodeHours: scaled.NodeHours, MeanNodes: scaled.MeanNodes, SLO: slo(scaled)},
	}
	return out
}

// nodesChart is the nodes the autoscaled day holds in each bin against
// the fixed count, or false where the plan has no autoscaled day.
func nodesChart(r *planner.Result) (Chart, bool) {
	v := r.Verify
	if scaledOf(v) == nil || len(v.ScaledDay.NodesHeld) == 0 {
		return Chart{}, false
	}
	d := v.ScaledDay
	x := make([]float64, len(d.NodesHeld))
	fixed := make([]float64, len(d.NodesHeld))
	for i := range x {
		x[i] = float64(i) * d.BinS / 3600
		fixed[i] = float64(v.Day.Metrics.Nodes)
	}
	const title = "Nodes held over the day"
	winner := 0
	if r.Winner != nil {
		winner = r.Winner.Index
	}
	return Chart{Name: "day-nodes", Title: title, Draw: func(w io.Writer, format string) error {
		return chart.Lines(w, fmt.Sprintf("%s: winner #%d, nodes held over the day (%s)", r.Plan, winner, Span(d.DurationS)), "hours into the run", "nodes held",
			x, []string{"autoscaled", "fixed at the peak"}, [][]float64{d.NodesHeld, fixed}, format)
	}}, true
}
