package planner

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// exhaustive simulates every group of every candidate at every node count
// from 1 to max_nodes.
func exhaustive(t *testing.T, p *Plan) map[string][]Trial {
	t.Helper()
	out := map[string][]Trial{}
	for _, c := range p.Candidates() {
		for _, g := range c.groups() {
			if _, ok := out[g.key()]; ok {
				continue
			}
			var ts []Trial
			for n := 1; n <= p.File.Search.MaxNodes; n++ {
				tr, m, err := p.trial(context.Background(), g, n, false)
				if err != nil {
					t.Fatal(err)
				}
				tr.Detail = fmt.Sprintf("%.6f", m.USDPerHour) // cost, for the check below
				ts = append(ts, tr)
			}
			out[g.key()] = ts
		}
	}
	return out
}

// The planner's winner is the cheapest configuration in the space: an
// exhaustive search over every node count of every group finds nothing
// cheaper, and finds the same smallest node counts.
func TestWinnerIsCheapestByExhaustiveSearch(t *testing.T) {
	p := load(t, "testdata/small.toml")
	_, r := searchAndFinish(t, p)
	if r.Winner == nil {
		t.Fatal("no winner")
	}
	all := exhaustive(t, p)
	cheapest, cheapestKey := math.Inf(1), ""
	for _, c := range p.Candidates() {
		total := 0.0
		for _, g := range c.groups() {
			best := math.Inf(1)
			for _, tr := range all[g.key()] {
				var usd float64
				fmt.Sscan(tr.Detail, &usd)
				if tr.OK && usd < best {
					best = usd
				}
			}
			total += best
		}
		if total < cheapest-1e-9 {
			cheapest, cheapestKey = total, c.Key()
		}
	}
	if got := r.Winner.Metrics.USDPerHour; math.Abs(got-cheapest) > 1e-4*cheapest {
		t.Errorf("planner's winner %s costs $%.4f/h; exhaustive search finds %s at $%.4f/h", r.Winner.Key, got, cheapestKey, cheapest)
	}
	// Every ranked configuration's node counts are the smallest that pass.
	for _, o := range r.Ranked {
		for i, g := range o.groups() {
			first := 0
			for _, tr := range all[g.key()] {
				if tr.OK {
					first = tr.Nodes
					break
				}
			}
			if got := o.Groups[i].Metrics.Nodes; got != first {
				t.Errorf("#%d group %v: planner found %d nodes, the smallest passing count is %d", o.Index, g.Models, got, first)
			}
		}
	}
}

// The winner meets every target again on seeds the search never used,
// and the bounds it pruned with hold for every configuration simulated.
func TestWinnerVerifiesAndBoundsHold(t *testing.T) {
	p := load(t, "testdata/small.toml")
	s, r := searchAndFinish(t, p)
	if r.Verify == nil || len(r.Verify.Runs) != p.File.VerifySeeds {
		t.Fatalf("verification: %+v", r.Verify)
	}
	for _, run := range r.Verify.Runs {
		if run.Seed < p.File.Seed+uint64(p.File.Replicas) {
			t.Errorf("verification seed %d was used by the search", run.Seed)
		}
		if !run.Met {
			t.Errorf("winner misses a target on fresh seed %d: %s", run.Seed, run.Detail)
		}
		if run.Metrics.Nodes != r.Winner.Metrics.Nodes {
			t.Errorf("verification ran %d nodes, the winner has %d", run.Metrics.Nodes, r.Winner.Metrics.Nodes)
		}
	}
	if d := r.Verify.Day; d == nil || len(d.Util) == 0 || len(d.PowerW) != len(d.Util) {
		t.Errorf("no day series for the winner: %+v", d)
	}
	for _, o := range s.Outcomes {
		for _, g := range o.Groups {
			if g.Metrics == nil {
				continue
			}
			if g.Metrics.Nodes < g.Bounds.MinNodes || g.Metrics.USDPerHour < g.Bounds.USDPerHour || g.Metrics.WorstTPOTP95 < g.Bounds.TPOTS {
				t.Errorf("#%d %v: measured %d nodes $%.4f/h TPOT %.4f s beats its bound %+v", o.Index, g.Models,
					g.Metrics.Nodes, g.Metrics.USDPerHour, g.Metrics.WorstTPOTP95, g.Bounds)
			}
		}
	}
	if r.Reasons[ReasonDominated] == 0 {
		t.Error("bf16 candidates can be neither cheaper nor faster than the q4_k_m winner, yet none was dominated")
	}
	pareto := map[int]bool{}
	for _, i := range r.Pareto {
		pareto[i] = true
	}
	for _, a := range r.Ranked {
		for _, b := range r.Ranked {
			if pareto[a.Index] && b.Metrics.USDPerHour <= a.Metrics.USDPerHour && b.Metrics.WorstTPOTP95 < a.Metrics.WorstTPOTP95 {
				t.Errorf("#%d is on the front but #%d is as cheap and faster", a.Index, b.Index)
			}
		}
	}
}

// Finish simulates each fresh seed of each configuration it verifies once:
// the winner's seed runs are the ones that picked it, kept for its record,
// and only its day comes on top, which the search began already when the
// rest of the space could not cost less (earlyday.go). The day's result
// is the same either way: TestShardsMergeEqualOneRun finishes one run
// (an early day) and merged shards (none) to the same bytes.
func TestFinishSimulatesEachSeedOnce(t *testing.T) {
	p := load(t, "testdata/small.toml")
	s, err := p.Search(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	p.Simulate = func(ctx context.Context, sc *scenario.Scenario, opt sim.Options) (*sim.Result, error) {
		runs++
		return sim.Run(ctx, sc, opt)
	}
	r, err := p.Finish(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Winner == nil || !r.Verify.Met || r.Verify.Day == nil {
		t.Fatalf("want a verified winner and its day, got %+v", r.Winner)
	}
	if s.early == nil || s.early.index != r.Winner.Index {
		t.Fatalf("the search did not begin the winner #%d's day (%+v)", r.Winner.Index, s.early)
	}
	seeds := p.File.VerifySeeds
	if want := (len(r.Unverified) + 1) * seeds; runs != want {
		t.Errorf("%d runs for %d unverified and the winner at %d seeds each (its day begun by the search), want %d", runs, len(r.Unverified), seeds, want)
	}
	if len(r.Verify.Runs) != seeds {
		t.Errorf("the winner's record holds %d seed runs, want %d", len(r.Verify.Runs), seeds)
	}
}
