package calibrate

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
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
	cat = r.Plan.catalogOr(cat)
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
		inst, err := planInstance(cat, pm, r.Plan.Engine, kv)
		if err != nil {
			return perf.Profile{}, rep, err
		}
		sm, err := perf.NewStepModel(hw, inst, prior)
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

// planInstance is the step model's view of a plan's model. A release
// that quantizes only its experts (gpt-oss's MXFP4) keeps its other
// weights in their own format (catalog.Catalog.WeightFormats), as a
// scenario's instance of it does, so a fit prices the weights it reads.
func planInstance(cat *catalog.Catalog, pm PlanModel, engine string, kv catalog.KVType) (perf.Instance, error) {
	model, err := cat.Model(pm.Arch)
	if err != nil {
		return perf.Instance{}, err
	}
	dense, experts, err := cat.WeightFormats(model, pm.Format, engine)
	if err != nil {
		return perf.Instance{}, fmt.Errorf("model %s: %w", pm.Name, err)
	}
	return perf.Instance{Model: model, Weights: dense, Experts: experts, KV: kv}, nil
}
