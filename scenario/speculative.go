package scenario

import (
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/workload"
)

// speculative resolves an instance's [speculative] table against its
// target deployment: the method, for "draft" the draft model (from the
// catalog, of the target's vocabulary, in draft_quant or the target's
// format, caching in the target's KV type), the proposal length and the
// acceptance rate. Errors name nodes[i].instances[j].speculative.<field>;
// false means the table cannot be simulated (the reasons are reported).
func (r *resolver) speculative(k []string, sp *Speculative, target perf.Instance) (*perf.Speculative, bool) {
	k = append(append([]string(nil), k...), "speculative")
	field := func(f string) []string { return append(append([]string(nil), k...), f) }
	out := &perf.Speculative{Method: sp.Method, ProposalTokens: sp.ProposalTokens, AcceptanceRate: sp.AcceptanceRate}
	ok := true
	switch sp.Method {
	case perf.SpecDraft:
		if sp.DraftModel == "" {
			r.AddKind(tomlcheck.Missing, field("draft_model"), "method %q needs a draft model from the catalog (e.g. qwen3-0.6b for qwen3-8b)", sp.Method)
			ok = false
			break
		}
		m, err := r.cat.Model(sp.DraftModel)
		if err != nil {
			r.AddKind(tomlcheck.NotFound, field("draft_model"), "%v", err)
			ok = false
			break
		}
		if m.VocabSize != target.Model.VocabSize {
			r.Add(field("draft_model"), "%s has a vocabulary of %d tokens, %s of %d: a draft must propose the target's tokens",
				m.Name, m.VocabSize, target.Model.Name, target.Model.VocabSize)
			ok = false
		}
		quant := target.Weights
		if sp.DraftQuant != "" {
			if quant, err = r.cat.Format(sp.DraftQuant); err != nil {
				r.AddKind(tomlcheck.NotFound, field("draft_quant"), "%v", err)
				ok = false
			}
		}
		out.Draft = perf.Instance{Model: m, Weights: quant, KV: target.KV}
	case perf.SpecEagle, perf.SpecMTP:
		for _, f := range []struct{ name, v string }{{"draft_model", sp.DraftModel}, {"draft_quant", sp.DraftQuant}} {
			if f.v != "" {
				r.Add(field(f.name), "only with method %q: %s heads are costed from the target (the profile's speculative.head_cost)", perf.SpecDraft, sp.Method)
				ok = false
			}
		}
	default:
		r.AddKind(tomlcheck.NotFound, field("method"), "unknown speculative method %q; valid: %s", sp.Method, workload.Join(perf.SpecMethods))
		ok = false
	}
	if sp.ProposalTokens < 1 || sp.ProposalTokens > perf.MaxProposalTokens {
		r.AddKind(tomlcheck.OutOfRange, field("proposal_tokens"), "must be in [1, %d] tokens drafted per step, got %d", perf.MaxProposalTokens, sp.ProposalTokens)
		ok = false
	}
	if !(sp.AcceptanceRate >= 0 && sp.AcceptanceRate < 1) {
		r.AddKind(tomlcheck.OutOfRange, field("acceptance_rate"), "must be in [0, 1) (the chance each drafted token is accepted), got %v", sp.AcceptanceRate)
		ok = false
	}
	return out, ok
}
