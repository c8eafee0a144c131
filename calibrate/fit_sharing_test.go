package calibrate

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
)

// The standard error from the curvature of a cost f = S/n that is exactly
// quadratic, a·(x−x0)² + c, is sqrt(c / ((n−1)·a)): the second difference
// is exact on a parabola, inside the range and at either bound.
func TestCurvatureStdErr(t *testing.T) {
	const a, c, n = 4.0, 0.02, 11
	want := math.Sqrt(c / ((n - 1) * a))
	for _, tc := range []struct {
		name   string
		x0, x  float64
		f      func(float64) float64
		lo, hi float64
		want   float64
	}{
		{"inside", 0.4, 0.4, nil, 0, 1, want},
		{"at the lower bound", 0, 0, nil, 0, 1, want},
		{"at the upper bound", 1, 1, nil, 0, 1, want},
		{"flat", 0.5, 0.5, func(float64) float64 { return c }, 0, 1, math.NaN()},
		{"a maximum", 0.5, 0.5, func(x float64) float64 { return c - a*(x-0.5)*(x-0.5) }, 0, 1, math.NaN()},
	} {
		f := tc.f
		if f == nil {
			f = func(x float64) float64 { return a*(x-tc.x0)*(x-tc.x0) + c }
		}
		got := curvatureStdErr(f, tc.x, f(tc.x), tc.lo, tc.hi, n)
		if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-9*tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !math.IsNaN(curvatureStdErr(func(float64) float64 { return 1 }, 0, 1, 0, 1, 1)) {
		t.Error("one comparison has no spread to estimate")
	}
}

// The recorded CI run (one mode, the host's default mps; two together
// experiments fitted, one held out) fits mps_memory_contention with a
// finite standard error, leaves the rest of [sharing] at the priors, says
// where it came from, and the profile loads back.
func TestFitSharingRecordedRun(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	p, rep, err := r.Fit(context.Background(), cat, FitOptions{Work: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Sharing
	if s == nil {
		t.Fatalf("no [sharing] table; notes %v", rep.Notes)
	}
	def := perf.DefaultSharing()
	if !(s.MPSMemoryContention >= 0 && s.MPSMemoryContention <= 1) || !(s.MPSMemoryContentionStdErr > 0) || math.IsInf(s.MPSMemoryContentionStdErr, 0) {
		t.Errorf("mps_memory_contention %v ± %v", s.MPSMemoryContention, s.MPSMemoryContentionStdErr)
	}
	if s.SwitchS != def.SwitchS || s.SwitchSStdErr != 0 || s.TimeSliceS != def.TimeSliceS {
		t.Errorf("time-slice coefficients moved without time-slice experiments: %+v", s)
	}
	for _, want := range []string{"mps_memory_contention fitted on 2 together experiments of run 20261125-094332-ci-cpu (mps), held-out error ", "% (median |error| of TPOT and E2E p50 over 1 held-out experiment)"} {
		if !strings.Contains(s.Source, want) {
			t.Errorf("source %q lacks %q", s.Source, want)
		}
	}
	t.Logf("mps_memory_contention %.4g ± %.2g; interference %.4g; %s", s.MPSMemoryContention, s.MPSMemoryContentionStdErr, p.Interference, s.Source)
	data, err := perf.EncodeProfile(p, "test")
	if err != nil {
		t.Fatal(err)
	}
	back, err := perf.ParseProfile("fitted.toml", data)
	if err != nil {
		t.Fatalf("the fitted profile does not load back: %v", err)
	}
	if *back.Sharing != *s {
		t.Errorf("[sharing] read back as %+v, wrote %+v", *back.Sharing, *s)
	}

	// A run with no together experiments of a mode with a coefficient
	// fits none, and says why.
	r.Experiments = r.Experiments[:1]
	q := perf.Prior("cpu-host", "ollama")
	var rep2 FitReport
	if err := r.fitSharing(context.Background(), cat, &q, &rep2); err != nil {
		t.Fatal(err)
	}
	if q.Sharing != nil || len(rep2.Notes) != 1 || !strings.Contains(rep2.Notes[0], "sharing coefficients not fitted: no together experiments of a mode with one (mps, time-slice)") {
		t.Errorf("sharing %+v, notes %v", q.Sharing, rep2.Notes)
	}
}
