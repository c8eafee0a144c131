package verdict

import (
	"fmt"
	"math"
	"strings"

	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/tco"
	"github.com/fleettwin/fleettwin/twin"
)

// latency answers, per model, whether it met its SLO, naming each metric
// that misses. It judges the way sim does (SLOMet): the percentile of
// TTFT, TPOT and E2E within each target, and attainment at its target.
func latency(run Run) []Answer {
	var out []Answer
	for _, m := range run.Sim.Models {
		out = append(out, modelLatency(m, findSLO(run.SLOs, m.Model)))
	}
	return out
}

func findSLO(slos []SLO, model string) *SLO {
	for i := range slos {
		if slos[i].Model == model {
			return &slos[i]
		}
	}
	return nil
}

// check is one target of an SLO set against its figure.
type check struct {
	metric        string
	value, target float64
	seconds       bool // else a share
}

func (c check) fails() bool {
	if c.seconds {
		return c.value > c.target // NaN meets, as in sim
	}
	return !(c.value >= c.target)
}

func (c check) String() string {
	op := "≤"
	if !c.seconds {
		op = "≥"
	}
	if c.fails() {
		op = map[bool]string{true: ">", false: "<"}[c.seconds]
	}
	if c.seconds {
		return fmt.Sprintf("%s %s %s %s", c.metric, Seconds(c.value), op, Limit(c.target))
	}
	return fmt.Sprintf("%s %s %s %s", c.metric, Percent(c.value), op, Percent(c.target))
}

// margin is how close a figure is to its target: 1 at the target, more
// past it.
func (c check) margin() float64 {
	if c.seconds {
		return c.value / c.target
	}
	return c.target / c.value
}

func modelLatency(m sim.ModelResult, slo *SLO) Answer {
	a := Answer{Question: Latency, Subject: m.Model, Value: math.NaN(), Target: math.NaN()}
	if slo == nil {
		// The result says whether the SLO was met, not against what.
		a.Status, a.Text = Pass, m.Model+" meets its SLO (the targets are not recorded with the result)"
		if !m.SLOMet {
			a.Status, a.Text = Fail, m.Model+" misses its SLO (the targets are not recorded with the result, so not which one)"
		}
		return a
	}
	if m.Completed == 0 {
		a.Status, a.Text = Fail, m.Model+" misses its SLO: no request completed"
		a.Short = a.Text
		return a
	}
	p, ok := percentile(slo.Percentile)
	var checks []check
	for _, t := range []struct {
		name   string
		lat    sim.Latency
		target float64
	}{{"TTFT", m.TTFT, slo.TTFTS}, {"TPOT", m.TPOT, slo.TPOTS}, {"E2E", m.E2E, slo.E2ES}} {
		if t.target > 0 && ok {
			checks = append(checks, check{metric: fmt.Sprintf("%s p%g", t.name, slo.Percentile), value: p(t.lat), target: t.target, seconds: true})
		}
	}
	checks = append(checks, check{metric: "attainment", value: m.SLOAttainment, target: slo.Attainment})
	var failed, met []string
	worst := -1
	for i, c := range checks {
		if c.fails() {
			failed = append(failed, c.String())
			if worst < 0 || !checks[worst].fails() {
				worst = i
			}
			continue
		}
		met = append(met, c.String())
		if worst < 0 || !checks[worst].fails() && c.margin() > checks[worst].margin() {
			worst = i
		}
	}
	a.Metric, a.Value, a.Target = checks[worst].metric, checks[worst].value, checks[worst].target
	switch {
	case len(failed) > 0:
		a.Status = Fail
		a.Text = m.Model + " misses " + strings.Join(failed, " and ")
		a.Short = a.Text
		if len(met) > 0 {
			a.Text += " (meets " + strings.Join(met, ", ") + ")"
		}
	case !m.SLOMet:
		// A percentile the result does not carry: sim's answer stands.
		a.Status = Fail
		a.Text = fmt.Sprintf("%s misses its SLO at p%g (meets %s)", m.Model, slo.Percentile, strings.Join(met, ", "))
		a.Short = fmt.Sprintf("%s misses its SLO at p%g", m.Model, slo.Percentile)
	default:
		a.Status = Pass
		a.Text = m.Model + " meets its SLO: " + strings.Join(met, ", ")
		a.Short = m.Model + " meets its SLO"
		if !ok {
			a.Text += fmt.Sprintf(" (p%g latencies within their targets, as the run says)", slo.Percentile)
		}
	}
	return a
}

// percentile picks the percentile p of a Latency; false for one the
// result does not carry.
func percentile(p float64) (func(sim.Latency) float64, bool) {
	switch p {
	case 50:
		return func(l sim.Latency) float64 { return l.P50 }, true
	case 90:
		return func(l sim.Latency) float64 { return l.P90 }, true
	case 95:
		return func(l sim.Latency) float64 { return l.P95 }, true
	case 99:
		return func(l sim.Latency) float64 { return l.P99 }, true
	}
	return nil, false
}

// deviceUtilization is a device's busy share after warm-up, the figure
// cost is computed on (tco's utilization); the whole run's for a result
// without a window.
//
// A node of an autoscaled group counts only the time it was held: off, it
// is neither busy nor paid for.
func deviceUtilization(d sim.DeviceResult) float64 {
	if d.WindowS > 0 {
		if d.WindowHeldS != nil && *d.WindowHeldS > 0 {
			return d.WindowUtilization * d.WindowS / *d.WindowHeldS
		}
		return d.WindowUtilization
	}
	return d.Utilization
}

// neverHeld reports a node of an autoscaled group that was off all the
// window: it has no utilization to judge.
func neverHeld(d sim.DeviceResult) bool { return d.WindowHeldS != nil && *d.WindowHeldS <= 0 }

// utilization answers whether every device is at least at the target.
func utilization(s *twin.Simulation, opt Options) Answer {
	target, source := opt.Utilization, opt.UtilizationSource
	if target <= 0 {
		target = DefaultUtilization
		if source == "" {
			source = DefaultUtilizationSource
		}
	}
	if source == "" {
		source = "given"
	}
	a := Answer{Question: Utilization, Metric: "utilization", Target: target, Value: math.NaN()}
	if len(s.Devices) == 0 {
		a.Status, a.Text = Unknown, "no devices"
		return a
	}
	devices := make([]sim.DeviceResult, 0, len(s.Devices))
	for _, d := range s.Devices {
		if !neverHeld(d) {
			devices = append(devices, d)
		}
	}
	if len(devices) == 0 {
		a.Status, a.Text = Unknown, "no device was held"
		return a
	}
	low, below, sum := 0, 0, 0.0
	for i, d := range devices {
		u := deviceUtilization(d)
		sum += u
		if u < target {
			below++
		}
		if u < deviceUtilization(devices[low]) {
			low = i
		}
	}
	mean := sum / float64(len(devices))
	lowU := deviceUtilization(devices[low])
	a.Value = lowU
	a.Status = Pass
	if below > 0 {
		a.Status = Fail
	}
	why := fmt.Sprintf("(after warm-up; target %s: %s)", Percent(target), source)
	op := map[Status]string{Pass: "≥", Fail: "<"}[a.Status]
	switch n := len(devices); {
	case n == 1:
		a.Text = fmt.Sprintf("utilization %s %s %s", Percent(lowU), op, Percent(target))
	case n <= 4:
		var parts []string
		for _, d := range devices {
			parts = append(parts, d.Node+" "+Percent(deviceUtilization(d)))
		}
		a.Text = fmt.Sprintf("utilization %s %s on %d of %d devices: %s (mean %s)", op, Percent(target), map[Status]int{Pass: n, Fail: below}[a.Status], n,
			strings.Join(parts, ", "), Percent(mean))
	default:
		if a.Status == Pass {
			a.Text = fmt.Sprintf("utilization ≥ %s on all %d devices: lowest %s (%s), mean %s", Percent(target), n, Percent(lowU), devices[low].Node, Percent(mean))
		} else {
			a.Text = fmt.Sprintf("utilization < %s on %d of %d devices: lowest %s (%s), mean %s", Percent(target), below, n, Percent(lowU), devices[low].Node, Percent(mean))
		}
	}
	a.Short = a.Text
	a.Text += " " + why
	return a
}

// throttling answers whether any device ran below full clock, and what
// that cost when the run priced it.
func throttling(s *twin.Simulation) Answer {
	a := Answer{Question: Throttling, Metric: "time throttled", Target: 0}
	worst, n, peak := -1, 0, math.Inf(-1)
	for i, d := range s.Devices {
		peak = max(peak, d.TempPeakC)
		if d.ThrottledS > 0 {
			n++
			if worst < 0 || d.ThrottledS > s.Devices[worst].ThrottledS {
				worst = i
			}
		}
	}
	if len(s.Devices) == 0 {
		a.Status, a.Text, a.Value = Unknown, "no devices", math.NaN()
		return a
	}
	if worst < 0 {
		a.Status = Pass
		a.Text = fmt.Sprintf("no throttling: every device at full clock all run (peak %.1f C)", peak)
		a.Short = "no throttling"
		return a
	}
	d := s.Devices[worst]
	share := d.ThrottledS / s.DurationS
	a.Status, a.Value = Fail, share
	var what []string
	if d.ThermalS > 0 {
		what = append(what, "heat")
	}
	if d.PowerCapS > 0 {
		what = append(what, "power cap")
	}
	held := ""
	if len(what) > 0 {
		held = ", held by " + strings.Join(what, " and ")
	}
	who := d.Node
	if n > 1 {
		who = fmt.Sprintf("%d of %d devices throttled; most %s", n, len(s.Devices), d.Node)
	}
	a.Text = fmt.Sprintf("%s throttled %s of the run%s (mean clock %s, peak %.1f C)", who, Percent(share), held, Percent(d.ClockMean), d.TempPeakC)
	a.Short = fmt.Sprintf("%s throttled %s of the run", who, Percent(share))
	if c := worstThrottleCost(s.Throttling); c != nil {
		a.Text += fmt.Sprintf("; against full clock %s TTFT p95 %+.1f%%, TPOT p95 %+.1f%%", c.Model, c.TTFTP95.Pct, c.TPOTP95.Pct)
	}
	return a
}

func worstThrottleCost(cs []sim.ThrottleCost) *sim.ThrottleCost {
	var w *sim.ThrottleCost
	for i := range cs {
		if w == nil || cs[i].TTFTP95.Pct > w.TTFTP95.Pct {
			w = &cs[i]
		}
	}
	return w
}

// cost sets the run's cost against the baseline's: the hardware spend and
// hourly cost saved, and, when the run is cheaper but misses an SLO, that
// it does (a saving at a worse service is not the same saving).
func cost(run, base Run) Answer {
	a := Answer{Question: Cost, Metric: "hardware saving", Value: math.NaN(), Target: math.NaN()}
	c, b := run.Sim.Cost, base.Sim.Cost
	if c == nil || b == nil {
		a.Status, a.Text = Unknown, "no cost to compare: "+map[bool]string{true: "the run", false: "the baseline"}[c == nil]+" has none"
		return a
	}
	cmp := tco.Compare(b, c)
	a.Value = cmp.HardwareSavingPct
	a.Text = fmt.Sprintf("against %s: hardware spend %s (%s against %s), cost %s (%s/h against %s/h)", b.Scenario,
		change(cmp.HardwareSavingPct), USD(c.HardwareSpendUSD, 0), USD(b.HardwareSpendUSD, 0),
		change(cmp.HourlySavingPct), USD(c.USDPerHour, 4), USD(b.USDPerHour, 4))
	a.Short = fmt.Sprintf("hardware spend %s than %s (cost %s)", change(cmp.HardwareSavingPct), b.Scenario, change(cmp.HourlySavingPct))
	if cmp.HourlySavingPct <= 0 && cmp.HardwareSavingPct <= 0 {
		a.Status = Fail
		return a
	}
	misses := missed(latency(run))
	if len(misses) == 0 {
		a.Status = Pass
		return a
	}
	a.Status = Caveat
	a.Short += ", but not at the same latency"
	a.Text += ", but " + strings.Join(misses, "; ")
	if bm := missed(latency(base)); len(bm) > 0 {
		a.Text += " (the baseline misses too: " + strings.Join(bm, "; ") + ")"
	} else {
		a.Text += ", where the baseline meets every SLO: the saving comes with worse latency"
	}
	return a
}

// missed is the text of each failing latency answer.
func missed(as []Answer) []string {
	var out []string
	for _, a := range as {
		if a.Status == Fail {
			out = append(out, a.Short)
		}
	}
	return out
}

// change says a saving in percent: "50.0% lower", "12.0% higher".
func change(savingPct float64) string {
	switch {
	case math.IsNaN(savingPct):
		return "-"
	case savingPct >= 0:
		return fmt.Sprintf("%.1f%% lower", savingPct)
	}
	return fmt.Sprintf("%.1f%% higher", -savingPct)
}

// noBaseline is the cost answer of a run judged alone: its figures, and
// that there is nothing to compare them with.
func noBaseline(s *twin.Simulation) Answer {
	a := Answer{Question: Cost, Status: Unknown, Value: math.NaN(), Target: math.NaN()}
	if s.Cost == nil {
		a.Text = "no cost (and no baseline to compare with)"
		a.Short = a.Text
		return a
	}
	a.Text = fmt.Sprintf("hardware %s, %s/h: no baseline to compare with", USD(s.Cost.HardwareSpendUSD, 0), USD(s.Cost.USDPerHour, 4))
	a.Short = a.Text
	return a
}
