package sim

import (
	"context"

	"github.com/fleettwin/fleettwin/scenario"
)

// Delta is one figure with throttling and without.
type Delta struct {
	Throttled float64 `json:"throttled"`
	FullClock float64 `json:"full_clock"`
	Pct       float64 `json:"pct"` // (throttled − full clock) / full clock × 100
}

func delta(throttled, full float64) Delta {
	return Delta{Throttled: throttled, FullClock: full, Pct: 100 * (throttled - full) / full}
}

// ThrottleCost is what throttling cost one served model.
type ThrottleCost struct {
	Model            string `json:"model"`
	TTFTP95          Delta  `json:"ttft_p95_s"`
	TPOTP50          Delta  `json:"tpot_p50_s"`
	TPOTP95          Delta  `json:"tpot_p95_s"`
	E2EP95           Delta  `json:"e2e_p95_s"`
	OutputTokensPerS Delta  `json:"output_tokens_per_s"`
	SLOAttainment    Delta  `json:"slo_attainment"`
}

// Throttled reports whether any device ran below full clock.
func (r *Result) Throttled() bool {
	for _, d := range r.Devices {
		if d.ThrottledS > 0 {
			return true
		}
	}
	return false
}

// PriceThrottling reruns the scenario with every device at full clock
// and sets the throttled result against it, model by model. The same
// seed gives the same arrivals, so the difference is the clocks'.
func PriceThrottling(ctx context.Context, sc *scenario.Scenario, throttled *Result) ([]ThrottleCost, error) {
	full, err := Run(ctx, sc, Options{Unthrottled: true})
	if err != nil {
		return nil, err
	}
	var out []ThrottleCost
	for i, t := range throttled.Models {
		f := full.Models[i]
		out = append(out, ThrottleCost{Model: t.Model,
			TTFTP95: delta(t.TTFT.P95, f.TTFT.P95), TPOTP50: delta(t.TPOT.P50, f.TPOT.P50),
			TPOTP95: delta(t.TPOT.P95, f.TPOT.P95), E2EP95: delta(t.E2E.P95, f.E2E.P95),
			OutputTokensPerS: delta(t.OutputTokensPerS, f.OutputTokensPerS), SLOAttainment: delta(t.SLOAttainment, f.SLOAttainment)})
	}
	return out, nil
}
