package chart

import (
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The legend sits in a column of its own, right of the data area: its box
// contains no plotted point (issue 17: legends on the data). gonum's own
// place for it, the data area's top right corner, holds one here: the
// lines run through the top of their range.
func TestLegendOffTheData(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	top := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10} // ends at the top right
	flat := []float64{10, 10, 10, 10, 10, 10, 10, 10, 10, 10}
	lines, err := linesPlot("t", "x", "y", x, []Line{{Label: "a rising line with a long label", Y: top}, {Label: "a flat line at the top", Y: flat, Color: 1, Dashed: true}})
	if err != nil {
		t.Fatal(err)
	}
	points, err := pointsPlot("t", "x", "y", []PointSet{{Label: "all candidates", X: x, Y: top}, {Label: "front", X: x, Y: flat, Line: true}})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		p      *plot.Plot
		xs, ys [][]float64
	}{
		"Lines":  {lines, [][]float64{x, x}, [][]float64{top, flat}},
		"Points": {points, [][]float64{x, x}, [][]float64{top, flat}},
	} {
		t.Run(name, func(t *testing.T) {
			c := draw.New(vgimg.New(7*vg.Inch, 3.5*vg.Inch))
			tc.p.Legend.Top, tc.p.Legend.Left = true, false // as the charts had it: gonum's top right
			old := tc.p.DataCanvas(c)
			inside := tc.p.Legend.Rectangle(old)
			area, legArea := Layout(tc.p, c)
			box := tc.p.Legend.Rectangle(legArea)
			data := tc.p.DataCanvas(area)
			hits, hitsInside := 0, 0
			for i := range tc.xs {
				for j := range tc.xs[i] {
					if contains(box, at(data, tc.p, tc.xs[i][j], tc.ys[i][j])) {
						hits++
					}
				}
			}
			// The same points on a canvas where the legend is drawn in the
			// data area, as before: the check can fail.
			for i := range tc.xs {
				for j := range tc.xs[i] {
					if contains(inside, at(old, tc.p, tc.xs[i][j], tc.ys[i][j])) {
						hitsInside++
					}
				}
			}
			if hits > 0 {
				t.Errorf("the legend's box %v holds %d plotted points", box, hits)
			}
			if hitsInside == 0 {
				t.Errorf("the check cannot fail: a legend in the data area would hold no point either")
			}
			if box.Min.X < data.Max.X || box.Max.X > c.Max.X || box.Min.Y < c.Min.Y || box.Max.Y > c.Max.Y {
				t.Errorf("the legend's box %v is not between the data area (right edge %v) and the image's %v", box, data.Max.X, c.Rectangle)
			}
			if w := data.Max.X - data.Min.X; w < c.Size().X/2 {
				t.Errorf("the data area is %v wide of %v", w, c.Size().X)
			}
		})
	}
}

// at is where a data point is drawn on the data canvas.
func at(data draw.Canvas, p *plot.Plot, x, y float64) vg.Point {
	return vg.Point{X: data.X(p.X.Norm(x)), Y: data.Y(p.Y.Norm(y))}
}

func contains(r vg.Rectangle, p vg.Point) bool {
	return p.X >= r.Min.X && p.X <= r.Max.X && p.Y >= r.Min.Y && p.Y <= r.Max.Y
}
