package validate

import (
	"fmt"
	"strconv"

	"github.com/fleettwin/fleettwin/measure"
)

// IgnoredSettings are the settings keys that do not change what the twin
// computes, each with why. A row with one of them is run as if it were not
// set.
var IgnoredSettings = map[string]string{
	"prefix_caching":     "the twin has no prefix cache, and benchmark prompts share no prefix to reuse",
	"attention_backend":  "kernel choices are folded into the profile's efficiencies",
	"cuda_graph_max_bs":  "CUDA graphs are folded into the profile's step overheads",
	"cuda_graph_padding": "CUDA graphs are folded into the profile's step overheads",
	"torch_compile":      "compilation is folded into the profile's efficiencies",
	"max_model_len":      "the longest context: the twin checks each request against the KV cache instead",
	"max_seq_len":        "the longest context: the twin checks each request against the KV cache instead",
	"batch":              "llama.cpp's logical batch: the physical batch (ubatch) sets the step",
	"flash_attn":         "kernel choices are folded into the profile's efficiencies",
	"mmap":               "how the weights are loaded, before the measurement",
}

// UnsupportedSettings are the settings keys of experiments the twin cannot
// reproduce yet, each with why; a row with one is not run. Speculative
// decoding's keys (speculative, spec_*) are SpecSettings.
var UnsupportedSettings = map[string]string{
	"attention_dp":   "data-parallel attention is not modelled yet",
	"sharing":        "co-located servers: their ratios are fitted and reproduced by `fleettwin profile fit-sharing` (package sharefit), which fits the load they do not publish",
	"instances":      "co-located servers: their ratios are fitted and reproduced by `fleettwin profile fit-sharing` (package sharefit), which fits the load they do not publish",
	"mps_sm_percent": "co-located servers: their ratios are fitted and reproduced by `fleettwin profile fit-sharing` (package sharefit), which fits the load they do not publish",
}

// MappedSettings are the settings keys that set the twin's instance, with
// the field each sets.
var MappedSettings = map[string]string{
	"max_seqs":           "instance max_seqs",
	"max_batched_tokens": "instance max_batched_tokens",
	"chunked_prefill":    "instance chunked_prefill",
	"gpu_mem_util":       "node group memory_fraction",
	"ubatch":             "the prefill chunk of a bench; instance max_batched_tokens when serving",
}

// knobs are a row's settings as the twin uses them; 0 or nil is the
// engine's default.
type knobs struct {
	maxSeqs, maxBatchedTokens, ubatch int
	chunkedPrefill                    *bool
	memFraction                       float64
	layout                            layoutKnobs // tp, pp, ep, nodes (parallel.go)
	spec                              *specKnobs  // speculative decoding (speculative.go); nil for none
}

// rowKnobs maps a row's tp and settings onto the twin, or says why the row
// cannot be run.
func rowKnobs(r *measure.Row) (knobs, error) {
	var k knobs
	var layoutErr error
	if k.layout, layoutErr = rowLayout(r); layoutErr != nil {
		return k, layoutErr
	}
	for _, s := range r.Settings {
		if why, ok := UnsupportedSettings[s.Key]; ok {
			return k, fmt.Errorf("setting %s: %s", s.Key, why)
		}
	}
	var err error
	if k.spec, err = rowSpec(r); err != nil {
		return k, err
	}
	for _, s := range r.Settings {
		var err error
		switch s.Key {
		case "max_seqs":
			k.maxSeqs, err = positive(s.Value, measure.MaxConcurrency)
		case "max_batched_tokens":
			k.maxBatchedTokens, err = positive(s.Value, measure.MaxTokens)
		case "pp", "ep", "expert_parallel", "nodes": // rowLayout (parallel.go)
		case "ubatch":
			k.ubatch, err = positive(s.Value, measure.MaxTokens)
		case "chunked_prefill":
			var b bool
			b, err = strconv.ParseBool(s.Value)
			k.chunkedPrefill = &b
		case "gpu_mem_util":
			k.memFraction, err = strconv.ParseFloat(s.Value, 64)
			if err == nil && !(k.memFraction > 0 && k.memFraction <= 1) {
				err = fmt.Errorf("want a fraction in (0, 1]")
			}
		default:
			if _, ok := SpecSettings[s.Key]; ok {
				continue // rowSpec
			}
			if _, ok := IgnoredSettings[s.Key]; !ok {
				return k, fmt.Errorf("setting %s: unknown to the twin, which cannot tell whether it changes the result", s.Key)
			}
		}
		if err != nil {
			return k, fmt.Errorf("setting %s=%s: %v", s.Key, s.Value, err)
		}
	}
	return k, nil
}

func positive(s string, max int) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || v > max {
		return 0, fmt.Errorf("want a whole number from 1 to %d", max)
	}
	return v, nil
}

// Runnable says why the twin cannot reproduce the row yet (tensor
// parallelism, speculative decoding, an unknown setting or a bad value), or
// nil: the reason Reproduce gives, from the row alone (the catalog and the
// profiles are not looked at).
func Runnable(r *measure.Row) error {
	_, err := rowKnobs(r)
	return err
}
