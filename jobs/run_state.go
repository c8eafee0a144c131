package jobs

import (
	"math"
	"time"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/verdict"
)

// Run states.
const (
	StatusQueued      = "queued" // waiting for a free slot (the limit OpenRuns was given)
	StatusRunning     = "running"
	StatusDone        = "done"
	StatusStopped     = "stopped"     // cancelled by the user; partial results kept
	StatusFailed      = "failed"      // the simulation returned an error, or crashed
	StatusInterrupted = "interrupted" // the server stopped while it ran or waited
)

// maxPoints caps each live series: past it, every other point is dropped,
// so a state message stays small however long the run.
const maxPoints = 512

// Meta describes a run.
type Meta struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Created   time.Time `json:"created"`
	Speed     float64   `json:"speed"` // × real time; 0 = as fast as possible
	Error     string    `json:"error,omitempty"`
	DurationS float64   `json:"duration_s"`
	// Session is the browser session that started the run: its what-if
	// history. Empty for runs started from the command line.
	Session string `json:"session,omitempty"`
	// Profiles are the provenance of the profiles the scenario uses
	// (twin.Profiles): the run page says when they rest on a prior.
	Profiles []perf.ProvenanceInfo `json:"profiles,omitempty"`
	// SLOs are the scenario's targets (a result records only whether
	// each was met): the verdict names the metric that misses.
	SLOs []verdict.SLO `json:"slos,omitempty"`
	// Baseline is the ID of the run this one's cost is judged against
	// (SetBaseline): the seed claim beside a Spark per model.
	Baseline string `json:"baseline,omitempty"`
}

// State is what a run page shows. A run of at most deltaDevices devices
// streams its complete state in every message: the hub may drop messages
// for a slow browser, and a complete state makes that safe. A larger run
// streams deltas (see delta).
type State struct {
	Meta
	// Seq counts the states published; a delta is state Seq with the
	// points added since state Seq-1.
	Seq int64 `json:"seq"`
	// Delta marks a message carrying only the newest points; MaxPoints is
	// the cap the receiver thins its series to, as thin does.
	Delta     bool `json:"delta,omitempty"`
	MaxPoints int  `json:"max_points,omitempty"`
	// Parts is how many messages after this one carry its series: a
	// head (see WireParts). 0 in a complete state.
	Parts int `json:"parts,omitempty"`
	// QueuePos is a queued run's place in the queue, from 1.
	QueuePos int            `json:"queue_position,omitempty"`
	Progress float64        `json:"progress"`
	NowS     float64        `json:"now_s"`
	Events   int64          `json:"events"`
	ElapsedS float64        `json:"elapsed_s"` // wall time
	LeftS    float64        `json:"left_s"`    // wall time, estimated
	T        []float64      `json:"t"`         // simulated seconds of each point
	Models   []ModelSeries  `json:"models"`
	Devices  []DeviceSeries `json:"devices"`
	Done     bool           `json:"done"`
}

// ModelSeries is one served model's latency over the run so far: the
// cumulative p95 (every request after warm-up until the point) and the
// p95 of the requests finished in each interval (NaN for one without).
type ModelSeries struct {
	Model      string    `json:"model"`
	Completed  int64     `json:"completed"`
	TTFTP95    []float64 `json:"ttft_p95_s"`
	TPOTP95    []float64 `json:"tpot_p95_s"`
	E2EP95     []float64 `json:"e2e_p95_s"`
	TTFTWindow []float64 `json:"ttft_p95_window_s"`
	TPOTWindow []float64 `json:"tpot_p95_window_s"`
	E2EWindow  []float64 `json:"e2e_p95_window_s"`
	// Throughput is requests completed per simulated second since the
	// previous point.
	Throughput []float64 `json:"throughput_per_s"`
}

// DeviceSeries is one device's activity, power and heat over the run.
type DeviceSeries struct {
	Node string `json:"node"`
	// Group is the node group the device belongs to: a large fleet's page
	// sums its devices up by group.
	Group       string    `json:"group,omitempty"`
	Utilization []float64 `json:"utilization"`
	KVUse       []float64 `json:"kv_use"`
	PowerW      []float64 `json:"power_w"`
	TempC       []float64 `json:"temp_c"`
	Clock       []float64 `json:"clock"`
	Waiting     []float64 `json:"waiting"`
	// Throttle is what holds the clock down now: "thermal", "power cap",
	// both, or "".
	Throttle string `json:"throttle"`
}

// deltaDevices is the largest fleet whose live messages are complete
// states. A complete state grows with devices × points (a 100-node run's
// is megabytes); past this, each message carries only the newest point
// (a few hundred bytes per device), and a viewer starts from the complete
// state sent on connect.
const deltaDevices = 8

// delta is the state with only its newest n points: what a viewer holding
// state Seq-1 appends (then thinning to MaxPoints, as thin does) to hold
// state Seq.
func (st State) delta(n int) State {
	last := func(xs []float64) []float64 { return xs[max(0, len(xs)-n):] }
	d := st
	d.Delta, d.MaxPoints = true, maxPoints
	d.T = last(st.T)
	d.Models = make([]ModelSeries, len(st.Models))
	for i, m := range st.Models {
		d.Models[i] = ModelSeries{Model: m.Model, Completed: m.Completed, TTFTP95: last(m.TTFTP95), TPOTP95: last(m.TPOTP95),
			E2EP95: last(m.E2EP95), Throughput: last(m.Throughput),
			TTFTWindow: last(m.TTFTWindow), TPOTWindow: last(m.TPOTWindow), E2EWindow: last(m.E2EWindow)}
	}
	d.Devices = make([]DeviceSeries, len(st.Devices))
	for i, x := range st.Devices {
		d.Devices[i] = DeviceSeries{Node: x.Node, Group: x.Group, Utilization: last(x.Utilization), KVUse: last(x.KVUse), PowerW: last(x.PowerW),
			TempC: last(x.TempC), Clock: last(x.Clock), Waiting: last(x.Waiting), Throttle: x.Throttle}
	}
	return d
}

// apply adds a snapshot to the state, as a new point unless it is at the
// time of the last one (the time axis stays strictly increasing); it
// reports whether it added one.
func (st *State) apply(s sim.Snapshot, elapsed float64) bool { return st.applyWindows(s, elapsed, nil) }

// applyWindows is apply with each model's p95s over the interval since
// the last point (nil: none known, NaN).
func (st *State) applyWindows(s sim.Snapshot, elapsed float64, win []windowP95) bool {
	st.Progress, st.NowS, st.Events, st.ElapsedS = s.Progress, s.NowS, s.Events, elapsed
	st.LeftS = math.NaN()
	if s.Progress > 0 {
		st.LeftS = elapsed * (1 - s.Progress) / s.Progress
	}
	if n := len(st.T); n > 0 && s.NowS <= st.T[n-1] {
		st.touch(s) // the final snapshot at the time of the last point: no new point
		return false
	}
	prevT := 0.0
	if n := len(st.T); n > 0 {
		prevT = st.T[n-1]
	}
	st.T = append(st.T, s.NowS)
	for i, ms := range s.Models {
		m := &st.Models[i]
		rate := math.NaN()
		if dt := s.NowS - prevT; dt > 0 {
			rate = float64(ms.Completed-m.Completed) / dt
		}
		m.Throughput = append(m.Throughput, rate)
		m.Completed = ms.Completed
		m.TTFTP95 = append(m.TTFTP95, ms.TTFTP95)
		m.TPOTP95 = append(m.TPOTP95, ms.TPOTP95)
		m.E2EP95 = append(m.E2EP95, ms.E2EP95)
		w := windowP95{math.NaN(), math.NaN(), math.NaN()}
		if i < len(win) {
			w = win[i]
		}
		m.TTFTWindow, m.TPOTWindow, m.E2EWindow = append(m.TTFTWindow, w.TTFT), append(m.TPOTWindow, w.TPOT), append(m.E2EWindow, w.E2E)
	}
	for i, ds := range s.Devices {
		d := &st.Devices[i]
		d.Utilization = append(d.Utilization, ds.Utilization)
		d.KVUse = append(d.KVUse, ds.KVUse)
		d.PowerW = append(d.PowerW, ds.PowerW)
		d.TempC = append(d.TempC, ds.TempNowC)
		d.Clock = append(d.Clock, ds.ClockNow)
		d.Waiting = append(d.Waiting, ds.Waiting)
		d.Throttle = ds.Throttle
	}
	if len(st.T) > maxPoints {
		st.thin()
	}
	return true
}

// touch takes a snapshot's counts and throttle reasons without a point.
func (st *State) touch(s sim.Snapshot) {
	for i, ms := range s.Models {
		st.Models[i].Completed = ms.Completed
	}
	for i, ds := range s.Devices {
		st.Devices[i].Throttle = ds.Throttle
	}
}

// thin keeps every other point (and always the last), in new slices:
// copies of the state handed out earlier still share the old ones.
func (st *State) thin() {
	half := func(xs []float64) []float64 {
		out := make([]float64, 0, len(xs)/2+1)
		for i, x := range xs {
			if i%2 == 1 || i == len(xs)-1 {
				out = append(out, x)
			}
		}
		return out
	}
	st.T = half(st.T)
	for i := range st.Models {
		m := &st.Models[i]
		m.TTFTP95, m.TPOTP95, m.E2EP95, m.Throughput = half(m.TTFTP95), half(m.TPOTP95), half(m.E2EP95), half(m.Throughput)
		m.TTFTWindow, m.TPOTWindow, m.E2EWindow = half(m.TTFTWindow), half(m.TPOTWindow), half(m.E2EWindow)
	}
	for i := range st.Devices {
		d := &st.Devices[i]
		d.Utilization, d.KVUse, d.PowerW, d.TempC, d.Clock, d.Waiting = half(d.Utilization), half(d.KVUse), half(d.PowerW), half(d.TempC), half(d.Clock), half(d.Waiting)
	}
}

// Merge is the receiving side of a delta message, what the dashboard's
// app.js does with one: it returns cur with d's points appended, thinned
// past d.MaxPoints as thin does, and d's other fields. A complete state
// (d.Delta false) replaces cur.
func (cur State) Merge(d State) State {
	if !d.Delta {
		return d
	}
	grow := func(xs, ys []float64) []float64 {
		out := append(append([]float64(nil), xs...), ys...)
		if d.MaxPoints > 0 && len(out) > d.MaxPoints {
			var kept []float64
			for i, x := range out {
				if i%2 == 1 || i == len(out)-1 {
					kept = append(kept, x)
				}
			}
			out = kept
		}
		return out
	}
	next := d
	next.Delta, next.MaxPoints = false, 0
	next.T = grow(cur.T, d.T)
	next.Models = make([]ModelSeries, len(d.Models))
	for i, m := range d.Models {
		c := cur.Models[i]
		next.Models[i] = m
		next.Models[i].TTFTP95, next.Models[i].TPOTP95 = grow(c.TTFTP95, m.TTFTP95), grow(c.TPOTP95, m.TPOTP95)
		next.Models[i].E2EP95, next.Models[i].Throughput = grow(c.E2EP95, m.E2EP95), grow(c.Throughput, m.Throughput)
		next.Models[i].TTFTWindow, next.Models[i].TPOTWindow = grow(c.TTFTWindow, m.TTFTWindow), grow(c.TPOTWindow, m.TPOTWindow)
		next.Models[i].E2EWindow = grow(c.E2EWindow, m.E2EWindow)
	}
	next.Devices = make([]DeviceSeries, len(d.Devices))
	for i, x := range d.Devices {
		c := cur.Devices[i]
		next.Devices[i] = x
		next.Devices[i].Utilization, next.Devices[i].KVUse = grow(c.Utilization, x.Utilization), grow(c.KVUse, x.KVUse)
		next.Devices[i].PowerW, next.Devices[i].TempC = grow(c.PowerW, x.PowerW), grow(c.TempC, x.TempC)
		next.Devices[i].Clock, next.Devices[i].Waiting = grow(c.Clock, x.Clock), grow(c.Waiting, x.Waiting)
	}
	return next
}

// DeviceResult is one node's figures in a finished run's result
// (sim.DeviceResult), named here so the dashboard reads results through
// jobs and never imports the simulator.
type DeviceResult = sim.DeviceResult
