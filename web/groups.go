package web

import (
	"fmt"
	"math"
	"strings"

	"github.com/fleettwin/fleettwin/jobs"
)

// groupFrom is the number of devices from which a run's page sums its
// devices up by node group (jobs streams deltas past the same size).
const groupFrom = 9

// groupOf is a device's node group: the one the run recorded, else its
// name without the "-i" suffix a group's nodes get.
func groupOf(d jobs.DeviceSeries) string {
	if d.Group != "" {
		return d.Group
	}
	if i := strings.LastIndexByte(d.Node, '-'); i > 0 && strings.Trim(d.Node[i+1:], "0123456789") == "" {
		return d.Node[:i]
	}
	return d.Node
}

// devicesNow is each device's temperature, clock and throttle state at
// the latest point, as app.js also writes it; from groupFrom devices on,
// one entry per node group (the range of temperatures, the lowest clock,
// how many throttle).
func devicesNow(st jobs.State) string {
	if len(st.Devices) >= groupFrom {
		return groupsNow(st)
	}
	var parts []string
	for _, d := range st.Devices {
		n := len(d.TempC)
		if n == 0 {
			continue
		}
		p := fmt.Sprintf("%s: %.1f C, clock %.0f%%", d.Node, d.TempC[n-1], 100*d.Clock[n-1])
		if d.Throttle != "" {
			p += ", throttled (" + d.Throttle + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " · ")
}

func groupsNow(st jobs.State) string {
	type agg struct {
		n, hot          int
		lo, hi, clockLo float64
	}
	var order []string
	by := map[string]*agg{}
	for _, d := range st.Devices {
		n := len(d.TempC)
		if n == 0 {
			continue
		}
		g := groupOf(d)
		a, ok := by[g]
		if !ok {
			a = &agg{lo: math.Inf(1), hi: math.Inf(-1), clockLo: math.Inf(1)}
			by[g] = a
			order = append(order, g)
		}
		a.n++
		a.lo, a.hi, a.clockLo = min(a.lo, d.TempC[n-1]), max(a.hi, d.TempC[n-1]), min(a.clockLo, d.Clock[n-1])
		if d.Throttle != "" {
			a.hot++
		}
	}
	var parts []string
	for _, g := range order {
		a := by[g]
		parts = append(parts, fmt.Sprintf("%s (%d devices): %.1f-%.1f C, lowest clock %.0f%%, %d throttled", g, a.n, a.lo, a.hi, 100*a.clockLo, a.hot))
	}
	return strings.Join(parts, " · ")
}

// deviceGroup is a node group's devices in the result table: means, and
// the range where it says more.
type deviceGroup struct {
	Group, Hardware      string
	Devices              int
	UtilMean, UtilLo     float64
	UtilHi, MBUMean      float64
	PowerMean, NodePower float64 // means per device: device alone, with the host share
	TempPeak, ClockLo    float64
	ThrottledS           float64 // summed over the devices
}

// deviceGroups sums a result's devices up by node group, in the order
// the groups come; nil below groupFrom devices.
func deviceGroups(st jobs.State, devs []jobs.DeviceResult) []deviceGroup {
	if len(devs) < groupFrom || len(st.Devices) != len(devs) {
		return nil
	}
	var out []deviceGroup
	idx := map[string]int{}
	for i, d := range devs {
		g := groupOf(st.Devices[i])
		j, ok := idx[g]
		if !ok {
			j = len(out)
			idx[g] = j
			out = append(out, deviceGroup{Group: g, Hardware: d.Hardware, UtilLo: math.Inf(1), UtilHi: math.Inf(-1), ClockLo: math.Inf(1)})
		}
		a := &out[j]
		u := windowUtil(d)
		a.Devices++
		a.UtilMean += u
		a.UtilLo, a.UtilHi = min(a.UtilLo, u), max(a.UtilHi, u)
		a.MBUMean += d.MBU
		a.PowerMean += d.PowerMeanW
		a.NodePower += d.NodePowerMeanW
		a.TempPeak = max(a.TempPeak, d.TempPeakC)
		a.ClockLo = min(a.ClockLo, d.ClockMean)
		a.ThrottledS += d.ThrottledS
	}
	for i := range out {
		n := float64(out[i].Devices)
		out[i].UtilMean, out[i].MBUMean, out[i].PowerMean, out[i].NodePower = out[i].UtilMean/n, out[i].MBUMean/n, out[i].PowerMean/n, out[i].NodePower/n
	}
	return out
}
