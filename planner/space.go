package planner

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/scenario"
)

// Settings are the choices a candidate makes for every node group.
type Settings struct {
	Hardware         string                 `json:"hardware"`
	Engine           string                 `json:"engine"`
	Quant            string                 `json:"quant"`
	KVCache          string                 `json:"kv_cache"`
	Memory           scenario.MemorySharing `json:"memory"`
	Sharing          scenario.Sharing       `json:"sharing,omitempty"` // empty: the device's default
	MaxSeqs          int                    `json:"max_seqs,omitempty"`
	MaxBatchedTokens int                    `json:"max_batched_tokens,omitempty"`
	PowerCapW        float64                `json:"power_cap_w,omitempty"`
	// TP, PP and EP are each instance's parallel layout (0 or 1: one
	// device); Speculative its speculative decoding (nil: none).
	TP          int                   `json:"tp,omitempty"`
	PP          int                   `json:"pp,omitempty"`
	EP          int                   `json:"ep,omitempty"`
	Speculative *scenario.Speculative `json:"speculative,omitempty"`
	// Disaggregated serves each model from a prefill pool and a decode
	// pool (planner/disagg.go), PrefillShare of the devices or nodes to
	// prefill (0: derived from the load).
	Disaggregated bool    `json:"disaggregated,omitempty"`
	PrefillShare  float64 `json:"prefill_share,omitempty"`
}

// key names the settings. A sharing is named only when the plan chose
// one, so the keys of plans that search none are those they always were.
func (s Settings) key() string {
	k := fmt.Sprintf("%s/%s/%s/kv-%s/%s/seqs-%d/tokens-%d/cap-%g", s.Hardware, s.Engine, s.Quant, s.KVCache, s.Memory, s.MaxSeqs, s.MaxBatchedTokens, s.PowerCapW)
	if s.Sharing != "" {
		k += "/share-" + string(s.Sharing)
	}
	return k + s.layoutKey() + s.disaggKey()
}

// Candidate is one configuration: settings, and which served models share
// each node group. Each group gets its own node count.
type Candidate struct {
	Index int `json:"index"` // position in the plan's enumeration
	Settings
	Placement [][]string `json:"placement"`
	// DP is each group's replicas of every instance on a node of several
	// devices (as many as fill it); nil on nodes of one device.
	DP []int `json:"dp,omitempty"`
}

// Key names the candidate uniquely within its plan.
func (c Candidate) Key() string { return c.Settings.key() + "/" + layoutKey(c.Placement) }

// Layout describes the grouping for people: "qwen3-14b+qwen3-8b" shares
// one node group, "qwen3-14b | qwen3-8b" gives each its own.
func (c Candidate) Layout() string { return layoutKey(c.Placement) }

func layoutKey(groups [][]string) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = strings.Join(g, "+")
	}
	return strings.Join(parts, " | ")
}

// group is the unit the planner simulates: one node group's settings and
// models. Groups of different candidates that agree are simulated once.
type group struct {
	Settings
	Models []string
	DP     int // replicas of each instance on a node of several devices; 0 on one
}

func (g group) key() string { return g.Settings.key() + "/" + strings.Join(g.Models, "+") }

// groups splits a candidate into its node groups. Memory and compute
// sharing mean nothing to a group of one model, so such groups are keyed
// as static with the default sharing and shared between the candidates
// that differ only there.
func (c Candidate) groups() []group {
	out := make([]group, len(c.Placement))
	for i, ms := range c.Placement {
		s := c.Settings
		if len(ms) == 1 {
			s.Memory, s.Sharing = scenario.MemoryStatic, ""
		}
		out[i] = group{Settings: s, Models: ms}
		if i < len(c.DP) {
			out[i].DP = c.DP[i]
		}
	}
	return out
}

// Candidates enumerates the search space in a fixed order: hardware,
// engine, weight format, layout, memory sharing, compute sharing, max
// sequences, batched tokens, power cap, then the parallel layout (tp, pp,
// ep) and the speculative decoding. Hardware and engine pairs without
// a profile are left out, and so are a memory or compute sharing choice
// for layouts where no node has two models, a sharing the hardware or the
// engine cannot do (one-process under vLLM), a power cap at or above
// the hardware's limit, and parallel layouts the node cannot hold
// (planner/layout.go). A plan that searches no node type, layout or
// speculative decoding enumerates what it did before those keys existed.
func (p *Plan) Candidates() []Candidate {
	s := p.File.Search
	layouts := p.layouts()
	var out []Candidate
	for _, hw := range s.Hardware {
		limit := math.Inf(1)
		spec, err := p.cat.NodeSpec(hw)
		h := spec.Hardware
		if err == nil && h.PowerLimitW > 0 {
			limit = h.PowerLimitW
		}
		multi := err == nil && spec.Devices > 1
		for _, eng := range s.Engines {
			if _, err := p.profiles.Get(h.Name, eng); err != nil {
				continue
			}
			for _, q := range s.Quants {
				for _, l := range layouts {
					shared := slices.ContainsFunc(l, func(g []string) bool { return len(g) > 1 })
					// Instances on a node of several devices own theirs:
					// there is no memory or compute to share.
					pooled := shared && !multi
					for mi, mem := range s.Memory {
						if !pooled && mi > 0 {
							continue
						}
						if !pooled {
							mem = scenario.MemoryStatic
						}
						for si, sh := range s.Sharing {
							if !pooled && si > 0 {
								continue
							}
							if !pooled {
								sh = ""
							}
							if !sh.Supported(h, eng) {
								continue
							}
							for _, seqs := range s.MaxSeqs {
								for _, toks := range s.MaxBatchedTokens {
									for _, capW := range s.PowerCapW {
										if capW >= limit {
											continue // no cap at all: the uncapped candidate (0) covers it
										}
										base := Settings{Hardware: hw, Engine: eng, Quant: q, KVCache: s.KVCache, Memory: mem, Sharing: sh,
											MaxSeqs: seqs, MaxBatchedTokens: toks, PowerCapW: capW}
										for _, c := range p.parallel(base, spec, l) {
											c.Index = len(out)
											out = append(out, c)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// layouts lists the groupings the plan asks for, each once, in a fixed
// order: everything together first, one model per group next, then the
// rest of the set partitions.
func (p *Plan) layouts() [][][]string {
	var out [][][]string
	seen := map[string]bool{}
	add := func(l [][]string) {
		if k := layoutKey(l); !seen[k] {
			seen[k] = true
			out = append(out, l)
		}
	}
	together := [][]string{slices.Clone(p.Models)}
	var apart [][]string
	for _, m := range p.Models {
		apart = append(apart, []string{m})
	}
	for _, l := range p.File.Search.Layouts {
		switch l {
		case LayoutColocated:
			add(together)
		case LayoutSeparate:
			add(apart)
		case LayoutAll:
			add(together)
			add(apart)
			for _, part := range Partitions(p.Models) {
				add(part)
			}
		}
	}
	return out
}

// Partitions returns every way to split items into non-empty groups (the
// set partitions, Bell(n) of them), each group in the items' order, in
// restricted-growth-string order.
func Partitions(items []string) [][][]string {
	n := len(items)
	if n == 0 {
		return nil
	}
	var out [][][]string
	rgs := make([]int, n) // rgs[i] is the group of item i; rgs[0] = 0
	var rec func(i, groups int)
	rec = func(i, groups int) {
		if i == n {
			part := make([][]string, groups)
			for j, g := range rgs {
				part[g] = append(part[g], items[j])
			}
			out = append(out, part)
			return
		}
		for g := 0; g <= groups; g++ {
			rgs[i] = g
			rec(i+1, max(groups, g+1))
		}
	}
	rgs[0] = 0
	rec(1, 1)
	return out
}
