package sharefit

import (
	"fmt"
	"math"
	"strings"

	"github.com/fleettwin/fleettwin/measure"
)

// Describe is the source line of a profile's fitted [sharing] table: the
// case and file it was fitted on, what the fit assumed, and its errors.
func Describe(r Result, data string) string {
	return fmt.Sprintf("fitted on the co-location case %s of %s (%d ratios, %s; %d dedicated figures, colocation-dedicated.toml) by `fleettwin profile fit-sharing`: "+
		"its load taken as %d closed-loop clients per instance, %d prompt and %d output tokens (not published), and its servers' decode at %.2f of the profile's bandwidth efficiencies with a %.3g s front end, "+
		"fitted with the coefficients on all its figures; ratios reproduced within %.1f%% (%s); mps_compute_contention is %s",
		r.Case.ID, data, len(r.Case.Ratios), strings.Join(r.Case.Sources, " "), 3,
		r.Load.Concurrency, r.Load.Input, r.Load.Output, r.Servers.BandwidthFactor, r.Servers.RequestS,
		r.maxAPE(), r.errors(), identified(r.ComputeStdErr))
}

func identified(se float64) string {
	if math.IsInf(se, 1) || se > 1 {
		return "not identified by the case (its standard error spans [0, 1])"
	}
	return fmt.Sprintf("identified to ± %.2g", se)
}

// maxAPE is the largest absolute percentage error over the published ratios.
func (r Result) maxAPE() float64 {
	var m float64
	for _, k := range measure.RatioMetrics {
		if _, ok := r.Case.Ratios[k]; ok {
			m = max(m, r.APE(k))
		}
	}
	return m
}

// errors lists each ratio as published → predicted.
func (r Result) errors() string {
	var parts []string
	for _, k := range measure.RatioMetrics {
		if v, ok := r.Case.Ratios[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.4g → %.4g", strings.TrimSuffix(string(k), "_colocated"), v, r.Predicted[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// Summary is the fit in a few lines for the terminal.
func Summary(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "case %s (%s on %s, %s, %d instances", r.Case.ID, r.Case.Engine, r.Case.Hardware, r.Case.Sharing, r.Case.Instances)
	if r.Case.SMPercent > 0 {
		fmt.Fprintf(&b, ", %g%% SMs each", r.Case.SMPercent)
	}
	fmt.Fprintf(&b, ")\n")
	fmt.Fprintf(&b, "  load (fitted): %d clients per instance, %d → %d tokens; servers: bandwidth × %.3f, front end %.3g s; dedicated error %.2g (squared log)\n",
		r.Load.Concurrency, r.Load.Input, r.Load.Output, r.Servers.BandwidthFactor, r.Servers.RequestS, r.DedicatedLoss)
	fmt.Fprintf(&b, "  mps_memory_contention %.2f ± %.2g · mps_compute_contention %.2f ± %.2g\n", r.Memory, r.MemoryStdErr, r.Compute, r.ComputeStdErr)
	for _, k := range measure.RatioMetrics {
		if v, ok := r.Case.Ratios[k]; ok {
			fmt.Fprintf(&b, "  %-28s published %.4f  twin %.4f  error %.1f%%\n", k, v, r.Predicted[k], r.APE(k))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
