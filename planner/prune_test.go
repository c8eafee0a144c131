package planner

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"testing"
)

// prune skips a candidate exactly when a feasible one is at least as cheap
// and as fast as the candidate's bounds allow it to be (ties to the lower
// index), or when its cost bound is above max_cost_ratio times the
// cheapest feasible one; never otherwise.
func TestPruneRules(t *testing.T) {
	feasible := func(index int, usd, tpot float64) *Outcome {
		return &Outcome{Candidate: Candidate{Index: index}, Key: fmt.Sprint("f", index), Evaluated: true, Feasible: true,
			Metrics: &Metrics{USDPerHour: usd, WorstTPOTP95: tpot}}
	}
	cand := func(index int, usd, tpot float64) *Outcome {
		return &Outcome{Candidate: Candidate{Index: index}, Bounds: Bounds{USDPerHour: usd, TPOTS: tpot}}
	}
	for _, tc := range []struct {
		name     string
		ratio    float64
		c        *Outcome
		feasible []*Outcome
		reason   string
		by       int // the dominator's or cheapest's index
	}{
		{"none feasible", 3, cand(5, 1, 0.01), nil, "", 0},
		{"cheaper and faster", 0, cand(5, 2, 0.02), []*Outcome{feasible(1, 1, 0.01)}, ReasonDominated, 1},
		{"as cheap, faster", 0, cand(5, 1, 0.02), []*Outcome{feasible(7, 1, 0.01)}, ReasonDominated, 7},
		{"cheaper, as fast", 0, cand(5, 2, 0.01), []*Outcome{feasible(7, 1, 0.01)}, ReasonDominated, 7},
		{"equal, lower index", 0, cand(5, 1, 0.01), []*Outcome{feasible(4, 1, 0.01)}, ReasonDominated, 4},
		{"equal, higher index", 0, cand(5, 1, 0.01), []*Outcome{feasible(6, 1, 0.01)}, "", 0},
		{"itself", 0, cand(5, 1, 0.01), []*Outcome{feasible(5, 0.5, 0.005)}, "", 0},
		{"cheaper but slower", 0, cand(5, 2, 0.01), []*Outcome{feasible(1, 1, 0.011)}, "", 0},
		{"faster but dearer", 0, cand(5, 1, 0.02), []*Outcome{feasible(1, 1.01, 0.01)}, "", 0},
		{"no metrics", 0, cand(5, 2, 0.02), []*Outcome{{Candidate: Candidate{Index: 1}, Feasible: true}}, "", 0},
		{"cheapest dominator", 0, cand(9, 5, 0.05), []*Outcome{feasible(3, 4, 0.01), feasible(2, 3, 0.04), feasible(1, 3, 0.06)}, ReasonDominated, 2},
		{"costly", 3, cand(5, 3.01, 0.001), []*Outcome{feasible(1, 1, 0.01)}, ReasonCostly, 1},
		{"at the ratio", 3, cand(5, 3, 0.001), []*Outcome{feasible(1, 1, 0.01)}, "", 0},
		{"ratio off", 0, cand(5, 1000, 0.001), []*Outcome{feasible(1, 1, 0.01)}, "", 0},
		{"costly before dominated", 2, cand(5, 10, 0.05), []*Outcome{feasible(1, 1, 0.01)}, ReasonCostly, 1},
		{"cheapest is not itself", 2, cand(5, 10, 0.001), []*Outcome{feasible(5, 1, 0.01), feasible(2, 4, 0.01)}, ReasonCostly, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{File: File{MaxCostRatio: &tc.ratio}}
			reason, detail := p.prune(tc.c, tc.feasible)
			if reason != tc.reason {
				t.Fatalf("prune: %q (%s), want %q", reason, detail, tc.reason)
			}
			if want := fmt.Sprintf("#%d", tc.by); reason != "" && !regexp.MustCompile(want+`\b`).MatchString(detail) {
				t.Errorf("detail %q does not name %s", detail, want)
			}
		})
	}
}

// Search prunes, between waves, the candidates that an earlier wave's
// feasible outcome dominates, and never simulates them; it prunes none
// that it should not: each pruned candidate, searched anyway, costs at
// least as much and is at least as slow as what pruned it.
func TestSearchPrunesDominated(t *testing.T) {
	// 24 candidates of equal cost bounds, in index order: q4_k_m (0-7)
	// and q8_0 (8-15) make the first wave, bf16 (16-23) the second.
	src := harnessPlan(0.1, 4, 1, `"q4_k_m", "q8_0", "bf16"`, "1, 2, 3, 4, 5, 6, 7, 8")
	second := []int{16, 17, 18, 19, 20, 21, 22, 23}
	for _, tc := range []struct {
		name string
		// tpot: every configuration meets the target at its bound, its
		// TPOT a fake function of its bounds.
		tpot   func(key string, nodes int, b Bounds) float64
		pruned []int
	}{
		{"just above each bound", func(_ string, _ int, b Bounds) float64 { return 1.01 * b.TPOTS }, second},
		{"well above every bound", func(string, int, Bounds) float64 { return 0.4 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, src, tc.tpot)
			p := h.plan
			if n := len(p.Candidates()); n != 24 {
				t.Fatalf("%d candidates, want 24", n)
			}
			s, err := p.Search(context.Background(), Options{Workers: 4})
			if err != nil {
				t.Fatal(err)
			}
			var pruned []int
			var feasible []*Outcome
			for i := range s.Outcomes {
				if o := &s.Outcomes[i]; o.Feasible {
					feasible = append(feasible, o)
				}
			}
			for i := range s.Outcomes {
				o := &s.Outcomes[i]
				if o.Evaluated {
					continue
				}
				if o.Reason != ReasonDominated {
					t.Errorf("#%d not evaluated: %s: %s", o.Index, o.Reason, o.Detail)
					continue
				}
				pruned = append(pruned, o.Index)
				g := o.groups()[0]
				if calls := h.calls[g.key()]; len(calls) > 0 {
					t.Errorf("#%d was pruned but simulated at %v nodes", o.Index, calls)
				}
				by := dominator(o, feasible)
				if by == nil {
					t.Errorf("#%d pruned, but no feasible outcome dominates it", o.Index)
					continue
				}
				// Never wrongly: search the pruned group anyway.
				out, _, err := p.searchGroup(context.Background(), g)
				if err != nil {
					t.Fatal(err)
				}
				if out.Feasible && (out.Metrics.USDPerHour < by.Metrics.USDPerHour || out.Metrics.WorstTPOTP95 < by.Metrics.WorstTPOTP95) {
					t.Errorf("#%d pruned by #%d ($%g/h, %g s), but costs $%g/h at %g s", o.Index, by.Index,
						by.Metrics.USDPerHour, by.Metrics.WorstTPOTP95, out.Metrics.USDPerHour, out.Metrics.WorstTPOTP95)
				}
			}
			if !slices.Equal(pruned, tc.pruned) {
				t.Errorf("pruned %v, want %v", pruned, tc.pruned)
			}
		})
	}
}
