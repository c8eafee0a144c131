package servefit

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

// The shipped H100 vLLM profile against the published rows: a lone
// request's TTFT, a burst of short prompts and closed loops of 1-8 clients
// each land within 15%.

func publishedVLLM(t *testing.T) ([]Experiment, perf.Profile) {
	t.Helper()
	f, err := os.Open("../testdata/published/published-serving.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := measure.Read("published-serving.csv", f)
	if err != nil {
		t.Fatal(err)
	}
	set, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("h100-sxm", "vllm")
	if err != nil {
		t.Fatal(err)
	}
	fit, held, _ := Split(rows, "h100-sxm", "vllm")
	return append(fit, held...), p
}

func checkWithin(t *testing.T, exps []Experiment, p perf.Profile, idPrefix string, metrics []measure.Metric, tol float64) {
	t.Helper()
	n := 0
	for _, e := range exps {
		if !strings.HasPrefix(e.Rows[0].ID, idPrefix) {
			continue
		}
		set := perf.ProfileSet{}
		set.Add(p)
		res, err := validate.Reproduce(context.Background(), validate.Env{Catalog: catalog.Default(), Profiles: set}, e.Rows)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("%s: %v", r.ID, r.Err)
			}
			for _, want := range metrics {
				if r.Metric != want {
					continue
				}
				n++
				if got := r.Predicted; got < r.Value*(1-tol) || got > r.Value*(1+tol) {
					t.Errorf("%s: twin %.4g, published %.4g (%+.1f%%)", r.ID, got, r.Value, 100*(got-r.Value)/r.Value)
				}
			}
		}
	}
	if n == 0 {
		t.Fatalf("no rows %s* with %v", idPrefix, metrics)
	}
}

func TestLoneRequestTTFT(t *testing.T) {
	exps, p := publishedVLLM(t)
	checkWithin(t, exps, p, "h100-vllm-qwen3-8b-bf16-c1-", []measure.Metric{measure.TTFTMean}, 0.15)
}

func TestBurstOfShortPrompts(t *testing.T) {
	exps, p := publishedVLLM(t)
	checkWithin(t, exps, p, "h100-vllm-qwen3-32b-bf16-rand128-", []measure.Metric{measure.OutputTPSAggregate, measure.RequestRPS}, 0.15)
}

func TestClosedLoop1To8Clients(t *testing.T) {
	exps, p := publishedVLLM(t)
	for _, c := range []string{"c1", "c2", "c8"} {
		checkWithin(t, exps, p, "h100-vllm-qwen3-8b-bf16-"+c+"-", []measure.Metric{measure.TTFTMean, measure.TPOTMean, measure.OutputTPSAggregate, measure.E2EMean}, 0.15)
	}
}

func TestHeldOutEveryThird(t *testing.T) {
	for i, want := range []bool{false, false, true, false, false, true} {
		if HeldOut(i) != want {
			t.Errorf("HeldOut(%d) = %v", i, !want)
		}
	}
}
