package jobs

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fleettwin/fleettwin/sim"
)

// A state too large for one message goes as a head and parts, each under
// the limit, and the head filled with every part is the state; a small
// state goes whole.
func TestWireParts(t *testing.T) {
	for _, tc := range []struct {
		models, devices, points, limit int
		whole                          bool
	}{
		{1, 2, 10, MessageLimit, true},
		{2, 100, maxPoints, MessageLimit, false},
		{3, 40, 200, 16 << 10, false}, // one model's series: about 8 KB
	} {
		t.Run(fmt.Sprintf("%dx%dx%d", tc.models, tc.devices, tc.points), func(t *testing.T) {
			st := State{Meta: Meta{ID: "r"}, Models: make([]ModelSeries, tc.models), Devices: make([]DeviceSeries, tc.devices)}
			for i := range st.Models {
				st.Models[i].Model = fmt.Sprint("m", i)
			}
			for i := range st.Devices {
				st.Devices[i].Node, st.Devices[i].Group = fmt.Sprint("n", i), "g"
			}
			for p := 1; p <= tc.points; p++ {
				x := float64(p) + 0.123456
				s := sim.Snapshot{NowS: x, Progress: 0.5, Models: make([]sim.ModelSnapshot, tc.models), Devices: make([]sim.DeviceSnapshot, tc.devices)}
				for i := range s.Models {
					s.Models[i] = sim.ModelSnapshot{Completed: int64(p), TTFTP95: x * float64(i+1), TPOTP95: x / 7, E2EP95: x / 3}
				}
				for i := range s.Devices {
					s.Devices[i] = sim.DeviceSnapshot{TempNowC: x / 9 * float64(i), ClockNow: 1 / x}
				}
				st.apply(s, x)
			}
			st.Seq = 7
			msgs := st.WireParts(tc.limit)
			if got := len(msgs) == 1; got != tc.whole {
				t.Fatalf("%d messages (%d bytes whole)", len(msgs), len(wireJSON(st)))
			}
			var got State
			for i, m := range msgs {
				if len(m) > tc.limit {
					t.Errorf("message %d: %d bytes, over %d", i, len(m), tc.limit)
				}
				if i == 0 {
					if IsPart(m) {
						t.Fatal("the first message is a part")
					}
					if err := json.Unmarshal(m, &got); err != nil {
						t.Fatal(err)
					}
					if want := len(msgs) - 1; got.Parts != want {
						t.Fatalf("head names %d parts, %d follow", got.Parts, want)
					}
					continue
				}
				if !IsPart(m) {
					t.Fatalf("message %d is not a part", i)
				}
				var p Part
				if err := json.Unmarshal(m, &p); err != nil {
					t.Fatal(err)
				}
				if p.Seq != st.Seq || p.Part != i {
					t.Errorf("part %d: seq %d, number %d", i, p.Seq, p.Part)
				}
				got = got.Fill(p)
			}
			var want State
			if err := json.Unmarshal(wireJSON(st), &want); err != nil {
				t.Fatal(err)
			}
			if g, w := wireJSON(got), wireJSON(want); string(g) != string(w) {
				t.Errorf("the filled head differs from the state: %d bytes against %d", len(g), len(w))
			}
		})
	}
}
