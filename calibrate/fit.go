package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/fleettwin/fleettwin/calibrate/telemetry"
	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/fit"
	"github.com/fleettwin/fleettwin/perf"
)

// FitOptions tune Fit.
type FitOptions struct {
	// PrefillChunk is the server's step token budget (Ollama and
	// llama.cpp: 512; vLLM: max_num_batched_tokens). 0 keeps the prior's.
	PrefillChunk int
	// Work is where the interference search writes the scenarios and
	// traces of its last replay, for `fleettwin simulate` (default
	// Dir/fit); the search's other replays stay in memory.
	Work string
}

// FitReport is what Fit found besides the profile.
type FitReport struct {
	Observations int
	Step         perf.ErrorSummary
	// InterferenceErr is the mean squared log error of the together
	// experiments at the chosen interference.
	InterferenceErr float64
	Notes           []string
}

// Fit fits a profile for the run's hardware and engine from the
// experiments not held out: step-time coefficients from the alone
// experiments (TTFT at one user for prefill, E2E − TTFT for decode), the
// interference coefficient from the together ones (by replaying them
// through the simulator), and power and thermal constants from telemetry.
func (r *Run) Fit(ctx context.Context, cat *catalog.Catalog, opt FitOptions) (perf.Profile, FitReport, error) {
	var rep FitReport
	hw, err := cat.HardwareNamed(r.Plan.Hardware)
	if err != nil {
		return perf.Profile{}, rep, err
	}
	prior := perf.Prior(hw.Name, r.Plan.Engine)
	if opt.PrefillChunk > 0 {
		prior.PrefillChunk = opt.PrefillChunk
	}
	kv, err := cat.KVType(r.Plan.KVCache)
	if err != nil {
		return perf.Profile{}, rep, err
	}
	var obs []perf.Observation
	for _, e := range r.Experiments {
		if e.HeldOut || e.Kind != Alone {
			continue
		}
		m := r.Measured[e.ID][e.Models[0]]
		if m == nil || m.Requests == 0 {
			continue
		}
		pm, _ := r.Plan.Model(e.Models[0])
		model, err := cat.Model(pm.Arch)
		if err != nil {
			return perf.Profile{}, rep, err
		}
		format, err := cat.Format(pm.Format)
		if err != nil {
			return perf.Profile{}, rep, err
		}
		sm, err := perf.NewStepModel(hw, perf.Instance{Model: model, Weights: format, KV: kv}, prior)
		if err != nil {
			return perf.Profile{}, rep, err
		}
		in, out := int(math.Round(m.PromptTokens)), int(math.Round(m.OutputTokens))
		if e.Concurrency == 1 {
			obs = append(obs, perf.Observation{ID: e.ID + "/prefill", Model: sm,
				Steps: perf.PrefillSteps(1, in, 0, prior.PrefillChunk), Seconds: m.TTFT.P50, Work: float64(in), Unit: "tok/s"})
		}
		for _, st := range decodeSteps(r.records[e.ID]) {
			var b perf.Batch
			for range st.Batch {
				b.AddDecode(in + out/2)
			}
			obs = append(obs, perf.Observation{ID: fmt.Sprintf("%s/decode-b%d", e.ID, st.Batch), Model: sm,
				Steps: []perf.Batch{b}, Seconds: st.Seconds, Work: float64(st.Batch), Unit: "tok/s"})
		}
	}
	if len(obs) == 0 {
		return perf.Profile{}, rep, fmt.Errorf("run %s: no completed alone experiments to fit", r.Dir)
	}
	res, err := perf.FitProfile(prior, obs)
	if err != nil {
		return perf.Profile{}, rep, fmt.Errorf("fit step model: %w", err)
	}
	p := res.Profile
	if lag, n := r.admissionLag(); n >= 3 {
		p.AdmissionLagS = math.Round(lag*1e5) / 1e5
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("admission lag kept at the prior's %.3g s: %d requests arrived while another decoded", p.AdmissionLagS, n))
	}
	rep.Observations = len(obs)
	rep.Step = perf.Summarize(res.Rows)

	work := opt.Work
	if work == "" {
		work = filepath.Join(r.Dir, "fit")
	}
	if err := r.fitSharing(ctx, cat, &p, &rep); err != nil {
		return p, rep, err
	}
	if err := r.fitInterference(ctx, cat, &p, &rep, work); err != nil {
		return p, rep, err
	}
	samples, err := ReadTelemetry(r.Dir)
	if err != nil {
		rep.Notes = append(rep.Notes, "telemetry: "+err.Error())
	}
	pw, note := FitPower(samples)
	if pw != nil {
		p.Power = pw
	}
	if note != "" { // why not fitted, or what was left out
		rep.Notes = append(rep.Notes, note)
	}
	if th, note := FitThermal(samples, 1/r.Plan.TelemetryHz); th != nil {
		p.Thermal = th
	} else {
		rep.Notes = append(rep.Notes, note)
	}

	p.Provenance.Method = "calibration"
	p.Provenance.Source = fmt.Sprintf("run %s: %d observations from %d experiments not held out", r.State.ID, len(obs), len(r.Experiments)-len(r.HeldOutIDs()))
	p.Provenance.Run = r.State.ID
	p.Provenance.Date = r.State.Created.Format(time.DateOnly)
	p.Provenance.Versions = r.State.Versions
	p.Provenance.HeldOut = r.HeldOutIDs()
	p.Provenance.Command = "fleettwin calibrate fit " + r.Dir
	p.Provenance.Notes = "Step coefficients: TTFT of single requests (prefill) and E2E-TTFT (decode) of the alone experiments; interference: replays of the together experiments; power and thermal: telemetry. " + strings.Join(rep.Notes, "; ")
	return p, rep, nil
}

// admissionLag estimates how long a request arriving at a busy engine
// takes to join its batch: the median, over requests of the alone
// experiments (not held out) that arrived while another request was
// decoding and none was in its prefill, of TTFT minus the single-request
// TTFT at the same input length.
func (r *Run) admissionLag() (float64, int) {
	alone := map[string]float64{} // model/input -> median TTFT at one user
	for _, e := range r.Experiments {
		if e.Kind == Alone && e.Concurrency == 1 && !e.HeldOut {
			if m := r.Measured[e.ID][e.Models[0]]; m != nil && m.Requests > 0 {
				alone[fmt.Sprint(e.Models[0], "/", e.Input)] = m.TTFT.P50
			}
		}
	}
	var waits []float64
	for _, e := range r.Experiments {
		base, ok := alone[fmt.Sprint(e.Models[0], "/", e.Input)]
		if e.Kind != Alone || e.Concurrency < 2 || e.HeldOut || !ok {
			continue
		}
		recs := r.records[e.ID]
		for i, q := range recs {
			if !q.OK() {
				continue
			}
			sent := q.Sent.UnixNano()
			decoding, prefilling := false, false
			for j, o := range recs {
				if j == i || !o.OK() {
					continue
				}
				t0 := o.Sent.UnixNano()
				switch {
				case t0 <= sent && sent < t0+o.FirstNS:
					prefilling = true
				case t0+o.FirstNS <= sent && sent < t0+o.EndNS:
					decoding = true
				}
			}
			if decoding && !prefilling {
				waits = append(waits, float64(q.FirstNS)/1e9-base)
			}
		}
	}
	if len(waits) == 0 {
		return 0, 0
	}
	return max(percentiles(waits).P50, 0), len(waits)
}

// DecodeStep is a measured decode step time at one batch size.
type DecodeStep struct {
	Batch   int
	Seconds float64 // median gap between a request's streamed tokens
	Gaps    int
}

// decodeSteps reads step times off the streamed chunks of an experiment:
// a gap between two chunks of one request is one decode step of a batch
// of every request decoding through the whole gap, provided no request
// was in its prefill during it (a prefill chunk would share the step).
// Gaps are grouped by batch size; the median of each group with enough
// gaps is the step time. Closed loops drift apart, so one experiment
// yields several batch sizes.
func decodeSteps(recs []RequestRecord) []DecodeStep {
	type span struct{ sent, first, end int64 }
	spans := make([]span, len(recs)) // zero for failed requests: never overlaps
	for i, r := range recs {
		if r.OK() {
			t0 := r.Sent.UnixNano()
			spans[i] = span{t0, t0 + r.FirstNS, t0 + r.EndNS}
		}
	}
	gaps := map[int][]float64{}
	for i, r := range recs {
		if !r.OK() || len(r.ChunkNS) < 3 {
			continue
		}
		t0 := r.Sent.UnixNano()
		// Skip the first gap: it can hold the step that sampled the
		// first token's successor together with the prefill's tail.
		for k := 2; k < len(r.ChunkNS); k++ {
			a, b := t0+r.ChunkNS[k-1], t0+r.ChunkNS[k]
			batch, clean := 1, true
			for j, o := range spans {
				if j == i || o.end == 0 {
					continue
				}
				if o.sent < b && o.first > a { // a prefill overlaps the gap
					clean = false
					break
				}
				if o.first <= a && o.end >= b {
					batch++
				} else if o.first < b && o.end > a { // decoding for part of it
					clean = false
					break
				}
			}
			if clean {
				gaps[batch] = append(gaps[batch], float64(b-a)/1e9)
			}
		}
	}
	var out []DecodeStep
	for batch := 1; batch <= 64; batch++ {
		g := gaps[batch]
		if len(g) >= 10 {
			out = append(out, DecodeStep{Batch: batch, Seconds: percentiles(g).P50, Gaps: len(g)})
		}
	}
	return out
}

// fitInterference picks the interference coefficient that makes replays
// of the together experiments (not held out) match their median TPOT and
// E2E best, by golden-section search on [0, 2]. The search's replays stay
// in memory; only the last, at the chosen interference before rounding,
// writes its scenarios and traces under work.
func (r *Run) fitInterference(ctx context.Context, cat *catalog.Catalog, p *perf.Profile, rep *FitReport, work string) error {
	var together []Experiment
	for _, e := range r.Experiments {
		if e.Kind == Together && !e.HeldOut && r.Measured[e.ID] != nil {
			together = append(together, e)
		}
	}
	if len(together) == 0 {
		rep.Notes = append(rep.Notes, "interference not fitted: no together experiments")
		return nil
	}
	sub := &Run{Dir: r.Dir, State: r.State, Plan: r.Plan, Experiments: together, Measured: r.Measured}
	no := false
	cost := func(x float64, opt ReplayOptions) (float64, error) {
		q := *p
		q.Interference = x
		cs, err := sub.Compare(ctx, cat, q, &no, opt)
		if err != nil {
			return 0, err
		}
		var s float64
		var n int
		for _, c := range cs {
			if c.Metric == "tpot_p50" || c.Metric == "e2e_p50" {
				d := math.Log(c.Predicted / c.Measured)
				s += d * d
				n++
			}
		}
		// A model with no simulated completion at all has no comparison:
		// count it as off by a factor e^3.
		want := 0
		for _, e := range together {
			want += 2 * len(e.Models)
		}
		s += 9 * float64(max(want-n, 0))
		return s / float64(max(want, 1)), nil
	}
	lo, hi := 0.0, 2.0
	g := (math.Sqrt(5) - 1) / 2
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, err := cost(a, ReplayOptions{})
	if err != nil {
		return err
	}
	fb, err := cost(b, ReplayOptions{})
	if err != nil {
		return err
	}
	for range 18 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			if fa, err = cost(a, ReplayOptions{}); err != nil {
				return err
			}
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			if fb, err = cost(b, ReplayOptions{}); err != nil {
				return err
			}
		}
	}
	x, fx := (lo+hi)/2, 0.0
	f0, err := cost(0, ReplayOptions{})
	if err != nil {
		return err
	}
	if fx, err = cost(x, ReplayOptions{Dir: work}); err != nil {
		return err
	}
	if f0 <= fx {
		x, fx = 0, f0
	}
	p.Interference = math.Round(x*1e4) / 1e4
	rep.InterferenceErr = fx
	return nil
}

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
