package planner

import (
	"fmt"
	"slices"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// Node types and parallel layouts in the search.
//
// search.hardware may name node types (an HGX board of eight H100s) as
// well as devices. On a node of several devices every instance owns tp ×
// pp devices and nothing shares a device (scenario/parallel.go), so a
// candidate there searches the layout instead of the sharing: each tp,
// pp and ep of the space, and each instance runs as many dp replicas as
// fill the node, since a device left idle is bought and powered for
// nothing. A layout whose instances do not fit on the node's devices is
// not a layout of that node and is not enumerated; one that fits the
// devices but not the model (tp not dividing its heads, the weights too
// large for the devices' memory) is a candidate that the bounds reject
// with the resolver's reason, so the table says why.
//
// Speculative decoding is searched on instances of one device only: the
// scenario does not model it over several (scenario/parallel.go).

// SpecOff names no speculative decoding in search.speculative.
const SpecOff = "off"

// deviceOf is the device a hardware name of the search stands for: a node
// type's device, or the name itself. Profiles are per device.
func deviceOf(cat *catalog.Catalog, name string) string {
	if spec, err := cat.NodeSpec(name); err == nil {
		return spec.Hardware.Name
	}
	return name
}

// parallel expands one candidate's settings over the space's layouts and
// speculative decodings, on the node spec of its hardware.
func (p *Plan) parallel(base Settings, spec catalog.NodeSpec, placement [][]string) []Candidate {
	s := p.File.Search
	var out []Candidate
	if spec.Devices <= 1 {
		for _, sp := range s.Speculative {
			st := base
			st.Speculative = specOf(sp)
			out = append(out, Candidate{Settings: st, Placement: placement})
		}
		return p.disaggregate(out, spec)
	}
	for _, tp := range s.TP {
		for _, pp := range s.PP {
			for _, ep := range s.EP {
				n := tp * pp
				if ep > n {
					continue // experts are split within the instance's devices
				}
				dp := make([]int, len(placement))
				fits := true
				for i, g := range placement {
					dp[i] = spec.Devices / (len(g) * n)
					fits = fits && dp[i] > 0
				}
				if !fits {
					continue
				}
				for _, sp := range s.Speculative {
					st := base
					st.TP, st.PP, st.EP, st.Speculative = tp, pp, ep, specOf(sp)
					out = append(out, Candidate{Settings: st, Placement: placement, DP: dp})
				}
			}
		}
	}
	return p.disaggregate(out, spec)
}

// specOf is a search entry as an instance's table: nil for off.
func specOf(sp scenario.Speculative) *scenario.Speculative {
	if sp.Method == SpecOff {
		return nil
	}
	return &sp
}

// layoutKey names the layout and speculative decoding in a settings key,
// only where the plan chose them, so that the keys of plans without them
// are those they always were.
func (s Settings) layoutKey() string {
	var k string
	if s.TP > 0 {
		k += fmt.Sprintf("/tp-%d/pp-%d/ep-%d", s.TP, s.PP, s.EP)
	}
	if sp := s.Speculative; sp != nil {
		k += "/spec-" + SpecLabel(sp)
	}
	return k
}

// SpecLabel names a speculative decoding for people and keys:
// "draft-qwen3-0.6b-k4-a0.7", "eagle-k3-a0.8"; "off" for nil.
func SpecLabel(sp *scenario.Speculative) string {
	if sp == nil {
		return SpecOff
	}
	k := sp.Method
	if sp.DraftModel != "" {
		k += "-" + sp.DraftModel
	}
	if sp.DraftQuant != "" {
		k += "-" + sp.DraftQuant
	}
	return k + fmt.Sprintf("-k%d-a%g", sp.ProposalTokens, sp.AcceptanceRate)
}

// layout checks the space's tp, pp, ep and speculative lists and defaults
// them ([1], [1], [1], off).
func (c *checker) layout(s *Space, k func(...string) []string) {
	for _, d := range []struct {
		v    *[]int
		name string
	}{{&s.TP, "tp"}, {&s.PP, "pp"}, {&s.EP, "ep"}} {
		if len(*d.v) == 0 {
			*d.v = []int{1}
		}
		for i, v := range *d.v {
			switch {
			case v < 1 || v > perf.MaxDegree:
				c.Add(k(d.name, tomlcheck.Index(i)), "must be in [1, %d], got %d", perf.MaxDegree, v)
			case slices.Index(*d.v, v) < i:
				c.Add(k(d.name, tomlcheck.Index(i)), "%d is listed twice", v)
			}
		}
	}
	if len(s.Speculative) == 0 {
		s.Speculative = []scenario.Speculative{{Method: SpecOff}}
	}
	seen := map[string]bool{}
	for i, sp := range s.Speculative {
		ik := k("speculative", tomlcheck.Index(i))
		if sp.Method != SpecOff && !slices.Contains(perf.SpecMethods, sp.Method) {
			c.Add(append(ik, "method"), "unknown speculative method %q; valid: %s, %s", sp.Method, SpecOff, workload.Join(perf.SpecMethods))
			continue
		}
		if sp.Method == SpecOff && (sp.DraftModel != "" || sp.DraftQuant != "" || sp.ProposalTokens != 0 || sp.AcceptanceRate != 0) {
			c.Add(ik, "method \"off\" takes no other field")
			continue
		}
		label := SpecLabel(specOf(sp))
		if seen[label] {
			c.Add(ik, "%s is listed twice", label)
		}
		seen[label] = true
	}
}
