// Package report turns a finished plan or simulation into what people
// read: charts (gonum/plot, SVG or PNG) and one self-contained HTML page
// that needs nothing but a browser.
package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/chart"
	"github.com/fleettwin/fleettwin/planner"
	"github.com/fleettwin/fleettwin/verdict"
)

// Chart is one chart a result offers, drawn on demand.
type Chart struct {
	Name  string // file stem: pareto, day-utilization, ...
	Title string
	Draw  func(w io.Writer, format string) error
}

// PlanCharts are a plan's charts: cost against latency for every feasible
// configuration with the Pareto front, and the winner's day (with the
// nodes it holds autoscaled, where the plan autoscales it).
func PlanCharts(r *planner.Result) []Chart {
	var out []Chart
	if len(r.Ranked) > 0 {
		out = append(out, Chart{Name: "pareto", Title: "Cost against latency", Draw: func(w io.Writer, format string) error {
			return paretoChart(w, r, format)
		}})
	}
	if r.Verify == nil || r.Verify.Day == nil || len(r.Verify.Day.Util) == 0 {
		return out
	}
	d := r.Verify.Day
	x := make([]float64, len(d.Util))
	for i := range x {
		x[i] = float64(i) * d.BinS / 3600
	}
	// The run covers the plan's own traffic, a day only when the plan
	// says so: the titles say how long it is.
	span := Span(d.DurationS)
	day := func(name, what, unit string, ys []float64, scale float64) Chart {
		title := what + " over the plan's traffic (" + span + ")"
		return Chart{Name: name, Title: title, Draw: func(w io.Writer, format string) error {
			y := make([]float64, len(ys))
			for i, v := range ys {
				y[i] = v * scale
			}
			return chart.Lines(w, fmt.Sprintf("%s: winner #%d, %s", r.Plan, r.Winner.Index, title), "hours into the run", unit, x, []string{what}, [][]float64{y}, format)
		}}
	}
	out = append(out,
		day("day-utilization", "utilization", "% of time busy (mean of devices)", d.Util, 100),
		day("day-power", "power", "W (all devices)", d.PowerW, 1),
		day("day-temperature", "temperature", "°C (hottest device)", d.TempC, 1),
	)
	if c, ok := nodesChart(r); ok {
		out = append(out, c)
	}
	return out
}

func paretoChart(w io.Writer, r *planner.Result, format string) error {
	front := map[int]bool{}
	for _, i := range r.Pareto {
		front[i] = true
	}
	var all, pf, win chart.PointSet
	all.Label, pf.Label, win.Label = "meets the SLOs", "Pareto front", "winner"
	pf.Line, win.Size = true, 7
	for _, o := range r.Ranked {
		x, y := o.Metrics.USDPerMonth, 1000*o.Metrics.WorstTPOTP95
		all.X, all.Y = append(all.X, x), append(all.Y, y)
		if front[o.Index] {
			pf.X, pf.Y = append(pf.X, x), append(pf.Y, y)
		}
		if r.Winner != nil && o.Index == r.Winner.Index {
			win.X, win.Y = []float64{x}, []float64{y}
		}
	}
	return chart.Points(w, r.Plan+": cost against latency", "$ per month", "worst model's TPOT p95 (ms)", []chart.PointSet{all, pf, win}, format)
}

// Span says a simulated duration as people read it: "45 s", "12.5 min",
// "2.1 h (7,500 s)", "1 day (86,400 s)".
func Span(seconds float64) string {
	exact := " (" + verdict.Thousands(fmt.Sprintf("%.0f", seconds)) + " s)"
	switch {
	case seconds < 120:
		return fmt.Sprintf("%.0f s", seconds)
	case seconds < 3600:
		return strconv.FormatFloat(seconds/60, 'f', 1, 64) + " min" + exact
	case seconds == 86400:
		return "1 day" + exact
	case seconds < 2*86400:
		return strconv.FormatFloat(seconds/3600, 'f', 1, 64) + " h" + exact
	}
	return strconv.FormatFloat(seconds/86400, 'f', 1, 64) + " days" + exact
}

// Reasons says why configurations were turned down, most first: "30 on
// slo, 4 on memory".
func Reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d on %s", m[k], k)
	}
	return strings.Join(parts, ", ")
}
