package planner

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
