package planner

import (
	"strings"

	"github.com/fleettwin/fleettwin/perf"
)

// markProvenance says on each classified outcome where its numbers come
// from (Outcome.Provenance, Outcome.Prior), and lists the profiles of the
// space in Result.Profiles in the order the candidates first use them.
// It reads the plan's profiles, so one run and merged shards agree.
func (p *Plan) markProvenance(r *Result) {
	seen := map[string]bool{}
	mark := func(o *Outcome) {
		prof, err := p.profiles.Get(deviceOf(p.cat, o.Hardware), o.Engine)
		if err != nil {
			return // the plan's check refused such pairs
		}
		o.Provenance, o.Prior = prof.Label(), prof.Provenance.IsPrior()
		if !o.Prior {
			o.FormatPriors = p.formatPriors(prof, o.Candidate)
			if len(o.FormatPriors) > 0 {
				o.Provenance += "; " + strings.Join(o.FormatPriors, "; ")
			}
		}
		if k := deviceOf(p.cat, o.Hardware) + "/" + o.Engine; !seen[k] {
			seen[k] = true
			r.Profiles = append(r.Profiles, prof.Info())
		}
	}
	for i := range r.Ranked {
		mark(&r.Ranked[i])
	}
	for i := range r.Rejected {
		mark(&r.Rejected[i])
	}
}

// Priors returns the ranked configurations that rest on a prior profile,
// by index.
func (r *Result) Priors() []int {
	var out []int
	for _, o := range r.Ranked {
		if o.Prior {
			out = append(out, o.Index)
		}
	}
	return out
}

// formatPriors are the weight formats of c's models, in c's quant, that
// rest on a prior or a carried factor under prof, in words, once each.
func (p *Plan) formatPriors(prof perf.Profile, c Candidate) []string {
	var out []string
	for _, g := range c.Placement {
		for _, name := range g {
			m, err := p.cat.Model(name)
			if err != nil {
				continue
			}
			dense, experts, err := p.cat.WeightFormats(m, c.Quant, c.Engine)
			if err != nil {
				continue
			}
			out = prof.AppendFormatPriors(out, perf.Instance{Model: m, Weights: dense, Experts: experts})
		}
	}
	return out
}

// FormatPriors returns the ranked configurations that rest on a fitted
// profile but a weight-format factor its fit did not set, by index.
func (r *Result) FormatPriors() []int {
	var out []int
	for _, o := range r.Ranked {
		if len(o.FormatPriors) > 0 {
			out = append(out, o.Index)
		}
	}
	return out
}
