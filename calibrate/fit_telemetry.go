package calibrate

// The power and thermal fits: a run's telemetry samples turned into the
// profile's power curve and RC thermal model.

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/fleettwin/fleettwin/calibrate/telemetry"
	"github.com/fleettwin/fleettwin/fit"
	"github.com/fleettwin/fleettwin/perf"
)

// ReadTelemetry reads telemetry.jsonl, skipping lines that are not
// samples (a torn last line, above all).
func ReadTelemetry(dir string) ([]telemetry.Sample, error) {
	f, err := os.Open(filepath.Join(dir, TelemetryFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []telemetry.Sample
	lr := newLineReader(f, maxLine)
	for {
		b, long, err := lr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", filepath.Join(dir, TelemetryFile), err)
		}
		var s telemetry.Sample
		if !long && json.Unmarshal(b, &s) == nil {
			out = append(out, s)
		}
	}
}

// FitPower fits power = idle + dynamic × utilization over the samples that
// have a power reading, by non-negative least squares, and records what
// the watts measured (perf.Power.Scope): the twin adds the catalog's host
// share on top, which is right for a board, GPU-rail or RAPL fit and would
// count twice on a wall one. A curve mixes no scopes: where samples differ
// (a resumed run on another source) the scope most of them have is fitted
// and the note says what was left out. note is also why nothing was fitted.
func FitPower(samples []telemetry.Sample) (*perf.Power, string) {
	n := map[string]int{}
	for _, s := range samples {
		if s.Has.Power {
			n[s.Scope()]++
		}
	}
	scope, notes := "", []string{}
	for _, k := range slices.Sorted(maps.Keys(n)) {
		if n[k] > n[scope] {
			scope = k
		}
	}
	for _, k := range slices.Sorted(maps.Keys(n)) {
		if k != scope {
			notes = append(notes, fmt.Sprintf("%d power samples of scope %q left out of the %q fit", n[k], k, scope))
		}
	}
	if scope == "" && n[""] > 0 {
		notes = append(notes, "power fitted on samples that do not say what they measured (telemetry from before power_scope)")
	}
	var rows [][2]float64
	var y []float64
	for _, s := range samples {
		if s.Has.Power && s.Scope() == scope {
			rows = append(rows, [2]float64{1, s.UtilPct / 100})
			y = append(y, s.PowerW)
		}
	}
	if len(y) < 10 {
		return nil, fmt.Sprintf("power not fitted: %d samples with a power reading (RAPL or NVML power unreadable?)", len(y))
	}
	A := mat.NewDense(len(y), 2, nil)
	for i, r := range rows {
		A.SetRow(i, r[:])
	}
	x, err := fit.NNLS(A, y)
	if err != nil {
		return nil, "power not fitted: " + err.Error()
	}
	se := fit.StdErrors(A, y, x, []bool{true, true})
	pw := &perf.Power{IdleW: x[0], DynamicW: x[1], Samples: len(y), Scope: scope}
	if len(se) == 2 {
		pw.IdleWStdErr, pw.DynamicWStdErr = se[0], se[1]
	}
	var ss float64
	for i, r := range rows {
		d := pw.IdleW + pw.DynamicW*r[1] - y[i]
		ss += d * d
	}
	pw.RMSEW = math.Sqrt(ss / float64(len(y)))
	return pw, strings.Join(notes, "; ")
}

// FitThermal fits the first-order RC model from consecutive samples with
// power and temperature, dt seconds apart:
//
//	T[i+1] − T[i] = dt/(R·C) · (ambient + R·P[i] − T[i])
//
// which is linear in (P, 1, T): a·P + b − c·T with c = dt/τ, R = a/c,
// ambient = b/c. The throttle onset is the lowest temperature seen with a
// thermal reason (telemetry.Sample.ThermalLimit): a power cap holds the
// clocks at any temperature, and taking it for heat would put the onset
// wherever the card first hit its power limit.
func FitThermal(samples []telemetry.Sample, dt float64) (*perf.Thermal, string) {
	byDev := map[string][]telemetry.Sample{}
	for _, s := range samples {
		if s.Has.Power && s.Has.Temp {
			byDev[s.Device] = append(byDev[s.Device], s)
		}
	}
	var X [][3]float64
	var y []float64
	onset := 0.0
	for _, ss := range byDev {
		for i := 0; i+1 < len(ss); i++ {
			X = append(X, [3]float64{ss[i].PowerW, 1, ss[i].TempC})
			y = append(y, ss[i+1].TempC-ss[i].TempC)
		}
		for _, s := range ss {
			if s.ThermalLimit() && (onset == 0 || s.TempC < onset) {
				onset = s.TempC
			}
		}
	}
	if len(y) < 20 {
		return nil, fmt.Sprintf("thermal constants not fitted: %d sample pairs with power and temperature", len(y))
	}
	A := mat.NewDense(len(y), 3, nil)
	for i, r := range X {
		A.SetRow(i, []float64{r[0], r[1], -r[2]})
	}
	var x mat.VecDense
	if err := x.SolveVec(A, mat.NewVecDense(len(y), y)); err != nil {
		return nil, "thermal constants not fitted: " + err.Error()
	}
	a, b, c := x.AtVec(0), x.AtVec(1), x.AtVec(2)
	if !(c > 0) || !(a > 0) {
		return nil, fmt.Sprintf("thermal constants not fitted: temperature does not follow power in this run (a=%.3g, c=%.3g); run a longer sustained phase", a, c)
	}
	tau := dt / c
	th := &perf.Thermal{ResistanceCPerW: a / c, AmbientC: b / c, TimeConstantS: tau, ThrottleOnsetC: onset, Samples: len(y)}
	th.CapacityJPerC = tau / th.ResistanceCPerW
	var ss float64
	for i, r := range X {
		d := a*r[0] + b - c*r[2] - y[i]
		ss += d * d
	}
	th.RMSEC = math.Sqrt(ss / float64(len(y)))
	// Covariance of (a, b, c): s²(AᵀA)⁻¹; then the delta method for
	// R = a/c, τ = dt/c and ambient = b/c.
	var ata, inv mat.Dense
	ata.Mul(A.T(), A)
	if err := inv.Inverse(&ata); err == nil && len(y) > 3 {
		s2 := ss / float64(len(y)-3)
		cov := func(i, j int) float64 { return s2 * inv.At(i, j) }
		ratio := func(num float64, ni int) float64 { // var of num/c
			v := cov(ni, ni)/(c*c) + num*num*cov(2, 2)/(c*c*c*c) - 2*num*cov(ni, 2)/(c*c*c)
			return math.Sqrt(max(v, 0))
		}
		th.ResistanceStdErr = ratio(a, 0)
		th.AmbientStdErr = ratio(b, 1)
		th.TimeConstantStdErr = dt * math.Sqrt(max(cov(2, 2), 0)) / (c * c)
	}
	return th, ""
}
