package jobs

import (
	"testing"

	"github.com/fleettwin/fleettwin/sim"
)

// mergeDelta is what app.js's merge does: append the delta's points to
// the state, thinning past MaxPoints as thin does.
func mergeDelta(cur, d State) State {
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

// Past maxPoints the state thins; a viewer applying the deltas thins the
// same way and keeps holding the same state.
func TestDeltasThinLikeTheState(t *testing.T) {
	empty := func() State {
		return State{Models: []ModelSeries{{Model: "m"}}, Devices: []DeviceSeries{{Node: "a"}, {Node: "b"}}}
	}
	st, view := empty(), empty()
	for i := 1; i <= 3*maxPoints; i++ {
		x := float64(i)
		st.apply(sim.Snapshot{NowS: x, Progress: x / (3 * maxPoints), Models: []sim.ModelSnapshot{{Completed: int64(i), TTFTP95: x}},
			Devices: []sim.DeviceSnapshot{{TempNowC: x}, {ClockNow: x}}}, x)
		st.Seq++
		view = mergeDelta(view, st.delta(1))
	}
	if len(st.T) > maxPoints || len(st.T) < maxPoints/2 {
		t.Fatalf("%d points: the state did not thin", len(st.T))
	}
	view.Delta, view.MaxPoints = false, 0
	if got, want := mustJSON(view), mustJSON(st); string(got) != string(want) {
		t.Errorf("after thinning the viewer's state differs: %d points against %d", len(view.T), len(st.T))
	}
}
