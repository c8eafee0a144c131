package web

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
)

// specOff is the what-if form's method for an instance without a
// [speculative] table.
const specOff = "off"

// specMethods are the choices of the method field: off, then perf's.
var specMethods = append([]string{specOff}, perf.SpecMethods...)

// specBindings are an instance's speculative decoding fields (prefix p is
// nodes.<i>.instances.<j>): the method (off, draft, eagle, mtp) makes or
// drops its [speculative] table; draft_model, proposal_tokens and
// acceptance_rate are read and written in it. A field of a table that is
// off is empty, and setting one before a method is an error naming it.
// The table's own checks (a draft's vocabulary, k in [1, 16], α in
// [0, 1)) are the scenario's, with their messages.
func specBindings(p, label string, in func(*scenario.File) *scenario.Instance) []binding {
	spec := func(name string, f *scenario.File, s string) (*scenario.Speculative, error) {
		sp := in(f).Speculative
		if sp == nil && s != "" {
			return nil, fmt.Errorf("%s: speculative decoding is off: choose a method (%s) first", name, joinOr(perf.SpecMethods))
		}
		return sp, nil
	}
	method := p + ".speculative.method"
	draft := p + ".speculative.draft_model"
	k := p + ".speculative.proposal_tokens"
	alpha := p + ".speculative.acceptance_rate"
	return []binding{
		{method, label + ": speculative decoding (" + joinOr(specMethods) + ")",
			func(f *scenario.File) string {
				if sp := in(f).Speculative; sp != nil {
					return sp.Method
				}
				return specOff
			},
			func(f *scenario.File, s string) error {
				switch {
				case s == specOff || s == "":
					in(f).Speculative = nil
				case !slices.Contains(perf.SpecMethods, s):
					return fmt.Errorf("%s: %q is not %s", method, s, joinOr(specMethods))
				case in(f).Speculative == nil:
					in(f).Speculative = &scenario.Speculative{Method: s}
				default:
					c := *in(f).Speculative // the file's table may be shared with a copied instance
					c.Method = s
					in(f).Speculative = &c
				}
				return nil
			}},
		{draft, label + ": draft model (method draft)",
			func(f *scenario.File) string {
				if sp := in(f).Speculative; sp != nil {
					return sp.DraftModel
				}
				return ""
			},
			func(f *scenario.File, s string) error {
				sp, err := spec(draft, f, s)
				if sp != nil {
					c := *sp
					c.DraftModel = s
					in(f).Speculative = &c
				}
				return err
			}},
		{k, label + ": proposal tokens (k)",
			func(f *scenario.File) string {
				if sp := in(f).Speculative; sp != nil {
					return strconv.Itoa(sp.ProposalTokens)
				}
				return ""
			},
			func(f *scenario.File, s string) error {
				sp, err := spec(k, f, s)
				if sp == nil || err != nil {
					return err
				}
				v, err := parseInt(k, s)
				c := *sp
				c.ProposalTokens = v
				in(f).Speculative = &c
				return err
			}},
		{alpha, label + ": acceptance rate (α, 0 to 1)",
			func(f *scenario.File) string {
				if sp := in(f).Speculative; sp != nil {
					return num(sp.AcceptanceRate)
				}
				return ""
			},
			func(f *scenario.File, s string) error {
				sp, err := spec(alpha, f, s)
				if sp == nil || err != nil {
					return err
				}
				v, err := parseNum(alpha, s)
				c := *sp
				c.AcceptanceRate = v
				in(f).Speculative = &c
				return err
			}},
	}
}

// joinOr lists choices as "a, b or c".
func joinOr(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	out := ""
	for i, x := range xs[:len(xs)-1] {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out + " or " + xs[len(xs)-1]
}
