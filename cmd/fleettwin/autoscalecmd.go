package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/sim"
)

// writeAutoscale prints each autoscaled group's run: the nodes it held
// and a line of its nodes over the day, a character per series bin
// group.
func writeAutoscale(w io.Writer, r *sim.Result) {
	if len(r.Autoscale) == 0 {
		return
	}
	fmt.Fprintln(w, "\nAutoscaled groups (node-hours and mean after warm-up):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tMIN-MAX\tPOLICY\tTARGET\tCOLD START\tNODE-HOURS\tMEAN\tPEAK\tUPS\tDOWNS\tNODES HELD")
	for _, a := range r.Autoscale {
		fmt.Fprintf(tw, "%s\t%d-%d\t%s\t%g\t%.0f s\t%.4g\t%.2f\t%d\t%d\t%d\t%s\n", a.Group, a.Min, a.Max, a.Policy, a.Target,
			a.ColdStartS, a.NodeHours, a.MeanNodes, a.PeakNodes, a.ScaleUps, a.ScaleDowns, sparkline(a.NodesHeld, float64(a.Max), 48))
	}
	tw.Flush()
}

// sparkline draws values (0 to top) as at most width block characters, each
// the mean of its share of the values.
func sparkline(values []float64, top float64, width int) string {
	const blocks = "▁▂▃▄▅▆▇█"
	levels := []rune(blocks)
	if len(values) == 0 || top <= 0 {
		return ""
	}
	n := min(width, len(values))
	var b strings.Builder
	for i := range n {
		lo, hi := i*len(values)/n, (i+1)*len(values)/n
		sum := 0.0
		for _, v := range values[lo:hi] {
			sum += v
		}
		mean := sum / float64(hi-lo)
		k := int(mean / top * float64(len(levels)-1))
		b.WriteRune(levels[min(max(k, 0), len(levels)-1)])
	}
	return b.String()
}

// writeDaySLO prints a day's SLO attainment per model.
func writeDaySLO(w io.Writer, label string, d *planner.DayRun) {
	var parts []string
	for _, m := range d.Metrics.Models {
		met := "met"
		if !m.SLOMet {
			met = "MISSED"
		}
		parts = append(parts, fmt.Sprintf("%s %s (%.1f%% of requests within the SLO, TTFT p95 %.2f s, TPOT p95 %.1f ms)", m.Model, met, 100*m.SLOAttainment, m.TTFTP95, 1000*m.TPOTP95))
	}
	fmt.Fprintf(w, "    %s: %s\n", label, strings.Join(parts, "; "))
}

// writeScaledDay prints the winner's autoscaled day against the day fixed
// at the peak: cost, node-hours, the SLOs, and the nodes held.
func writeScaledDay(w io.Writer, fixed, d *planner.DayRun) {
	saving := ""
	if fixed != nil && fixed.Metrics.USDPerHour > 0 {
		saving = fmt.Sprintf(" (%+.0f%% against fixed at the peak)", 100*(d.Metrics.USDPerHour/fixed.Metrics.USDPerHour-1))
	}
	fmt.Fprintf(w, "  the same day autoscaled: $%.3f/h%s, %.4g node-hours, %.2f nodes held on average\n", d.Metrics.USDPerHour, saving, d.NodeHours, d.MeanNodes)
	for _, g := range d.Groups {
		fmt.Fprintf(w, "    %s: %d-%d nodes on %s (target %g), cold start %.0f s, peak %d, %d up / %d down\n",
			g.Group, g.Min, g.Max, g.Policy, g.Target, g.ColdStartS, g.PeakNodes, g.ScaleUps, g.ScaleDowns)
	}
	top := 0.0
	for _, g := range d.Groups {
		top += float64(g.Max)
	}
	fmt.Fprintf(w, "    nodes held over the day: %s\n", sparkline(d.NodesHeld, top, 48))
	writeDaySLO(w, "autoscaled", d)
}
