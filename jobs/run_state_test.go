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
