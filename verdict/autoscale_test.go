package verdict

import (
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/sim"
)

// A node of an autoscaled group is judged on the time it was held: busy
// 40% of the window but held only half of it is 80% utilized; one never
// held is left out.
func TestUtilizationOfAutoscaledNodes(t *testing.T) {
	held := func(d sim.DeviceResult, s float64) sim.DeviceResult { d.WindowHeldS = &s; return d }
	devs := []sim.DeviceResult{held(device("h-0", 0.9, 0), 3600), held(device("h-1", 0.4, 0), 1800), held(device("h-2", 0, 0), 0)}
	got := utilization(simulation("s", nil, devs, 0, 0), Options{})
	if got.Status != Pass || math.Abs(got.Value-0.8) > 1e-12 || !strings.Contains(got.Text, "on 2 of 2 devices: h-0 90.0%, h-1 80.0%") {
		t.Errorf("got %s %q (%v), want a pass on h-0 90%% and h-1 80%%, h-2 left out", got.Status, got.Text, got.Value)
	}
	none := utilization(simulation("s", nil, devs[2:], 0, 0), Options{})
	if none.Status != Unknown {
		t.Errorf("no device held: %s %q, want unknown", none.Status, none.Text)
	}
}
