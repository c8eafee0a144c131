package web

import (
	"fmt"
	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/twin"
	"math"
	"slices"
	"time"

	"github.com/fleettwin/fleettwin/perf"
)

func secs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v < 1:
		return fmt.Sprintf("%.1f ms", 1e3*v)
	}
	return fmt.Sprintf("%.2f s", v)
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

func billions(n int64) string { return fmt.Sprintf("%.2fB", float64(n)/1e9) }

func cloud(v float64) string {
	if v <= 0 {
		return "not for rent"
	}
	return fmt.Sprintf("$%.2f/h", v)
}

func modelCost(o *twin.Simulation, i int) string {
	if o.Cost == nil || i >= len(o.Cost.Models) || math.IsNaN(o.Cost.Models[i].USDPerMTokens) {
		return "-"
	}
	return fmt.Sprintf("$%.3g", o.Cost.Models[i].USDPerMTokens)
}

// progressText is done/total, rate and time left, as on the terminal.
func progressText(st jobs.State) string {
	if st.Done {
		return fmt.Sprintf("%s: %.0f of %.0f simulated seconds, %d events, in %s", st.Status, st.NowS, st.DurationS, st.Events,
			(time.Duration(st.ElapsedS*1e3) * time.Millisecond).Round(time.Millisecond))
	}
	left := "?"
	if !math.IsNaN(st.LeftS) && st.Progress > 0 {
		left = (time.Duration(st.LeftS) * time.Second).Round(time.Second).String()
	}
	rate := 0.0
	if st.ElapsedS > 0 {
		rate = st.NowS / st.ElapsedS
	}
	return fmt.Sprintf("%.0f/%.0f sim-s (%.0f%%) · %.3g sim-s per second · %s left", st.NowS, st.DurationS, 100*st.Progress, rate, left)
}

func medianAbsErr(rows []perf.FitRow) float64 {
	var e []float64
	for _, r := range rows {
		e = append(e, math.Abs(r.ErrorPct))
	}
	slices.Sort(e)
	if len(e) == 0 {
		return math.NaN()
	}
	if len(e)%2 == 1 {
		return e[len(e)/2]
	}
	return (e[len(e)/2-1] + e[len(e)/2]) / 2
}

func signedPct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", v)
}

// errClass colours a twin's error: within 15% is good, beyond 30% bad.
func errClass(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return ""
	case a <= 15:
		return "good"
	case a > 30:
		return "bad"
	}
	return ""
}

// runProfiles is the provenance a run page shows: what the run recorded
// when it started, or, for runs from before it did, its result's.
func runProfiles(st jobs.State, o *twin.Simulation) []perf.ProvenanceInfo {
	if len(st.Profiles) > 0 || o == nil {
		return st.Profiles
	}
	return o.Profiles
}
