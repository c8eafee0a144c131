package twin

import (
	"strings"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// Profiles returns the provenance of each profile the scenario's nodes use,
// one per (hardware, engine) pair, in the order the nodes first use them,
// each with the weight formats of its instances that rest on a prior or a
// carried factor (perf.Profile.FormatPriors).
func Profiles(sc *scenario.Scenario) []perf.ProvenanceInfo {
	var out []perf.ProvenanceInfo
	index := map[string]int{}
	for _, n := range sc.Nodes {
		key := n.Profile.Hardware + "/" + n.Profile.Engine
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, n.Profile.Info())
		}
		for _, in := range n.Instances {
			out[i].FormatPriors = n.Profile.AppendFormatPriors(out[i].FormatPriors, in.Deploy)
		}
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
// peaks times typical efficiencies, not fitted to measurements)", then any
// fitted profile's weight formats that do ("rests on weight-format
// factors not fitted for their engine: vllm on h100-sxm: fp8 weights:
// carried (...)"); "" when every profile and format was fitted.
func PriorNote(infos []perf.ProvenanceInfo) string {
	var parts []string
	if priors := Priors(infos); len(priors) > 0 {
		pairs := make([]string, len(priors))
		for i, p := range priors {
			pairs[i] = p.Engine + " on " + p.Hardware
		}
		parts = append(parts, "rests on a prior: "+strings.Join(pairs, ", ")+" (datasheet peaks times typical efficiencies, not fitted to measurements)")
	}
	var formats []string
	for _, p := range infos {
		if !p.Prior && len(p.FormatPriors) > 0 {
			formats = append(formats, p.Engine+" on "+p.Hardware+": "+strings.Join(p.FormatPriors, "; "))
		}
	}
	if len(formats) > 0 {
		parts = append(parts, "rests on weight-format factors not fitted for their engine: "+strings.Join(formats, ", "))
	}
	return strings.Join(parts, "; ")
}
