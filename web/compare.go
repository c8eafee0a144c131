package web

import (
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/twin"
	"github.com/fleettwin/fleettwin/verdict"
)

// comparison is two finished runs side by side.
type comparison struct {
	A, B    jobs.Meta
	Ready   bool
	Note    string
	Rows    []compareRow
	Verdict verdictView // B judged against A as its baseline
}

// compareRow is one figure of both runs; Class says whether B is better
// ("good"), worse ("bad") or about the same ("").
type compareRow struct {
	Label, A, B, Change, Class string
}

// sameWithin is the relative change below which a difference is not
// highlighted.
const sameWithin = 0.01

// row compares x (run A) with y (run B); lowerBetter says which way is
// good.
func row(label string, x, y float64, format string, lowerBetter bool) compareRow {
	r := compareRow{Label: label, A: fmtv(format, x), B: fmtv(format, y), Change: "-"}
	if math.IsNaN(x) || math.IsNaN(y) || x == 0 {
		return r
	}
	d := (y - x) / math.Abs(x)
	r.Change = fmt.Sprintf("%+.1f%%", 100*d)
	if math.Abs(d) >= sameWithin {
		if (d < 0) == lowerBetter {
			r.Class = "good"
		} else {
			r.Class = "bad"
		}
	}
	return r
}

// fmtv formats v; "%,.0f" puts thousands separators in.
func fmtv(format string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	if f, ok := strings.CutPrefix(format, "%,"); ok {
		return verdict.Thousands(fmt.Sprintf("%"+f, v))
	}
	return fmt.Sprintf(format, v)
}

// sloRow says whether each run's model met its SLO; meeting it where A
// did not is good.
func sloRow(model string, a, b bool) compareRow {
	r := compareRow{Label: model + " SLO met", A: yesNo(a), B: yesNo(b), Change: "-"}
	if a != b {
		r.Change = "met → missed"
		r.Class = "bad"
		if b {
			r.Change, r.Class = "missed → met", "good"
		}
	}
	return r
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// compareOutcomes lists latency per model, then devices, power, heat and
// cost of two runs.
func compareOutcomes(a, b *twin.Simulation) []compareRow {
	var rows []compareRow
	for _, ma := range a.Models {
		for _, mb := range b.Models {
			if ma.Model != mb.Model {
				continue
			}
			rows = append(rows,
				row(ma.Model+" TTFT p95 (s)", ma.TTFT.P95, mb.TTFT.P95, "%.3f", true),
				row(ma.Model+" TPOT p95 (ms)", 1e3*ma.TPOT.P95, 1e3*mb.TPOT.P95, "%.1f", true),
				row(ma.Model+" E2E p95 (s)", ma.E2E.P95, mb.E2E.P95, "%.2f", true),
				row(ma.Model+" SLO attainment (%)", 100*ma.SLOAttainment, 100*mb.SLOAttainment, "%.1f", false),
				sloRow(ma.Model, ma.SLOMet, mb.SLOMet),
				row(ma.Model+" output tokens/s", ma.OutputTokensPerS, mb.OutputTokensPerS, "%.2f", false),
			)
		}
	}
	agg := func(o *twin.Simulation) (n, util, power, peakTemp, throttled float64) {
		for _, d := range o.Devices {
			n++
			util += d.WindowUtilization // after warm-up, as tco and the verdict count it
			power += d.NodePowerMeanW
			peakTemp = max(peakTemp, d.TempPeakC)
			throttled += d.ThrottledS
		}
		return n, util / max(n, 1), power, peakTemp, throttled
	}
	na, ua, pa, ta, tha := agg(a)
	nb, ub, pb, tb, thb := agg(b)
	rows = append(rows,
		row("devices", na, nb, "%.0f", true),
		row("mean utilization after warm-up (%)", 100*ua, 100*ub, "%.1f", false),
		row("fleet power with the hosts' share (W)", pa, pb, "%.1f", true),
		row("peak temperature (C)", ta, tb, "%.1f", true),
		row("time throttled (device-s)", tha, thb, "%.0f", true),
	)
	if a.Cost != nil && b.Cost != nil {
		rows = append(rows,
			row("hardware spend ($)", a.Cost.HardwareSpendUSD, b.Cost.HardwareSpendUSD, "%,.0f", true),
			row("cost ($/h)", a.Cost.USDPerHour, b.Cost.USDPerHour, "%.4f", true),
			row("$ per million tokens", a.Cost.USDPerMTokens, b.Cost.USDPerMTokens, "%.4f", true),
			row("$ per request", a.Cost.USDPerRequest, b.Cost.USDPerRequest, "%.6f", true),
		)
	}
	return rows
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := comparison{Note: "Pick two finished runs."}
	ra, okA := s.Runs.Get(q.Get("a"))
	rb, okB := s.Runs.Get(q.Get("b"))
	if okA {
		c.A = ra.State().Meta
	}
	if okB {
		c.B = rb.State().Meta
	}
	if okA && okB {
		oa, ob := ra.Outcome(), rb.Outcome()
		if oa == nil || ob == nil || oa.Result == nil || ob.Result == nil {
			c.Note = "Both runs must have finished."
		} else {
			c.Ready, c.Rows = true, compareOutcomes(oa, ob)
			c.Verdict = judge(verdictView{RunID: c.B.ID, RunName: c.B.Name, BaseID: c.A.ID, BaseName: c.A.Name}, rb, ra)
			c.A.Profiles, c.B.Profiles = runProfiles(ra.State(), oa), runProfiles(rb.State(), ob)
		}
	}
	render(w, r, http.StatusOK, comparePage(c, s.Runs.List()))
}
