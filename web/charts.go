package web

import (
	"bytes"
	"fmt"
	"github.com/fleettwin/fleettwin/jobs"
	"image/color"
	"io"
	"math"
	"net/http"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	staticchart "github.com/fleettwin/fleettwin/chart"
	"github.com/fleettwin/fleettwin/perf"
)

var palette = staticchart.Palette

// chartSeries picks a chart's lines from a run's state: one per model or
// per device.
func chartSeries(st jobs.State, name string) (title, unit string, labels []string, ys [][]float64, ok bool) {
	switch name {
	case "throughput":
		for _, m := range st.Models {
			labels = append(labels, m.Model)
			ys = append(ys, m.Throughput)
		}
		return "Completed requests", "per second", labels, ys, true
	case "ttft", "tpot", "e2e":
		// As the page draws them: each model's p95 per interval and
		// cumulative, TPOT in ms.
		title = map[string]string{"ttft": "TTFT p95", "tpot": "TPOT p95", "e2e": "E2E p95"}[name]
		unit, k := "s", 1.0
		if name == "tpot" {
			unit, k = "ms", 1e3
		}
		scale := func(xs []float64) []float64 {
			out := make([]float64, len(xs))
			for i, x := range xs {
				out[i] = k * x
			}
			return out
		}
		for _, m := range st.Models {
			win := map[string][]float64{"ttft": m.TTFTWindow, "tpot": m.TPOTWindow, "e2e": m.E2EWindow}[name]
			cum := map[string][]float64{"ttft": m.TTFTP95, "tpot": m.TPOTP95, "e2e": m.E2EP95}[name]
			labels = append(labels, m.Model+" per interval", m.Model+" cumulative")
			ys = append(ys, scale(win), scale(cum))
		}
		return title, unit, labels, ys, true
	case "util", "power", "temp", "clock", "queue", "kv":
		title = map[string]string{"util": "Utilization", "power": "Device power (without the host share)", "temp": "Temperature", "clock": "Clock", "queue": "Waiting requests", "kv": "KV-cache use"}[name]
		unit = map[string]string{"util": "share of time", "power": "W", "temp": "C", "clock": "share of full", "queue": "requests", "kv": "share of capacity"}[name]
		for _, d := range st.Devices {
			labels = append(labels, d.Node)
			ys = append(ys, map[string][]float64{"util": d.Utilization, "power": d.PowerW, "temp": d.TempC, "clock": d.Clock, "queue": d.Waiting, "kv": d.KVUse}[name])
		}
		return title, unit, labels, ys, true
	}
	return "", "", nil, nil, false
}

// writeChart renders one chart of a run as SVG or PNG with gonum/plot.
// From groupFrom devices on, a device chart draws what the page does:
// each node group's mean, lowest and highest device (deviceGroupLines).
func writeChart(w io.Writer, st jobs.State, name, format string) error {
	title, unit, labels, ys, ok := chartSeries(st, name)
	if !ok {
		return fmt.Errorf("no chart %q", name)
	}
	if _, perDevice := deviceCharts[name]; perDevice && len(st.Devices) >= groupFrom {
		return staticchart.Styled(w, st.Name+": "+title, "simulated time (s)", unit, st.T, deviceGroupLines(st, ys), format)
	}
	return writeLines(w, st.Name+": "+title, "simulated time (s)", unit, st.T, labels, ys, format)
}

// deviceCharts are the charts with a line per device.
var deviceCharts = map[string]struct{}{"util": {}, "power": {}, "temp": {}, "clock": {}, "queue": {}, "kv": {}}

// deviceGroupLines sums ys, one series per device of st, up by node
// group, as app.js's perDevice does: per group and point, the mean of
// the devices with a value (solid, "g mean (n)"), the lowest ("g min")
// and the highest ("g max"), thin and dashed, in the group's colour.
func deviceGroupLines(st jobs.State, ys [][]float64) []staticchart.Line {
	var order []string
	members := map[string][]int{}
	for i, d := range st.Devices {
		g := groupOf(d)
		if _, seen := members[g]; !seen {
			order = append(order, g)
		}
		members[g] = append(members[g], i)
	}
	var lines []staticchart.Line
	for c, g := range order {
		mean, lo, hi := make([]float64, len(st.T)), make([]float64, len(st.T)), make([]float64, len(st.T))
		for j := range st.T {
			sum, n := 0.0, 0
			lo[j], hi[j] = math.Inf(1), math.Inf(-1)
			for _, i := range members[g] {
				if j < len(ys[i]) && !math.IsNaN(ys[i][j]) {
					v := ys[i][j]
					sum, n = sum+v, n+1
					lo[j], hi[j] = min(lo[j], v), max(hi[j], v)
				}
			}
			if n == 0 {
				mean[j], lo[j], hi[j] = math.NaN(), math.NaN(), math.NaN()
				continue
			}
			mean[j] = sum / float64(n)
		}
		lines = append(lines,
			staticchart.Line{Label: fmt.Sprintf("%s mean (%d)", g, len(members[g])), Y: mean, Color: c},
			staticchart.Line{Label: g + " min", Y: lo, Color: c, Dashed: true},
			staticchart.Line{Label: g + " max", Y: hi, Color: c, Dashed: true})
	}
	return lines
}

// calChartSeries picks a calibration chart's lines, as app.js draws them.
func calChartSeries(st jobs.CalState, name string) (title, xlabel, unit string, x []float64, labels []string, ys [][]float64, ok bool) {
	col := func(get func(jobs.CalExp) float64) []float64 {
		var out []float64
		for _, e := range st.Exps {
			out = append(out, get(e))
		}
		return out
	}
	for i := range st.Exps {
		x = append(x, float64(i+1))
	}
	switch name {
	case "tpot":
		return "TPOT p50: measured and twin", "experiment", "s", x, []string{"measured", "twin"},
			[][]float64{col(func(e jobs.CalExp) float64 { return e.TPOT }), col(func(e jobs.CalExp) float64 { return e.TPOTSim })}, true
	case "e2e":
		return "E2E p50: measured and twin", "experiment", "s", x, []string{"measured", "twin"},
			[][]float64{col(func(e jobs.CalExp) float64 { return e.E2E }), col(func(e jobs.CalExp) float64 { return e.E2ESim })}, true
	case "err":
		return "running median |error|", "experiment", "%", x, []string{"TPOT", "E2E"}, [][]float64{st.MedianErr.TPOT, st.MedianErr.E2E}, true
	case "telemetry":
		return "device telemetry", "seconds", "", st.Telemetry.T, []string{"utilization %", "power W"}, [][]float64{st.Telemetry.Util, st.Telemetry.PowerW}, true
	}
	return "", "", "", nil, nil, nil, false
}

// imageTypes are the chart formats the dashboard serves.
var imageTypes = map[string]string{"svg": "image/svg+xml", "png": "image/png"}

// serveImage draws a chart in format ("svg" or "png") and sends it, or
// sends failStatus with the drawing's error: nothing half-drawn goes out.
func serveImage(w http.ResponseWriter, format string, failStatus int, draw func(io.Writer) error) {
	var b bytes.Buffer
	if err := draw(&b); err != nil {
		http.Error(w, err.Error(), failStatus)
		return
	}
	w.Header().Set("Content-Type", imageTypes[format])
	w.Write(b.Bytes())
}

// writeLines draws one line per label against x, NaN points left out.
func writeLines(w io.Writer, title, xlabel, unit string, x []float64, labels []string, ys [][]float64, format string) error {
	return staticchart.Lines(w, title, xlabel, unit, x, labels, ys, format)
}

// writeProfileScatter draws a profile's fitted rows, predicted against
// measured, with the y = x line.
func writeProfileScatter(w io.Writer, prof perf.Profile, format string) error {
	p := plot.New()
	p.Title.Text = prof.Hardware + " · " + prof.Engine + ": predicted against measured"
	p.X.Label.Text, p.Y.Label.Text = "measured", "predicted"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	byUnit := map[string]plotter.XYs{}
	var units []string
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range prof.Rows {
		if r.Measured <= 0 || r.Predicted <= 0 {
			continue
		}
		if _, seen := byUnit[r.Unit]; !seen {
			units = append(units, r.Unit)
		}
		byUnit[r.Unit] = append(byUnit[r.Unit], plotter.XY{X: r.Measured, Y: r.Predicted})
		lo, hi = min(lo, r.Measured, r.Predicted), max(hi, r.Measured, r.Predicted)
	}
	if len(units) == 0 {
		return fmt.Errorf("profile %s/%s has no fitted rows", prof.Hardware, prof.Engine)
	}
	for i, u := range units {
		s, err := plotter.NewScatter(byUnit[u])
		if err != nil {
			return err
		}
		s.GlyphStyle.Color = palette[i%len(palette)]
		s.GlyphStyle.Radius = vg.Points(2.5)
		p.Add(s)
		p.Legend.Add(u, s)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: lo / 1.2, Y: lo / 1.2}, {X: hi * 1.2, Y: hi * 1.2}})
	if err != nil {
		return err
	}
	line.Color = color.Gray{Y: 128}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	return staticchart.Write(w, p, 5*vg.Inch, 4*vg.Inch, format)
}
