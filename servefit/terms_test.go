package servefit

import (
	"testing"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
)

// TestFP8TermApplies: fp8_compute_rel is searched only where the
// experiments run FP8 weights and another format, so the split between it
// and the base efficiencies is set by data rather than by the search.
func TestFP8TermApplies(t *testing.T) {
	cat := catalog.Default()
	rows := func(quants ...string) []measure.Row {
		var out []measure.Row
		for _, q := range quants {
			out = append(out, measure.Row{Quant: q})
		}
		return out
	}
	tests := []struct {
		quants []string
		want   bool
	}{
		{[]string{"bf16", "fp8"}, true},
		{[]string{"fp8", "fp8"}, false},
		{[]string{"bf16", "bf16"}, false},
		{[]string{"bf16", "no-such-format"}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := hasFP8Weights(cat, rows(tt.quants...)); got != tt.want {
			t.Errorf("hasFP8Weights(%v) = %v, want %v", tt.quants, got, tt.want)
		}
	}
	var term *Term
	for i := range Terms {
		if Terms[i].Name == "fp8_compute_rel" {
			term = &Terms[i]
		}
	}
	if term == nil || term.applies == nil {
		t.Fatal("Terms has no fp8_compute_rel with an applies rule")
	}
	if !stepTerm(term.Name) || stepTerm("step_per_seq_s") {
		t.Error("stepTerm: fp8_compute_rel must go back to its prior on a bound, step_per_seq_s not")
	}
}
