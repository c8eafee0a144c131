package validate

import (
	"fmt"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/measure"
	"github.com/fleettwin/fleettwin/perf"
)

// bench predicts a bench row's metric through perf's step model, the way
// `fleettwin profile check` does: the row's steps (perf.BenchRow.Observation)
// priced by the profile (perf.Evaluate), and what that rests on.
func bench(env Env, r *measure.Row) (float64, Basis, error) {
	k, err := rowKnobs(r)
	if err != nil {
		return 0, Basis{}, err
	}
	if err := benchOnOneDevice(r); err != nil { // parallel.go
		return 0, Basis{}, err
	}
	hw, p, err := deviceProfile(env, r)
	if err != nil {
		return 0, Basis{}, err
	}
	if k.ubatch > 0 {
		p.PrefillChunk = k.ubatch // llama-bench -ub: the tokens of one prefill step
	}
	br := perf.BenchRow{ID: r.ID, Hardware: r.Hardware, Engine: r.Engine, Model: r.Model, Quant: r.Quant,
		Batch: r.Concurrency, Input: r.InputTokens, Depth: r.DepthTokens, Output: r.OutputTokens,
		Metric: string(r.Metric), Value: r.Value, Unit: r.Unit, Source: r.Source}
	if br.Batch < 1 {
		br.Batch = 1
	}
	if r.Kind == measure.BenchDecode {
		br.Input = 0 // llama-bench tg: the depth is cached, no prompt
	}
	kv := r.KVCache
	if kv == "" {
		kv = defaultKV
	}
	o, err := br.Observation(env.Catalog, hw, kv, p)
	if err != nil {
		return 0, Basis{}, err
	}
	if len(o.Steps) == 0 {
		return 0, Basis{}, fmt.Errorf("row %s: no steps to run", r.ID)
	}
	return perf.Evaluate(p, []perf.Observation{o})[0].Predicted, basisOf(o.Model, p), nil
}

// defaultKV is the KV-cache type of a row that names none: the twin's
// default, 16-bit (every engine's default for 16-bit weights).
const defaultKV = "fp16"

// deviceProfile is a row's device and the profile of (device, engine), or
// why there is none.
func deviceProfile(env Env, r *measure.Row) (catalog.Hardware, perf.Profile, error) {
	hw, err := env.Catalog.HardwareNamed(r.Hardware)
	if err != nil {
		return hw, perf.Profile{}, err
	}
	p, err := env.Profiles.Get(hw.Name, r.Engine)
	if err != nil {
		return hw, p, fmt.Errorf("no profile for %s with %s", hw.Name, r.Engine)
	}
	return hw, p, nil
}
