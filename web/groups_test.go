package web

import (
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/jobs"
	"github.com/fleettwin/fleettwin/scenarios"
)

// A 100-node run's page sums its devices up by node group: one row per
// group in the result (the devices behind a details), one entry per
// group under the progress.
func TestLargeFleetGroups(t *testing.T) {
	ts := newTestServer(t, "", "")
	data, _ := scenarios.FS.ReadFile("fleet-h100.toml")
	short := strings.NewReplacer("duration_s = 3600", "duration_s = 300", "warmup_s = 300", "warmup_s = 30").Replace(string(data))
	r, err := ts.Runs.Start("fleet-h100.toml", []byte(short), 0)
	if err != nil {
		t.Fatal(err)
	}
	ts.wait(t, r.State().ID)
	d := ts.doc(t, "/runs/"+r.State().ID)
	groups := byTestID(d, "device-group")
	if groups.Length() != 2 || !strings.HasPrefix(strings.TrimSpace(groups.First().Find("td").First().Text()), "h100-32b") ||
		strings.TrimSpace(groups.First().Find("td").Eq(1).Text()) != "60" {
		t.Errorf("device groups: %d rows, first %q", groups.Length(), groups.First().Text())
	}
	if n := byTestID(d, "every-device").Find(`[data-testid=devices] tbody tr`).Length(); n != 100 {
		t.Errorf("%d devices behind the details, want 100", n)
	}
	now := byTestID(d, "devices-now").Text()
	if strings.Count(now, "devices)") != 2 || !strings.Contains(now, "h100-30b (40 devices): ") {
		t.Errorf("devices line %q", now)
	}
	// A small fleet keeps a line and a row per device.
	if got := devicesNow(jobs.State{Devices: []jobs.DeviceSeries{{Node: "spark", TempC: []float64{58.5}, Clock: []float64{1}}}}); got != "spark: 58.5 C, clock 100%" {
		t.Errorf("one device: %q", got)
	}
	if got := groupOf(jobs.DeviceSeries{Node: "h100-32b-17"}); got != "h100-32b" {
		t.Errorf("group of a device recorded without one: %q", got)
	}
}
