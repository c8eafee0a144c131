package web

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/jobs"
)

// A large fleet's exported device chart draws each node group's mean,
// lowest and highest device, as the page does, not a line (and a legend
// entry) per device; a small fleet's keeps a line per device.
func TestExportedDeviceChartByGroup(t *testing.T) {
	fleet := func(perGroup int) jobs.State {
		st := jobs.State{Meta: jobs.Meta{Name: "f"}, T: []float64{10, 20, 30}}
		for _, g := range []string{"east", "west"} {
			for i := range perGroup {
				u := []float64{0.1 * float64(i), math.NaN(), 0.05 * float64(i+1)}
				if g == "west" {
					u = []float64{0.9, 0.8, 0.7 - 0.01*float64(i)}
				}
				st.Devices = append(st.Devices, jobs.DeviceSeries{Node: fmt.Sprintf("%s-node-%d", g, i), Group: g, Utilization: u})
			}
		}
		return st
	}
	for _, tc := range []struct {
		perGroup   int
		want, dont []string
	}{
		{6, []string{"east mean (6)", "east min", "west max"}, []string{"east-node-3", "west-node-0"}},
		{2, []string{"east-node-1", "west-node-0"}, []string{"mean ("}},
	} {
		var b bytes.Buffer
		if err := writeChart(&b, fleet(tc.perGroup), "util", "svg"); err != nil {
			t.Fatal(err)
		}
		svg := b.String()
		for _, w := range tc.want {
			if !strings.Contains(svg, w) {
				t.Errorf("%d per group: the chart lacks %q", tc.perGroup, w)
			}
		}
		for _, d := range tc.dont {
			if strings.Contains(svg, d) {
				t.Errorf("%d per group: the chart has %q", tc.perGroup, d)
			}
		}
	}
	st := fleet(6)
	_, _, _, ys, _ := chartSeries(st, "util")
	lines := deviceGroupLines(st, ys)
	if len(lines) != 6 {
		t.Fatalf("%d lines for 2 groups", len(lines))
	}
	// east at t = 10: 0, 0.1, ..., 0.5; at t = 20 no device has a value.
	mean, lo, hi := lines[0].Y, lines[1].Y, lines[2].Y
	if math.Abs(mean[0]-0.25) > 1e-12 || lo[0] != 0 || math.Abs(hi[0]-0.5) > 1e-12 {
		t.Errorf("east at t=10: mean %v, min %v, max %v; want 0.25, 0, 0.5", mean[0], lo[0], hi[0])
	}
	if !math.IsNaN(mean[1]) || !math.IsNaN(hi[1]) {
		t.Errorf("east at t=20 has no value, got mean %v, max %v", mean[1], hi[1])
	}
	if lines[3].Color != lines[5].Color || lines[0].Color == lines[3].Color || !lines[4].Dashed || lines[3].Dashed {
		t.Errorf("colours and dashes: %+v", lines)
	}
}
