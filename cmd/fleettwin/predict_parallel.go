package main

import (
	"fmt"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
)

// checkPredictLayout refuses a layout the node cannot hold before any
// model is looked at: more devices than the node has (naming the node
// types that have enough), or several co-located models in a layout
// (instances on a node of several devices each own theirs: predict them
// one at a time).
func checkPredictLayout(spec catalog.NodeSpec, l perf.Layout, models int, types []catalog.NodeType) error {
	for _, d := range []struct {
		v    int
		flag string
	}{{l.TP, "tp"}, {l.PP, "pp"}, {l.EP, "ep"}} {
		if d.v < 1 || d.v > perf.MaxDegree {
			return usagef("--%s must be in [1, %d], got %d", d.flag, perf.MaxDegree, d.v)
		}
	}
	if n := l.Devices(); n > spec.Devices {
		hint := "no node type of " + spec.Hardware.Name + " has as many"
		if spec.Devices == 1 {
			hint = "use a node type of it as --hardware"
		}
		var names []string
		for _, nt := range types {
			if nt.Devices >= n {
				names = append(names, fmt.Sprintf("%s (%d)", nt.Name, nt.Devices))
			}
		}
		if len(names) > 0 {
			hint += ": " + strings.Join(names, ", ")
		}
		return usagef("--tp %d × --pp %d needs %d devices, and %s has %d (%s)", max(l.TP, 1), max(l.PP, 1), n, spec.Name, spec.Devices, hint)
	}
	if models > 1 && !l.Trivial() {
		return usagef("a layout over several devices predicts one --model; co-located models share one device")
	}
	return nil
}

// newNodeInfo describes the node and layout of a prediction, with the
// collectives' share of its steps.
func newNodeInfo(spec catalog.NodeSpec, l perf.Layout, p perf.Prediction) *nodeInfo {
	tp, pp, ep := l.Degrees()
	n := &nodeInfo{Devices: spec.Devices, Interconnect: spec.Link.Name, TP: tp, PP: pp, EP: ep, LayoutDevs: l.Devices(),
		PrefillCommS: sig(p.Prefill.Comm)}
	if spec.Type {
		n.Type = spec.Name
	}
	if p.Decode.Steps > 0 {
		n.DecodeCommS = sig(p.Decode.Comm / float64(p.Decode.Steps))
	}
	return n
}

// instance is model m in the weight format named quant under engine: a
// release that quantizes only its routed experts (gpt-oss's MXFP4) keeps
// the other weights in its dense format (catalog.Catalog.WeightFormats),
// which sets the instance's Experts apart from its Weights.
func (e *env) instance(m catalog.Model, quant, engine string) (perf.Instance, error) {
	dense, experts, err := e.cat.WeightFormats(m, quant, engine)
	if err != nil {
		return perf.Instance{}, usageError{err.Error()}
	}
	in := perf.Instance{Model: m, Weights: dense}
	if experts != dense {
		in.Experts = experts
	}
	return in, nil
}

// setFormats records the instance's weight formats where its experts are
// in another format than the rest, its provenance line, and the formats
// that rest on a prior in the profile.
func (mp *modelPrediction) setFormats(sm *perf.StepModel, p perf.Profile) {
	in := sm.Instance()
	if e := in.ExpertFormat(); e != in.Weights {
		mp.DenseFormat, mp.ExpertFormat = in.Weights.Name, e.Name
	}
	mp.label = sm.Label()
	for _, f := range p.FormatPriors(in) {
		mp.FormatPriors = append(mp.FormatPriors, f.String())
	}
}
