package validate

import (
	"context"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
)

// TestRowSpec: SGLang's EAGLE3 flags as the published rows write them,
// mapped onto the [speculative] table and the tokens verified per round.
func TestRowSpec(t *testing.T) {
	for _, tc := range []struct {
		settings            string
		method              string
		steps, topk, verify int
	}{
		{"speculative=eagle3;spec_draft_model=Tengyunw/qwen3_8b_eagle3;spec_num_steps=4;spec_eagle_topk=4;spec_num_draft_tokens=16", perf.SpecEagle, 4, 4, 16},
		// topk 1: SGLang sets num_draft_tokens to num_steps + 1, a chain.
		{"speculative=eagle3;spec_num_steps=2;spec_eagle_topk=1;spec_num_draft_tokens=4", perf.SpecEagle, 2, 1, 3},
		// None set: SGLang's auto_choose_speculative_params for Qwen3.
		{"speculative=eagle3;spec_draft_model=Tengyunw/qwen3_8b_eagle3", perf.SpecEagle, 5, 4, 8},
		{"speculative=EAGLE;spec_num_steps=3;spec_eagle_topk=1;spec_num_draft_tokens=4", perf.SpecEagle, 3, 1, 4},
		{"speculative=nextn;spec_num_steps=1;spec_eagle_topk=1;spec_num_draft_tokens=2", perf.SpecMTP, 1, 1, 2},
	} {
		r := rows(t, "a,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,"+tc.settings+",tpot_ms_mean,3,ms,s,")[0]
		k, err := rowKnobs(&r)
		if err != nil {
			t.Fatalf("%s: %v", tc.settings, err)
		}
		s := k.spec
		if s == nil || s.method != tc.method || s.steps != tc.steps || s.topk != tc.topk || s.verify() != tc.verify {
			t.Errorf("%s: %+v (verify %d), want %s %d/%d verifying %d", tc.settings, s, s.verify(), tc.method, tc.steps, tc.topk, tc.verify)
		}
	}
	r := rows(t, "a,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,,tpot_ms_mean,3,ms,s,")[0]
	if k, err := rowKnobs(&r); err != nil || k.spec != nil {
		t.Errorf("no speculative settings: %+v, %v", k.spec, err)
	}
}

// TestAcceptedLength: a run's accepted tokens per round are its mean ITL
// over its mean TPOT, averaged over the runs of one experiment.
func TestAcceptedLength(t *testing.T) {
	rs := rows(t,
		"a-tpot,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,speculative=eagle3,tpot_ms_mean,4,ms,s,",
		"a-itl,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,speculative=eagle3,itl_ms_mean,10,ms,s,",
		"b-tpot,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,speculative=eagle3,tpot_ms_mean,2,ms,s,",
		"b-itl,h100-sxm,sglang,qwen3-8b,fp8,,,closed-loop,4,10,,100,100,,0,speculative=eagle3,itl_ms_mean,8,ms,s,")
	if got := acceptedLength(rs, []int{0, 1}); got != 2.5 {
		t.Errorf("one run: %v, want 2.5", got)
	}
	if got := acceptedLength(rs, []int{0, 1, 2, 3}); got != 3 {
		t.Errorf("two runs: %v, want 9 / 3 = 3", got)
	}
	if got := acceptedLength(rs, []int{0}); got != 0 {
		t.Errorf("no ITL: %v, want 0", got)
	}
}

// TestEAGLE3RowsRun: every published SGLang EAGLE3 row on the H100 runs
// with the shipped profile (its [speculative] table fitted on two thirds
// of them), the twin's ITL is per streamed chunk (its ITL over its TPOT is
// the run's accepted length), and the rows the round's cost sets (TPOT,
// ITL, E2E, throughput) are within 12% at the median, 20% at most.
func TestEAGLE3RowsRun(t *testing.T) {
	f, err := os.Open("../testdata/published/published-serving.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := measure.Read("published-serving.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	var rs []measure.Row
	for _, r := range all {
		if _, ok := r.Settings.Get("speculative"); ok {
			rs = append(rs, r)
		}
	}
	if len(rs) != 88 {
		t.Fatalf("%d EAGLE3 rows, want the 88 of issue 15", len(rs))
	}
	res, err := Reproduce(context.Background(), env(t), rs)
	if err != nil {
		t.Fatal(err)
	}
	cost := []measure.Metric{measure.TPOTMean, measure.ITLMean, measure.E2EMean, measure.OutputTPSAggregate, measure.RequestRPS}
	var apes []float64
	type ratio struct{ twinITL, twinTPOT, itl, tpot, n, m float64 }
	exps := map[measure.Experiment]*ratio{}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("%s not run: %v", r.ID, r.Err)
		}
		if slices.Contains(cost, r.Metric) {
			apes = append(apes, r.APE())
		}
		e := exps[r.Experiment()]
		if e == nil {
			e = &ratio{}
			exps[r.Experiment()] = e
		}
		switch r.Metric {
		case measure.ITLMean:
			e.twinITL, e.itl, e.n = r.Predicted, e.itl+r.Value, e.n+1
		case measure.TPOTMean:
			e.twinTPOT, e.tpot, e.m = r.Predicted, e.tpot+r.Value, e.m+1
		}
	}
	slices.Sort(apes)
	med, worst := apes[len(apes)/2], apes[len(apes)-1]
	t.Logf("%d rows of TPOT, ITL, E2E and throughput: median APE %.1f%%, max %.1f%%", len(apes), med, worst)
	if med > 12 || worst > 20 {
		t.Errorf("median %.1f%%, max %.1f%%: want at most 12%% and 20%%", med, worst)
	}
	for x, e := range exps {
		twin, published := e.twinITL/e.twinTPOT, (e.itl/e.n)/(e.tpot/e.m)
		if math.Abs(twin-published)/published > 0.03 {
			t.Errorf("%+v: twin ITL/TPOT %.3f, published %.3f", x, twin, published)
		}
	}
}
