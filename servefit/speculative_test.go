package servefit

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/validate"
)

func publishedRows(t *testing.T) []measure.Row {
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
	return rows
}

// TestSplitSpeculative: the 88 SGLang EAGLE3 rows on the H100 are 13
// experiments (two runs share one's conditions); every third is held out,
// and the serving fit uses none of them.
func TestSplitSpeculative(t *testing.T) {
	rows := publishedRows(t)
	fitted, held, skipped := SplitSpeculative(rows, "h100-sxm", "sglang")
	if len(fitted) != 9 || len(held) != 4 || len(skipped) != 0 {
		t.Fatalf("%d fitted, %d held out, skipped %v", len(fitted), len(held), skipped)
	}
	n := 0
	for _, e := range append(fitted, held...) {
		n += len(e.Rows)
	}
	if n != 88 {
		t.Errorf("%d rows, want 88", n)
	}
	f, h, _ := Split(rows, "h100-sxm", "sglang")
	for _, e := range append(f, h...) {
		if IsSpeculative(&e.Rows[0]) {
			t.Errorf("fit-serving uses %s", e.Rows[0].ID)
		}
	}
}

// TestFitSpeculativeRecovers: rows the twin itself produced with known
// coefficients (head_cost 8 layers, round_s 3 ms) are fitted back to them.
func TestFitSpeculativeRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("a fit with the simulator in the loop")
	}
	cat := catalog.Default()
	set, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("h100-sxm", "sglang")
	if err != nil {
		t.Fatal(err)
	}
	fitted, _, _ := SplitSpeculative(publishedRows(t), "h100-sxm", "sglang")
	truth := p
	truth.Speculative = &perf.SpeculativeCoefficients{HeadCost: 8, RoundS: 0.003}
	ts := perf.ProfileSet{}
	ts.Add(truth)
	var synth []Experiment
	for _, e := range fitted {
		res, err := validate.Reproduce(context.Background(), validate.Env{Catalog: cat, Profiles: ts}, e.Rows)
		if err != nil {
			t.Fatal(err)
		}
		var x Experiment
		for _, r := range res {
			row := r.Row
			row.Value = r.Predicted
			x.Rows = append(x.Rows, row)
		}
		synth = append(synth, x)
	}
	f, err := FitSpeculative(context.Background(), cat, p, synth, 20)
	if err != nil {
		t.Fatal(err)
	}
	got := f.Profile.Speculative
	t.Logf("head_cost %.4g ± %.2g, round_s %.4g ± %.2g; median %.2f%%", got.HeadCost, f.HeadCostStdErr, got.RoundS, f.RoundSStdErr, f.Score.MedianAPE)
	if math.Abs(got.HeadCost-8)/8 > 0.02 || math.Abs(got.RoundS-0.003)/0.003 > 0.02 {
		t.Errorf("fitted head_cost %v, round_s %v; want 8 and 0.003 within 2%%", got.HeadCost, got.RoundS)
	}
}
