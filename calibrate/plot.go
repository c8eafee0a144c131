package calibrate

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Scatter draws predicted against measured latency (log-log, one colour
// per metric, filled for held-out experiments) with the y = x line, as SVG
// or PNG by format.
func Scatter(w io.Writer, cs []Comparison, title, format string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "measured (s)"
	p.Y.Label.Text = "simulated (s)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	colors := map[string]color.RGBA{
		"ttft": {R: 0x1f, G: 0x77, B: 0xb4, A: 255},
		"tpot": {R: 0xd6, G: 0x27, B: 0x28, A: 255},
		"e2e":  {R: 0x2c, G: 0xa0, B: 0x2c, A: 255},
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, kind := range []string{"ttft", "tpot", "e2e"} {
		for _, held := range []bool{false, true} {
			var pts plotter.XYs
			for _, c := range cs {
				if strings.HasPrefix(c.Metric, kind) && strings.HasSuffix(c.Metric, "_p50") && c.HeldOut == held && c.Measured > 0 && c.Predicted > 0 {
					pts = append(pts, plotter.XY{X: c.Measured, Y: c.Predicted})
					lo, hi = min(lo, c.Measured, c.Predicted), max(hi, c.Measured, c.Predicted)
				}
			}
			if len(pts) == 0 {
				continue
			}
			s, err := plotter.NewScatter(pts)
			if err != nil {
				return err
			}
			s.GlyphStyle.Color = colors[kind]
			s.GlyphStyle.Radius = vg.Points(3)
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			label := strings.ToUpper(kind) + " p50, fitted on"
			if held {
				s.GlyphStyle.Shape = draw.RingGlyph{}
				label = strings.ToUpper(kind) + " p50, held out"
			}
			p.Add(s)
			p.Legend.Add(label, s)
		}
	}
	if math.IsInf(lo, 0) {
		return fmt.Errorf("nothing to plot")
	}
	line, err := plotter.NewLine(plotter.XYs{{X: lo / 1.2, Y: lo / 1.2}, {X: hi * 1.2, Y: hi * 1.2}})
	if err != nil {
		return err
	}
	line.Color = color.Gray{Y: 128}
	line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(line)
	p.Legend.Top, p.Legend.Left = true, true
	wt, err := p.WriterTo(6*vg.Inch, 5*vg.Inch, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
