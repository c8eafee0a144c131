package sim

import (
	"bytes"
	"testing"
)

// TestNoSeries: without the time series every result is byte-identical
// (the devices' spans still end at the bins' boundaries), on a fleet split
// in parts, a TP node of several devices, an autoscaled day (its nodes held
// per bin are results) and a shared device; Series is empty.
func TestNoSeries(t *testing.T) {
	for _, path := range []string{"../scenarios/fleet-h100.toml", "../bench/equiv/tp2-l40s.toml",
		"../scenarios/autoscale-day.toml", "../scenarios/seed-colocated.toml"} {
		sc := load(t, path)
		with := run(t, sc, Options{Workers: 2})
		without := run(t, sc, Options{Workers: 2, NoSeries: true})
		if !bytes.Equal(jsonOf(t, with), jsonOf(t, without)) {
			t.Errorf("%s: results differ without the series", path)
		}
		if len(with.Series) == 0 || len(with.Series[0].Utilization) == 0 {
			t.Fatalf("%s: no series to compare", path)
		}
		for _, s := range without.Series {
			if len(s.Utilization) != 0 {
				t.Errorf("%s: %d bins of series with NoSeries", path, len(s.Utilization))
			}
		}
	}
}
