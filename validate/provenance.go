package validate

import (
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// Basis is what a row's prediction rests on: the provenance line of the
// step model that priced the row's instance (perf.StepModel.Label: the
// profile's line, then each weight format whose compute efficiency the
// profile did not fit), and which of it is a prior rather than a fit to
// measurements.
type Basis struct {
	// Label is the step model's provenance line.
	Label string
	// FormatPriors are the instance's weight formats that rest on a prior
	// (perf.FormatPrior in words: "mxfp4 experts: prior (fp4_compute_rel
	// not fitted: ...)"); none when every format's efficiency was fitted.
	FormatPriors []string
	// ProfilePrior is true when the whole profile is a prior (nothing in
	// it was fitted to measurements).
	ProfilePrior bool
}

// Prior reports whether any of the prediction rests on a prior.
func (b Basis) Prior() bool { return b.ProfilePrior || len(b.FormatPriors) > 0 }

// basisOf is the basis of predictions by sm under p.
func basisOf(sm *perf.StepModel, p perf.Profile) Basis {
	b := Basis{Label: sm.Label(), ProfilePrior: p.Provenance.IsPrior()}
	for _, f := range p.FormatPriors(sm.Instance()) {
		b.FormatPriors = append(b.FormatPriors, f.String())
	}
	return b
}

// servingBasis is the basis of a generated serving scenario: that of its
// one instance on its node's profile.
func servingBasis(sc *scenario.Scenario) (Basis, error) {
	n := sc.Nodes[0]
	in := n.Instances[0]
	sm, err := perf.NewStepModel(in.Hardware, in.Deploy, n.Profile)
	if err != nil {
		return Basis{}, err
	}
	return basisOf(sm, n.Profile), nil
}
