// Package verdict answers the questions a claim about a fleet asks of a
// simulated run: is latency within each model's SLO (and if not, which
// metric misses, by how much), is utilization above a target, did any
// device throttle, and what does the fleet save against a baseline. Each
// answer is a plain sentence with its number, its target and the reason
// when it fails, so the CLI, the report and the dashboard say the same
// thing. It is pure: it reads results, it runs nothing.
package verdict

import (
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/twin"
)

// Status is how an answer comes out.
type Status string

// The statuses. Caveat is an answer that holds only with a condition the
// text states: a fleet that is cheaper but misses an SLO its baseline
// meets.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Caveat  Status = "caveat"
	Unknown Status = "unknown" // nothing to answer from (no SLO recorded, no baseline, no cost)
)

// The questions, as Answer.Question names them.
const (
	Latency     = "latency"
	Utilization = "utilization"
	Throttling  = "throttling"
	Cost        = "cost"
)

// DefaultUtilization is the utilization target when none is given: the
// seed claim's ">70% GPU utilization" (scenarios/README.md).
const DefaultUtilization = 0.70

// DefaultUtilizationSource says where DefaultUtilization comes from.
const DefaultUtilizationSource = "the seed claim's >70%"

// Answer is one question's answer.
type Answer struct {
	Question string `json:"question"`          // Latency, Utilization, Throttling or Cost
	Subject  string `json:"subject,omitempty"` // the model a latency answer is about
	Status   Status `json:"status"`
	// Text is the answer in one sentence, with the number, the target and
	// the reason when it fails: "qwen3-14b misses TTFT p95 3.58 s > 3 s".
	Text string `json:"text"`
	// Short is the answer as the summary line gives it: the failing
	// figures alone, or the saving.
	Short string `json:"short"`
	// Metric, Value and Target are the figure the status rests on (the
	// first failing one; else the closest to its target): "TTFT p95",
	// 3.58, 3. Saving answers give the saving in percent and no target.
	Metric string  `json:"metric,omitempty"`
	Value  float64 `json:"value"`
	Target float64 `json:"target"`
}

// Verdict is every answer for one run, with a one-line summary.
type Verdict struct {
	Scenario string   `json:"scenario"`
	Baseline string   `json:"baseline,omitempty"`
	Holds    bool     `json:"holds"` // every answer passes (unknown ones aside)
	Summary  string   `json:"summary"`
	Answers  []Answer `json:"answers"`
}

// SLO is one served model's targets, with the scenario's defaults applied.
// A zero latency target is no target.
type SLO struct {
	Model      string  `json:"model"`
	TTFTS      float64 `json:"ttft_s,omitempty"`
	TPOTS      float64 `json:"tpot_s,omitempty"`
	E2ES       float64 `json:"e2e_s,omitempty"`
	Percentile float64 `json:"percentile"`
	Attainment float64 `json:"attainment"`
}

// SLOs returns the SLO of each model of a resolved scenario: the results
// carry whether an SLO was met, not its targets.
func SLOs(sc *scenario.Scenario) []SLO {
	out := make([]SLO, 0, len(sc.Models))
	for _, m := range sc.Models {
		out = append(out, SLO{Model: m.Name, TTFTS: m.SLO.TTFTS, TPOTS: m.SLO.TPOTS, E2ES: m.SLO.E2ES,
			Percentile: m.SLO.Percentile, Attainment: m.SLO.Attainment})
	}
	return out
}

// Run is a simulated run and the SLOs its scenario set.
type Run struct {
	Sim  *twin.Simulation
	SLOs []SLO
}

// Options are the targets and the baseline a verdict is judged against.
type Options struct {
	// Utilization is the target share of time busy; 0 is
	// DefaultUtilization. UtilizationSource says where it comes from
	// (empty: DefaultUtilizationSource, or "given" for another target).
	Utilization       float64
	UtilizationSource string
	// Baseline, if set, is the run the cost is compared with.
	Baseline *Run
}

// Of answers every question for run.
func Of(run Run, opt Options) Verdict {
	v := Verdict{}
	if run.Sim == nil || run.Sim.Result == nil {
		v.Summary = "no result to judge"
		return v
	}
	v.Scenario = run.Sim.Scenario
	v.Answers = append(v.Answers, latency(run)...)
	v.Answers = append(v.Answers, utilization(run.Sim, opt), throttling(run.Sim))
	if opt.Baseline != nil && opt.Baseline.Sim != nil && opt.Baseline.Sim.Result != nil {
		v.Baseline = opt.Baseline.Sim.Scenario
		v.Answers = append(v.Answers, cost(run, *opt.Baseline))
	} else {
		v.Answers = append(v.Answers, noBaseline(run.Sim))
	}
	for i := range v.Answers {
		if v.Answers[i].Short == "" {
			v.Answers[i].Short = v.Answers[i].Text
		}
	}
	v.Holds, v.Summary = summarize(v.Answers)
	if run.Sim.Partial {
		// A stopped run's figures cover only the time it ran.
		v.Holds = false
		v.Summary = fmt.Sprintf("partial run (stopped after %s simulated seconds): %s", Thousands(fmt.Sprintf("%.0f", run.Sim.DurationS)), v.Summary)
	}
	return v
}

// summarize says which questions pass and which do not, naming the
// reason of each that does not.
func summarize(as []Answer) (bool, string) {
	var pass, other, notOn []string
	holds := true
	seen := map[string]bool{}
	saving := ""
	for _, a := range as {
		switch {
		case a.Status == Unknown:
		case a.Status != Pass:
			holds = false
			other = append(other, a.Short)
			if !seen[a.Question] {
				notOn = append(notOn, a.Question)
			}
			seen[a.Question] = true
		case a.Question == Cost:
			saving = ": " + a.Short
		}
	}
	for _, a := range as {
		if a.Status == Pass && !seen[a.Question] {
			seen[a.Question] = true
			pass = append(pass, a.Question)
		}
	}
	switch {
	case len(pass) == 0 && len(other) == 0:
		return false, "nothing to judge"
	case holds:
		return true, "holds on " + list(pass) + saving
	case len(pass) == 0:
		return false, "does not hold on " + list(notOn) + ": " + strings.Join(other, "; ")
	}
	return false, "holds on " + list(pass) + saving + "; not on " + list(notOn) + ": " + strings.Join(other, "; ")
}

// list joins words as prose: "a", "a and b", "a, b and c".
func list(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
