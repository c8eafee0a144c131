package sim

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sketch"
)

// TestStopWhenMissed: the seed pair on one DGX Spark at four times its
// load, with StopWhenMissed, stops early, its partial result already
// missing the SLO that the whole run misses too; at half its load (both
// SLOs met) it runs to the end byte-identical to a run without the
// option, and so does the overloaded run without tapes (no model can be
// certain).
func TestStopWhenMissed(t *testing.T) {
	scaled := func(k float64) *scenario.Scenario {
		sc := load(t, "../scenarios/seed-colocated.toml")
		for i := range sc.Models {
			sc.Models[i].Workload.Arrival.Rate *= k
		}
		return sc
	}
	over := scaled(4)
	tp := NewTapes(1 << 20)
	full := run(t, over, Options{Workers: 1, Tapes: tp})
	stopped := run(t, over, Options{Workers: 1, Tapes: tp, StopWhenMissed: true})
	if !stopped.Partial || stopped.DurationS >= full.DurationS || stopped.DurationS < over.Warmup.Seconds() {
		t.Fatalf("stopped at %g s (partial %v) of %g; want after warm-up, before the end", stopped.DurationS, stopped.Partial, full.DurationS)
	}
	missed := 0
	for i, m := range stopped.Models {
		if !m.SLOMet {
			missed++
			if full.Models[i].SLOMet {
				t.Errorf("%s: the stopped run misses the SLO the whole run meets", m.Model)
			}
		}
	}
	if missed == 0 {
		t.Fatal("the stopped run meets every SLO: nothing was certain")
	}
	t.Logf("stopped at %.1f s of %.0f, %d of %d events", stopped.DurationS, full.DurationS, stopped.Events, full.Events)

	met := scaled(0.5)
	whole := run(t, met, Options{Workers: 1})
	for _, m := range whole.Models {
		if !m.SLOMet {
			t.Fatalf("%s misses its SLO at half the load: the case tests nothing", m.Model)
		}
	}
	metStop := run(t, met, Options{Workers: 1, Tapes: NewTapes(1 << 20), StopWhenMissed: true})
	for _, res := range []*Result{metStop, run(t, over, Options{Workers: 1, StopWhenMissed: true})} { // the second drawn, not taped: never certain
		if res.Partial {
			t.Fatalf("%s stopped at %g s", res.Scenario, res.DurationS)
		}
	}
	if !bytes.Equal(jsonOf(t, metStop), jsonOf(t, whole)) {
		t.Fatal("a run that meets its SLOs differs with StopWhenMissed")
	}
}

func jsonOf(t *testing.T, res *Result) []byte {
	t.Helper()
	js, err := jsonfmt.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestStopIsSound: on overloaded runs under vLLM and SGLang (preemption,
// classes), disaggregated and on a shared pool, a run that stops early
// misses an SLO the whole run misses too, at every load tried.
func TestStopIsSound(t *testing.T) {
	stops := 0
	for _, path := range []string{"../bench/equiv/overload-vllm.toml", "../bench/equiv/overload-sglang.toml",
		"../bench/equiv/disagg-overload.toml", "../bench/equiv/dynamic-overload.toml", "../scenarios/seed-colocated.toml"} {
		for _, k := range []float64{0.8, 1, 1.5, 3} {
			sc := load(t, path)
			for i := range sc.Models {
				sc.Models[i].Workload.Arrival.Rate *= k
			}
			tp := NewTapes(1 << 20)
			full := run(t, sc, Options{Workers: 1, Tapes: tp})
			stopped := run(t, sc, Options{Workers: 1, Tapes: tp, StopWhenMissed: true})
			if !stopped.Partial {
				if !bytes.Equal(jsonOf(t, stopped), jsonOf(t, full)) {
					t.Errorf("%s at %gx: ran to the end but differs from the run without StopWhenMissed", path, k)
				}
				continue
			}
			stops++
			sound := false
			for i, m := range stopped.Models {
				if !m.SLOMet && !full.Models[i].SLOMet || m.Rejected > 0 && full.Models[i].Rejected > 0 {
					sound = true
				}
			}
			if !sound {
				t.Errorf("%s at %gx: stopped at %g s, but the whole run meets every SLO it was certain to miss", path, k, stopped.DurationS)
			}
		}
	}
	if stops < 8 {
		t.Fatalf("%d runs stopped: the test checks too little", stops)
	}
}

// TestQuantileMissCertainIsSound: whenever quantileMissCertain says the
// quantile stays above the limit after left more values, it does, even
// when all of them are as low as can be (and when some are not).
func TestQuantileMissCertainIsSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	certain := 0
	for trial := range 3000 {
		sk := sketch.New(SketchAlpha)
		n := 1 + rng.IntN(400)
		scale := math.Exp(rng.NormFloat64())
		for range n {
			sk.Add(scale * rng.ExpFloat64())
		}
		q := []float64{0.5, 0.9, 0.95, 0.99}[trial%4]
		limit := scale * rng.ExpFloat64()
		left := int64(rng.IntN(2 * n))
		if !quantileMissCertain(sk, q, limit, left) {
			continue
		}
		certain++
		if got := sk.Quantile(q); !(got > limit) {
			t.Fatalf("trial %d: certain with no more values, but p%g = %g <= %g", trial, 100*q, got, limit)
		}
		for k := range left {
			v := limit * 1e-3 // the worst case: every value low
			if trial%2 == 1 && k%3 == 0 {
				v = limit * 10
			}
			sk.Add(v)
			if got := sk.Quantile(q); !(got > limit) {
				t.Fatalf("trial %d: certain, but after %d more values p%g = %g <= %g", trial, k+1, 100*q, got, limit)
			}
		}
	}
	if certain < 100 {
		t.Fatalf("only %d of 3000 cases certain: the test checks too little", certain)
	}
}
