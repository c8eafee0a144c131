package planner

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// TestTrialsStopOnCertainMiss: searching the small plan, failing trials
// whose miss became certain stop early and say so, passing ones run their
// whole window, and the search settles every candidate as a search whose
// runs all go to the end does: the same feasibility, node counts and
// metrics for every group, and the same ranking.
func TestTrialsStopOnCertainMiss(t *testing.T) {
	p := load(t, "testdata/small.toml")
	stopping, got := searchAndFinish(t, p)

	whole := load(t, "testdata/small.toml")
	whole.Simulate = func(ctx context.Context, sc *scenario.Scenario, opt sim.Options) (*sim.Result, error) {
		opt.StopWhenMissed = false
		return sim.Run(ctx, sc, opt)
	}
	running, want := searchAndFinish(t, whole)

	stopped := 0
	for i, o := range stopping.Outcomes {
		w := running.Outcomes[i]
		if o.Feasible != w.Feasible || o.Reason != w.Reason {
			t.Errorf("#%d: feasible %v (%s), want %v (%s)", o.Index, o.Feasible, o.Reason, w.Feasible, w.Reason)
		}
		if o.Feasible && fmt.Sprint(*o.Metrics) != fmt.Sprint(*w.Metrics) {
			t.Errorf("#%d: metrics %+v, want %+v", o.Index, *o.Metrics, *w.Metrics)
		}
		for _, g := range o.Groups {
			for _, tr := range g.Trials {
				switch {
				case tr.OK && tr.StoppedS != 0:
					t.Errorf("#%d: a passing trial stopped at %g s", o.Index, tr.StoppedS)
				case tr.StoppedS != 0:
					stopped++
					if !strings.Contains(tr.Detail, fmt.Sprintf("(stopped at %.0f s of 1020, the miss certain)", tr.StoppedS)) {
						t.Errorf("#%d: a stopped trial's detail %q does not say where", o.Index, tr.Detail)
					}
				}
			}
		}
	}
	if stopped == 0 {
		t.Fatal("no trial stopped early: the test checks nothing")
	}
	if len(got.Ranked) != len(want.Ranked) {
		t.Fatalf("%d ranked, want %d", len(got.Ranked), len(want.Ranked))
	}
	for i := range got.Ranked {
		if got.Ranked[i].Index != want.Ranked[i].Index {
			t.Fatalf("rank %d is #%d, want #%d", i+1, got.Ranked[i].Index, want.Ranked[i].Index)
		}
	}
	t.Logf("%d failing trials stopped early", stopped)
}
