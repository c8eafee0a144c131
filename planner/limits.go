package planner

import (
	"maps"
	"slices"

	"github.com/fleettwin/fleettwin/scenario"
)

// MaxGrowth bounds a plan's growth factor: a thousandfold load is already a
// different question.
const MaxGrowth = 1000

// limits bounds the work a plan may ask for with the scenario's own limits,
// since every configuration it tries is a scenario: its window, and the
// requests its design load sends over one.
func (c *checker) limits(f *File) {
	if n := f.Search.MaxNodes * len(f.Models); n > scenario.MaxInstances {
		c.Add([]string{"search", "max_nodes"}, "max_nodes × served models may be at most %d (the instances one configuration may run), got %d", scenario.MaxInstances, n)
	}
	span := f.WarmupS + f.WindowS
	if span > scenario.MaxDurationS {
		c.Add([]string{"window_s"}, "warmup_s + window_s must be at most %d s (31 days), got %v", scenario.MaxDurationS, span)
		return
	}
	if f.Growth > MaxGrowth {
		c.Add([]string{"growth"}, "must be at most %d, got %v", MaxGrowth, f.Growth)
		return
	}
	if !(span > 0 && f.Growth > 0) {
		return // reported with window_s, warmup_s or growth
	}
	total := 0.0
	for _, n := range slices.Sorted(maps.Keys(f.Models)) {
		a := f.Models[n].Workload.Arrival
		peak := 1.0
		for _, m := range a.Diurnal {
			peak = max(peak, m)
		}
		total += a.Rate * peak * f.Growth * span
		if total > scenario.MaxArrivals {
			c.Add([]string{"growth"}, "the design load (rate × diurnal peak × growth) over warmup_s + window_s asks for about %.3g requests per configuration (all models so far); the limit is %.0e", total, float64(scenario.MaxArrivals))
			return
		}
	}
}
