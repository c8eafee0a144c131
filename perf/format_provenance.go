package perf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
)

// FormatPrior is a weight format of an instance whose compute efficiency
// the profile did not fit: a format of a family with its own coefficient
// (kquant_compute_rel, fp4_compute_rel) that is not among the profile's
// fitted coefficients. Its matrix multiplications are then priced on a
// prior: the profile's value of the coefficient where it carries one (a
// prior profile's, perf.Prior), otherwise 1, the base family's fitted
// efficiency, at the peak of the dtype its kernels run in (kernelDtype).
type FormatPrior struct {
	Part        string  // "weights" (every weight but the routed experts) or "experts"
	Format      string  // the format's name
	Coefficient string  // the family's coefficient
	Rel         float64 // the factor it takes: the profile's value, or 1
	Dtype       string  // the tensor-core dtype its kernels run in
	// CarriedFrom is the profile whose fit set the coefficient, where it was
	// carried from another engine on the device (Provenance.Carried).
	CarriedFrom string
}

// String is the prior in words: "mxfp4 experts: prior (fp4_compute_rel not
// fitted: 1 × the base formats' efficiency, on the int8 tensor cores)".
//
// A carried coefficient says whose fit it is: "fp8 weights: carried
// (fp8_compute_rel 0.7677 fitted for h100-sxm/tensorrt-llm (...), not on
// this engine's measurements; on the fp8 tensor cores)".
func (f FormatPrior) String() string {
	if f.CarriedFrom != "" {
		return fmt.Sprintf("%s %s: carried (%s %s fitted for %s, not on this engine's measurements; on the %s tensor cores)",
			f.Format, f.Part, f.Coefficient, strconv.FormatFloat(f.Rel, 'g', 4, 64), f.CarriedFrom, f.Dtype)
	}
	rel := "the profile's prior " + strconv.FormatFloat(f.Rel, 'g', 4, 64)
	if f.Rel == 1 {
		rel = "1 × the base formats' efficiency"
	}
	return fmt.Sprintf("%s %s: prior (%s not fitted: %s, on the %s tensor cores)", f.Format, f.Part, f.Coefficient, rel, f.Dtype)
}

// FormatPriors lists the instance's weight formats that rest on a prior in
// p (see FormatPrior), dense weights first; none when every format is of
// the base family or of a family whose coefficient p's fit set. A prior
// profile's formats rest on its prior as everything in it does: they are
// listed too.
func (p Profile) FormatPriors(in Instance) []FormatPrior {
	type part struct {
		name   string
		format catalog.Format
	}
	parts := []part{{"weights", in.Weights}}
	if in.Model.MoE() {
		parts = append(parts, part{"experts", in.ExpertFormat()})
	}
	var out []FormatPrior
	for _, pt := range parts {
		fam := formatFamily(pt.format)
		if fam == familyBase {
			continue
		}
		for _, r := range p.Coefficients.rels() {
			if r.family != fam || slices.Contains(p.Provenance.Fitted, r.name) && !p.Provenance.IsPrior() {
				continue
			}
			rel := r.v
			if !(rel > 0) {
				rel = 1
			}
			out = append(out, FormatPrior{Part: pt.name, Format: pt.format.Name, Coefficient: r.name, Rel: rel,
				Dtype: kernelDtype(pt.format, p.Engine), CarriedFrom: p.Provenance.Carried[r.name]})
		}
	}
	return out
}

// AppendFormatPriors appends to words the FormatPriors of instance in, in
// words, each once: what outputs that list the formats of several
// instances under one profile show.
func (p Profile) AppendFormatPriors(words []string, in Instance) []string {
	for _, f := range p.FormatPriors(in) {
		if w := f.String(); !slices.Contains(words, w) {
			words = append(words, w)
		}
	}
	return words
}

// Label is the profile's provenance line (Profile.Label) for this
// instance: with, after it, each of its weight formats that rests on a
// prior the profile's fit did not replace (FormatPriors). Outputs that show
// numbers of one instance show this line.
func (s *StepModel) Label() string {
	l := s.profile.Label()
	priors := s.profile.FormatPriors(s.inst)
	if len(priors) == 0 {
		return l
	}
	words := make([]string, len(priors))
	for i, f := range priors {
		words[i] = f.String()
	}
	return l + "; " + strings.Join(words, "; ")
}
