package report

import (
	"errors"
	"fmt"

	"github.com/fleettwin/fleettwin/planner"
)

// checkPlan refuses a plan result whose shape the renderers rely on is
// broken: a hand-edited or truncated file is an error naming the field,
// never a panic half-way through a page.
func checkPlan(r *planner.Result) error {
	for i, o := range r.Ranked {
		if o.Metrics == nil {
			return fmt.Errorf("ranked[%d] (configuration %d) has no metrics", i, o.Index)
		}
	}
	if r.Winner != nil && r.Winner.Metrics == nil {
		return errors.New("winner has no metrics")
	}
	if v := r.Verify; v != nil {
		if r.Winner == nil {
			return errors.New("verify without a winner")
		}
		for i, run := range v.Runs {
			if run.Metrics == nil {
				return fmt.Errorf("verify.runs[%d] has no metrics", i)
			}
		}
		if d := v.Day; d != nil {
			n := len(d.Util)
			for name, s := range map[string][]float64{"power_w": d.PowerW, "temp_c": d.TempC, "throttled": d.Throttled} {
				if len(s) != n && len(s) != 0 {
					return fmt.Errorf("verify.day.%s has %d points, utilization %d", name, len(s), n)
				}
			}
			if n > 0 && (len(d.PowerW) != n || len(d.TempC) != n) {
				return errors.New("verify.day: power_w and temp_c must have a point per utilization point")
			}
		}
	}
	return nil
}
