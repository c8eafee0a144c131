package validate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// Speculative decoding rows (SGLang's EAGLE-3 runs): their flags, as
// `sglang.launch_server` names them, mapped onto the instance's
// [speculative] table.

// SpecSettings are the speculative-decoding settings keys the twin maps,
// with what each sets. Any other spec_* key is not run, with the reason.
var SpecSettings = map[string]string{
	"speculative":           "--speculative-algorithm: EAGLE or EAGLE3 is method \"eagle\", NEXTN method \"mtp\"",
	"spec_draft_model":      "--speculative-draft-model-path: the head's weights (their acceptance is the row's, read from its ITL and TPOT)",
	"spec_num_steps":        "--speculative-num-steps: proposal_tokens, the depth of the draft",
	"spec_eagle_topk":       "--speculative-eagle-topk: the branching of the draft tree (with 1 the tree is a chain of num_steps + 1 tokens)",
	"spec_num_draft_tokens": "--speculative-num-draft-tokens: the tokens the target verifies per sequence per round",
}

// sglangSpecDefaults are SGLang's (num_steps, eagle_topk,
// num_draft_tokens) for a Qwen3 target when none is set:
// auto_choose_speculative_params in python/sglang/srt/server_args.py
// (v0.5.3) returns (5, 4, 8) for every architecture but DeepSeek's.
var sglangSpecDefaults = [3]int{5, 4, 8}

// specKnobs are a row's speculative decoding settings.
type specKnobs struct {
	method                   string
	steps, topk, draftTokens int
}

// verify is the tokens the target verifies per sequence: SGLang sets
// num_draft_tokens to num_steps + 1 when topk is 1 (a chain).
func (s *specKnobs) verify() int {
	if s.topk == 1 {
		return s.steps + 1
	}
	return s.draftTokens
}

// rowSpec maps a row's speculative settings, nil when it has none, or says
// why they cannot be run.
func rowSpec(r *measure.Row) (*specKnobs, error) {
	algo, ok := r.Settings.Get("speculative")
	for _, s := range r.Settings {
		if strings.HasPrefix(s.Key, "spec_") {
			if _, known := SpecSettings[s.Key]; !known {
				return nil, fmt.Errorf("setting %s: a speculative-decoding flag the twin does not map (it maps %s)", s.Key, specKeys())
			}
			if !ok {
				return nil, fmt.Errorf("setting %s without speculative=<algorithm>", s.Key)
			}
		}
	}
	if !ok {
		return nil, nil
	}
	k := &specKnobs{}
	switch strings.ToLower(algo) {
	case "eagle", "eagle3":
		k.method = perf.SpecEagle
	case "nextn", "mtp":
		k.method = perf.SpecMTP
	default:
		return nil, fmt.Errorf("setting speculative=%s: only EAGLE, EAGLE3 and NEXTN heads are mapped (a draft model would need its catalog name)", algo)
	}
	vals := [3]*int{&k.steps, &k.topk, &k.draftTokens}
	names := [3]string{"spec_num_steps", "spec_eagle_topk", "spec_num_draft_tokens"}
	set := 0
	for i, name := range names {
		v, has := r.Settings.Get(name)
		if !has {
			continue
		}
		set++
		n, err := strconv.Atoi(v)
		hi := []int{perf.MaxProposalTokens, perf.MaxVerifyTokens, perf.MaxVerifyTokens}[i]
		if err != nil || n < 1 || n > hi {
			return nil, fmt.Errorf("setting %s=%s: want a whole number from 1 to %d", name, v, hi)
		}
		*vals[i] = n
	}
	switch {
	case set == 0 && r.Engine == "sglang":
		k.steps, k.topk, k.draftTokens = sglangSpecDefaults[0], sglangSpecDefaults[1], sglangSpecDefaults[2]
	case set == 0:
		return nil, fmt.Errorf("setting speculative=%s without spec_num_steps: %s's defaults are not known to the twin", algo, r.Engine)
	case set < 3:
		return nil, fmt.Errorf("setting speculative=%s: set spec_num_steps, spec_eagle_topk and spec_num_draft_tokens together or none (SGLang chooses the three together)", algo)
	}
	if v := k.verify(); v < 2 {
		return nil, fmt.Errorf("setting spec_num_draft_tokens=%d: the target verifies at least 2 tokens", v)
	}
	return k, nil
}

func specKeys() string {
	return "speculative, spec_draft_model, spec_num_steps, spec_eagle_topk, spec_num_draft_tokens"
}

// specPlan is what a speculative experiment's runs need beyond its
// scenario: the tokens verified per round, which the scenario's table does
// not carry (a chain verifies proposal_tokens + 1; an EAGLE tree more), and
// the tokens a round yields, for ITL per streamed chunk.
type specPlan struct {
	verify int
	tokens float64
}

// acceptedLength is the accepted tokens per round an experiment's rows
// publish: its mean ITL over its mean TPOT (each averaged over the runs
// the experiment holds, when several runs share its conditions). vllm
// bench serve measures ITL between streamed chunks and a speculative
// server streams a round's tokens as one chunk, so the ratio is the tokens
// per round (the twin takes the acceptance as an input, the workload's;
// this is where a published run gives it). 0 when the experiment has no
// ITL or no TPOT row.
func acceptedLength(rows []measure.Row, idx []int) float64 {
	var itl, tpot float64
	var nITL, nTPOT int
	for _, i := range idx {
		switch rows[i].Metric {
		case measure.ITLMean:
			itl += rows[i].Value
			nITL++
		case measure.TPOTMean:
			tpot += rows[i].Value
			nTPOT++
		}
	}
	if nITL == 0 || nTPOT == 0 || !(itl > 0 && tpot > 0) {
		return 0
	}
	return (itl / float64(nITL)) / (tpot / float64(nTPOT))
}

// speculative is the row's [speculative] table, and its plan, for an
// accepted length per round.
func (k *specKnobs) speculative(accepted float64) (*scenario.Speculative, *specPlan, error) {
	if !(accepted > 0) {
		return nil, nil, fmt.Errorf("speculative decoding: the experiment publishes no ITL and TPOT to read its accepted tokens per step from")
	}
	alpha := perf.AcceptanceFor(k.steps, accepted)
	sp := &scenario.Speculative{Method: k.method, ProposalTokens: k.steps, AcceptanceRate: alpha}
	return sp, &specPlan{verify: k.verify(), tokens: perf.ExpectedTokens(k.steps, alpha)}, nil
}

// setVerify gives the resolved scenario's instance the plan's verified
// tokens per round.
func (p *specPlan) setVerify(sc *scenario.Scenario) {
	if p == nil {
		return
	}
	for _, n := range sc.Nodes {
		for _, in := range n.Instances {
			if sp := in.Deploy.Speculative; sp != nil {
				sp.VerifyTokens = p.verify
			}
		}
	}
}
