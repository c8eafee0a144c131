package twin

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/sim"
)

func load(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	data, err := scenarios.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(name, data, catalog.Default(), profiles, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// A run stopped early keeps what it simulated, costed and not priced,
// with the run's error.
func TestSimulatePartial(t *testing.T) {
	sc := load(t, "seed-colocated-closet.toml")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	s, err := Simulate(ctx, sc, Options{OnSnapshot: func(sim.Snapshot) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || s == nil || !s.Partial || s.Throttling != nil || s.Cost == nil {
		t.Fatalf("stopped run: %v, %+v", err, s)
	}
}

// A run that produced nothing returns its error alone; the run hook is
// what runs.
func TestSimulateHook(t *testing.T) {
	boom := errors.New("boom")
	s, err := Simulate(context.Background(), load(t, "seed-colocated.toml"), Options{
		Run: func(context.Context, *scenario.Scenario, sim.Options) (*sim.Result, error) { return nil, boom }})
	if s != nil || err != boom {
		t.Fatalf("%v %v", s, err)
	}
}

// Pace holds the run to a multiple of real time: a 4-hour scenario at
// 14400× takes about a second.
func TestSimulatePace(t *testing.T) {
	if testing.Short() {
		t.Skip("a second of wall time")
	}
	start := time.Now()
	if _, err := Simulate(context.Background(), load(t, "seed-colocated.toml"), Options{Pace: 14400, SnapshotEvery: 1200 * engine.Second}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("paced run took %v, want about a second", el)
	}
}

func TestPricingError(t *testing.T) {
	e := &PricingError{Err: context.Canceled}
	if e.Error() != "pricing throttling: context canceled" || !errors.Is(e, context.Canceled) {
		t.Errorf("%v", e)
	}
}

func TestWriteSeriesCSV(t *testing.T) {
	var b bytes.Buffer
	nan := 0.0 / func() float64 { return 0 }()
	err := WriteSeriesCSV(&b, []sim.DeviceSeries{{Node: "a", BinS: 10, Utilization: []float64{0.5, 1}, MFU: []float64{0.1, 0.2},
		MBU: []float64{0.3, 0.4}, KVUse: []float64{0, 0.5}, Running: []float64{1, 2}, Waiting: []float64{0, 3},
		PowerW: []float64{100, 200}, TempC: []float64{40, nan}, Clock: []float64{1, 0.9}, Throttled: []float64{0, 0.25}}})
	want := strings.Join(SeriesHeader, ",") + "\na,0,0.5,0.1,0.3,0,1,0,100,40,1,0\na,10,1,0.2,0.4,0.5,2,3,200,,0.9,0.25\n"
	if err != nil || b.String() != want {
		t.Errorf("%v\n%s\nwant\n%s", err, b.String(), want)
	}
}
