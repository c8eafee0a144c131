package chart

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	x := []float64{0, 1, 2, 3}
	ys := [][]float64{{1, math.NaN(), 3, 4}, {2, 2, 2, 2}}
	sets := []PointSet{{Label: "all", X: x, Y: ys[0]}, {Label: "front", X: x[:2], Y: ys[1][:2], Line: true}, {Label: "winner", X: x[:1], Y: ys[1][:1], Size: 7}}
	for _, format := range Formats {
		var a, b bytes.Buffer
		if err := Lines(&a, "title", "x", "y", x, []string{"first line", "second line"}, ys, format); err != nil {
			t.Fatalf("Lines %s: %v", format, err)
		}
		if err := Points(&b, "title", "x", "y", sets, format); err != nil {
			t.Fatalf("Points %s: %v", format, err)
		}
		for name, buf := range map[string]*bytes.Buffer{"Lines": &a, "Points": &b} {
			switch format {
			case "svg":
				if s := buf.String(); !strings.Contains(s, "<svg") || !strings.Contains(s, "title") {
					t.Errorf("%s svg: no svg element or title", name)
				}
			case "png":
				img, err := png.Decode(bytes.NewReader(buf.Bytes()))
				if err != nil || img.Bounds().Dx() < 100 {
					t.Errorf("%s png: %v", name, err)
				}
			}
		}
		if format == "svg" && !strings.Contains(a.String(), "second line") {
			t.Error("the legend lacks a line's label")
		}
	}
	if err := Lines(&bytes.Buffer{}, "t", "x", "y", x, []string{"a"}, ys[:1], "gif"); err == nil {
		t.Error("an unknown format drew")
	}
}
