package servefit

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// closedLoops are the published H100 vLLM closed loops of 1, 2 and 8
// clients: three experiments that simulate in milliseconds.
func closedLoops(t *testing.T) []Experiment {
	t.Helper()
	exps, _ := publishedVLLM(t)
	var out []Experiment
	for _, e := range exps {
		if strings.HasPrefix(e.Rows[0].ID, "h100-vllm-qwen3-8b-bf16-c") {
			out = append(out, e)
		}
	}
	if len(out) != 3 {
		t.Fatalf("%d closed-loop experiments, want 3", len(out))
	}
	return out
}

func cvStart() perf.Profile {
	p := perf.Prior("h100-sxm", "vllm")
	p.Serving = &perf.Serving{RequestS: 0.02, FrontendRPS: 50, StepS: 1e-3, StepPerSeqS: 1e-5}
	return p
}

func TestCrossValidateLeavesEachOut(t *testing.T) {
	ctx, cat := context.Background(), catalog.Default()
	exps := closedLoops(t)
	var calls []int
	cv, err := CrossValidate(ctx, cat, cvStart(), exps, 1, func(done, total int) {
		if total != len(exps) {
			t.Errorf("progress total %d, want %d", total, len(exps))
		}
		calls = append(calls, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(calls, []int{1, 2, 3}) {
		t.Errorf("progress %v, want 1, 2, 3", calls)
	}
	if cv.Experiments != 3 || len(cv.PerExperiment) != 3 {
		t.Fatalf("%d experiments, %d scored; want 3", cv.Experiments, len(cv.PerExperiment))
	}
	rows := 0
	for i, e := range cv.PerExperiment {
		if e.ID != exps[i].Rows[0].ID {
			t.Errorf("experiment %d is %s, want %s", i, e.ID, exps[i].Rows[0].ID)
		}
		rows += e.Rows
	}
	if rows != cv.Rows || len(cv.Results) != cv.Rows || cv.Rows == 0 {
		t.Errorf("%d rows, %d results, experiments' rows add to %d", cv.Rows, len(cv.Results), rows)
	}
	if !(cv.MedianAPE <= cv.MaxAPE) || cv.MaxRow == "" {
		t.Errorf("median %.1f%%, max %.1f%% (%q)", cv.MedianAPE, cv.MaxAPE, cv.MaxRow)
	}

	// The first experiment's score is a fit on the other two, scored on it.
	p, _, err := Fit(ctx, cat, cvStart(), exps[1:], 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Evaluate(ctx, cat, p, exps[:1])
	if err != nil {
		t.Fatal(err)
	}
	if s.MedianAPE != cv.PerExperiment[0].MedianAPE || s.Rows != cv.PerExperiment[0].Rows {
		t.Errorf("left out first: %d rows at %.3f%%; a fit on the others scores it %d rows at %.3f%%",
			cv.PerExperiment[0].Rows, cv.PerExperiment[0].MedianAPE, s.Rows, s.MedianAPE)
	}

	again, err := CrossValidate(ctx, cat, cvStart(), exps, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, cv) {
		t.Error("two cross-validations of the same experiments differ")
	}
}

func TestCrossValidateNeedsTwo(t *testing.T) {
	if _, err := CrossValidate(context.Background(), catalog.Default(), cvStart(), closedLoops(t)[:1], 1, nil); err == nil {
		t.Error("one experiment: want an error")
	}
}
