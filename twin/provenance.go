package twin

import (
	"strings"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// Profiles returns the provenance of each profile the scenario's nodes use,
// one per (hardware, engine) pair, in the order the nodes first use them.
func Profiles(sc *scenario.Scenario) []perf.ProvenanceInfo {
	var out []perf.ProvenanceInfo
	seen := map[string]bool{}
	for _, n := range sc.Nodes {
		key := n.Profile.Hardware + "/" + n.Profile.Engine
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, n.Profile.Info())
	}
	return out
}

// Priors returns the profiles among infos that rest on a prior.
func Priors(infos []perf.ProvenanceInfo) []perf.ProvenanceInfo {
	var out []perf.ProvenanceInfo
	for _, p := range infos {
		if p.Prior {
			out = append(out, p)
		}
	}
	return out
}

// PriorNote is the line that says a result rests on a prior, naming the
// pairs: "rests on a prior: vllm on h100-sxm, vllm on l40s (datasheet
// peaks times typical efficiencies, not fitted to measurements)"; "" when
// every profile was fitted.
func PriorNote(infos []perf.ProvenanceInfo) string {
	priors := Priors(infos)
	if len(priors) == 0 {
		return ""
	}
	pairs := make([]string, len(priors))
	for i, p := range priors {
		pairs[i] = p.Engine + " on " + p.Hardware
	}
	return "rests on a prior: " + strings.Join(pairs, ", ") + " (datasheet peaks times typical efficiencies, not fitted to measurements)"
}
