package verdict

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/fleettwin/fleettwin/sim"
	"github.com/fleettwin/fleettwin/twin"
)

// Tally is one question's answers over replicas: how many passed, and
// for those that failed, how often each metric was the reason.
type Tally struct {
	Question string         `json:"question"`
	Subject  string         `json:"subject,omitempty"`
	Passed   int            `json:"passed"`
	Runs     int            `json:"runs"`
	Reasons  map[string]int `json:"reasons,omitempty"` // failing metric → replicas
}

// String says the tally: "qwen3-14b latency: 3 of 10 replicas pass
// (TTFT p95 misses on 7)".
func (t Tally) String() string {
	who := t.Question
	if t.Subject != "" {
		who = t.Subject + " " + t.Question
	}
	s := fmt.Sprintf("%s: %d of %d replicas pass", who, t.Passed, t.Runs)
	if len(t.Reasons) > 0 {
		keys := make([]string, 0, len(t.Reasons))
		for k := range t.Reasons {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if t.Reasons[keys[i]] != t.Reasons[keys[j]] {
				return t.Reasons[keys[i]] > t.Reasons[keys[j]]
			}
			return keys[i] < keys[j]
		})
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s on %d", k, t.Reasons[k])
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// Replicas judges each replica of a scenario (sim.RunReplicas) alone
// and counts, per question, the replicas that pass: one seed's verdict is
// one draw. Cost is left out: replicas have no baseline.
func Replicas(runs []*sim.Result, slos []SLO, opt Options) []Tally {
	var out []Tally
	idx := map[string]int{}
	for _, r := range runs {
		v := Of(Run{Sim: &twin.Simulation{Result: r}, SLOs: slos}, Options{Utilization: opt.Utilization, UtilizationSource: opt.UtilizationSource})
		for _, a := range v.Answers {
			if a.Status == Unknown || a.Question == Cost {
				continue
			}
			k := a.Question + "/" + a.Subject
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, Tally{Question: a.Question, Subject: a.Subject})
			}
			t := &out[i]
			t.Runs++
			switch {
			case a.Status == Pass:
				t.Passed++
			case a.Metric != "":
				if t.Reasons == nil {
					t.Reasons = map[string]int{}
				}
				what := a.Metric + " misses"
				if a.Question == Throttling {
					what = "throttled"
				}
				t.Reasons[what]++
			}
		}
	}
	return out
}

// WriteReplicas writes the tallies as `simulate --replicas` prints them.
func WriteReplicas(w io.Writer, ts []Tally) error {
	if _, err := fmt.Fprintln(w, "verdict over the replicas (each judged alone):"); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := fmt.Fprintf(w, "  %s\n", t); err != nil {
			return err
		}
	}
	return nil
}
