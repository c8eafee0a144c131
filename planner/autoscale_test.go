package planner

import (
	"os"
	"strings"
	"testing"
)

// dayPlan is plans/day-autoscale.toml at a fifth of its traffic on H100s
// alone, so that its two simulated days stay short.
func dayPlan(t *testing.T, edits ...string) (*Plan, error) {
	t.Helper()
	data, err := os.ReadFile("../plans/day-autoscale.toml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	edits = append([]string{"rate = 30.0", "rate = 6.0", `hardware = ["h100-sxm", "h200"]`, `hardware = ["h100-sxm"]`, `quants = ["bf16", "fp8"]`, `quants = ["bf16"]`}, edits...)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(src, edits[i]) {
			t.Fatalf("%q not in the plan", edits[i])
		}
		src = strings.Replace(src, edits[i], edits[i+1], 1)
	}
	cat, profs := env(t)
	return Parse("day.toml", []byte(src), cat, profs, nil)
}

// The winner is sized for the peak; its day autoscaled holds fewer
// node-hours than the day fixed at the peak, costs less when renting, and
// holds more nodes in the afternoon than at night.
func TestAutoscaledDay(t *testing.T) {
	if testing.Short() {
		t.Skip("two simulated days")
	}
	p, err := dayPlan(t)
	if err != nil {
		t.Fatal(err)
	}
	_, r := searchAndFinish(t, p)
	if r.Winner == nil || r.Verify == nil || r.Verify.Day == nil || r.Verify.ScaledDay == nil {
		t.Fatalf("no winner, day or autoscaled day: %+v", r.Verify)
	}
	fixed, scaled := r.Verify.Day, r.Verify.ScaledDay
	n := r.Winner.Metrics.Nodes
	if n < 2 {
		t.Fatalf("the winner has %d node: nothing to scale", n)
	}
	g := scaled.Groups[0]
	if g.Max != n || g.Min < 1 || g.Min >= n {
		t.Errorf("group scales %d-%d; want from what the night needs up to the winner's %d", g.Min, g.Max, n)
	}
	hours := (fixed.DurationS - p.File.WarmupS) / 3600
	if !(scaled.NodeHours < 0.9*float64(n)*hours) {
		t.Errorf("%.1f node-hours autoscaled against %.1f fixed", scaled.NodeHours, float64(n)*hours)
	}
	if !(scaled.Metrics.USDPerHour < fixed.Metrics.USDPerHour) {
		t.Errorf("autoscaled $%.3f/h, fixed $%.3f/h: renting only held hours should cost less", scaled.Metrics.USDPerHour, fixed.Metrics.USDPerHour)
	}
	per := len(scaled.NodesHeld) / 24
	mean := func(h int) float64 {
		s := 0.0
		for _, v := range scaled.NodesHeld[h*per : (h+1)*per] {
			s += v
		}
		return s / float64(per)
	}
	if per == 0 || !(mean(13) > mean(3)) {
		t.Errorf("nodes held at 13:00 %.2f, at 03:00 %.2f (%d bins)", mean(13), mean(3), len(scaled.NodesHeld))
	}
}

func TestAutoscaleParseErrors(t *testing.T) {
	for _, tt := range []struct {
		edits []string
		want  string
	}{
		{[]string{"target = 16", "target = 16\nmax = 9"}, "autoscale.max: is the winner's node count"},
		{[]string{"target = 16", "target = 0"}, "autoscale.target: must be positive"},
		{[]string{`policy = "concurrency"`, `policy = "kv"`, "target = 16", "target = 2"}, `autoscale.target: must be positive (at most 1 for policy "kv"), got 2`},
		{[]string{`policy = "concurrency"`, `policy = "rps"`}, `autoscale.policy: unknown policy "rps"`},
		{[]string{"target = 16", "target = 16\nboot_s = -1"}, "autoscale.boot_s: must be 0 (the default) or positive"},
		{[]string{"target = 16", "target = 16\nspeed = 1"}, "autoscale.speed: unknown field"},
	} {
		_, err := dayPlan(t, tt.edits...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.edits, err, tt.want)
		}
	}
}
