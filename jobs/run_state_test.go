package jobs

import (
	"testing"

	"github.com/fleettwin/fleettwin/sim"
)

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
		view = view.Merge(st.delta(1))
	}
	if len(st.T) > maxPoints || len(st.T) < maxPoints/2 {
		t.Fatalf("%d points: the state did not thin", len(st.T))
	}
	view.Delta, view.MaxPoints = false, 0
	if got, want := mustJSON(view), mustJSON(st); string(got) != string(want) {
		t.Errorf("after thinning the viewer's state differs: %d points against %d", len(view.T), len(st.T))
	}
}

// The final snapshot of a run can come at the time of the last point: it
// adds no point (the page's time axis stays strictly increasing) but
// takes the counts.
func TestSnapshotAtTheLastTimeAddsNoPoint(t *testing.T) {
	st := State{Models: []ModelSeries{{Model: "m"}}, Devices: []DeviceSeries{{Node: "a"}}}
	snap := func(now float64, done int64) sim.Snapshot {
		return sim.Snapshot{NowS: now, Models: []sim.ModelSnapshot{{Completed: done}}, Devices: []sim.DeviceSnapshot{{Throttle: "thermal"}}}
	}
	if !st.apply(snap(6, 1), 0) || st.apply(snap(6, 3), 0) {
		t.Fatal("apply: a new time adds a point, the same time does not")
	}
	if len(st.T) != 1 || len(st.Models[0].E2EP95) != 1 || len(st.Devices[0].PowerW) != 1 {
		t.Errorf("series %+v", st)
	}
	if st.Models[0].Completed != 3 || st.Devices[0].Throttle != "thermal" {
		t.Errorf("counts not taken: %+v", st.Models[0])
	}
}
