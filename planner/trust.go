package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// checkOutcomes refuses outcomes that this plan could not have produced: a
// shard file is read from disk and may be truncated, hand-edited or of
// another plan, and Finish would otherwise dereference what is missing.
func (p *Plan) checkOutcomes(s *Shard) error {
	if s.PlanSHA256 != p.sha() {
		return fmt.Errorf("plan %s: the outcomes are of another plan (sha256 %.12s, not %.12s)", p.Name, s.PlanSHA256, p.sha())
	}
	all := p.Candidates()
	if s.Candidates != len(all) || len(s.Outcomes) != len(all) {
		return fmt.Errorf("plan %s: %d outcomes of %d candidates, but the plan has %d", p.Name, len(s.Outcomes), s.Candidates, len(all))
	}
	for i, o := range s.Outcomes {
		want, err1 := json.Marshal(all[i])
		got, err2 := json.Marshal(o.Candidate)
		if err1 != nil || err2 != nil || !bytes.Equal(want, got) {
			return fmt.Errorf("plan %s: outcome %d is not the plan's candidate %d", p.Name, i, i)
		}
		if o.Feasible && (o.Metrics == nil || !o.Evaluated || len(o.Groups) == 0) {
			return fmt.Errorf("plan %s: outcome %d is feasible but has no simulated metrics", p.Name, i)
		}
		for gi, g := range o.Groups {
			if o.Feasible && g.Metrics == nil {
				return fmt.Errorf("plan %s: outcome %d is feasible but its group %d has no metrics", p.Name, i, gi)
			}
		}
	}
	return nil
}
