// Package chart draws fleettwin's static charts with gonum/plot, so that a
// chart exported from the dashboard, written by the command line and
// embedded in a report look the same. Each call builds a fresh plot: gonum
// plots are not safe to share.
package chart

import (
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Palette is shared with the dashboard's live charts (web/static/app.js).
var Palette = []color.RGBA{
	{R: 0x25, G: 0x63, B: 0xeb, A: 255}, {R: 0xdc, G: 0x26, B: 0x26, A: 255}, {R: 0x16, G: 0xa3, B: 0x4a, A: 255},
	{R: 0xd9, G: 0x77, B: 0x06, A: 255}, {R: 0x93, G: 0x33, B: 0xea, A: 255}, {R: 0x08, G: 0x91, B: 0xb2, A: 255},
}

// Formats are the image formats the charts can be written in.
var Formats = []string{"svg", "png"}

// Lines draws one line per label against x, NaN points left out, as SVG or
// PNG (format).
func Lines(w io.Writer, title, xlabel, ylabel string, x []float64, labels []string, ys [][]float64, format string) error {
	lines := make([]Line, len(ys))
	for i, y := range ys {
		lines[i] = Line{Label: labels[i], Y: y, Color: i}
	}
	return Styled(w, title, xlabel, ylabel, x, lines, format)
}

// Line is one line of Styled: its points against the chart's x, its
// colour (an index into Palette) and whether it is thin and dashed, as
// a node group's lowest and highest device are beside its mean.
type Line struct {
	Label  string
	Y      []float64
	Color  int
	Dashed bool
}

// Styled is Lines with each line's colour and dash given.
func Styled(w io.Writer, title, xlabel, ylabel string, x []float64, lines []Line, format string) error {
	p, err := linesPlot(title, xlabel, ylabel, x, lines)
	if err != nil {
		return err
	}
	return write(w, p, format)
}

func linesPlot(title, xlabel, ylabel string, x []float64, lines []Line) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ln := range lines {
		var pts plotter.XYs
		for j, t := range x {
			if j < len(ln.Y) && !math.IsNaN(ln.Y[j]) {
				pts = append(pts, plotter.XY{X: t, Y: ln.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color = Palette[ln.Color%len(Palette)]
		l.Width = vg.Points(1.5)
		if ln.Dashed {
			l.Width, l.Dashes = vg.Points(0.8), []vg.Length{vg.Points(3), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(ln.Label, l)
	}
	return p, nil
}

// PointSet is a named group of points of a scatter chart.
type PointSet struct {
	Label string
	X, Y  []float64
	// Line joins the points in order (a front) instead of scattering them.
	Line bool
	// Size is the glyph radius in points; 0 is the default, 2.5.
	Size float64
}

// Points draws point sets on one chart: scatters, and lines for the sets
// that ask for one.
func Points(w io.Writer, title, xlabel, ylabel string, sets []PointSet, format string) error {
	p, err := pointsPlot(title, xlabel, ylabel, sets)
	if err != nil {
		return err
	}
	return write(w, p, format)
}

func pointsPlot(title, xlabel, ylabel string, sets []PointSet) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for i, s := range sets {
		var pts plotter.XYs
		for j := range s.X {
			if j < len(s.Y) && !math.IsNaN(s.X[j]) && !math.IsNaN(s.Y[j]) && !math.IsInf(s.Y[j], 0) {
				pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		c := Palette[i%len(Palette)]
		if s.Line {
			l, sc, err := plotter.NewLinePoints(pts)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = c, vg.Points(1.5)
			sc.Color, sc.Shape, sc.Radius = c, draw.CircleGlyph{}, vg.Points(3.5)
			p.Add(l, sc)
			p.Legend.Add(s.Label, l, sc)
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		size := 2.5
		if s.Size > 0 {
			size = s.Size
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Radius = c, vg.Points(size)
		if s.Size > 0 {
			sc.GlyphStyle.Shape = draw.RingGlyph{}
		}
		p.Add(sc)
		p.Legend.Add(s.Label, sc)
	}
	return p, nil
}

func write(w io.Writer, p *plot.Plot, format string) error {
	return Write(w, p, 7*vg.Inch, 3.5*vg.Inch, format)
}

// Write draws p on a width × height image with its legend in a column
// right of the plot, outside the data area: gonum draws a legend inside
// it, where it sits on the lines (issue 17's "legends on the data").
func Write(w io.Writer, p *plot.Plot, width, height vg.Length, format string) error {
	c, err := draw.NewFormattedCanvas(width, height, format)
	if err != nil {
		return err
	}
	dc := draw.New(c)
	plotArea, legendArea := Layout(p, dc)
	leg := p.Legend
	p.Legend = plot.NewLegend()
	p.Draw(plotArea)
	p.Legend = leg
	leg.Draw(legendArea)
	_, err = c.WriteTo(w)
	return err
}

// legendGap is the space between the plot and its legend column.
const legendGap = 6 * vg.Millimeter

// Layout splits c into the plot's canvas and its legend's column on the
// right (as wide as the legend's widest entry, at most a third of c;
// empty without entries), the legend at its top.
func Layout(p *plot.Plot, c draw.Canvas) (plotArea, legendArea draw.Canvas) {
	lw := p.Legend.Rectangle(c).Size().X
	if lw <= 0 {
		return c, draw.Crop(c, c.Size().X, 0, 0, 0)
	}
	const margin = 2 * vg.Millimeter // off the image's right edge
	lw = min(lw+legendGap+margin, c.Size().X/3)
	plotArea = draw.Crop(c, 0, -lw, 0, 0)
	legendArea = draw.Crop(c, c.Size().X-lw+legendGap, -margin, 0, -vg.Millimeter)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = 0, 0
	return plotArea, legendArea
}
