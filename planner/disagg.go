package planner

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// Disaggregated prefill and decode in the search.
//
// search.disaggregation = [false, true] adds, beside each candidate, one
// that serves every model of every node group from a prefill pool and a
// decode pool (the scenario's role = "prefill" | "decode",
// scenario/disagg.go), so the table says whether splitting the phases
// pays. Where the pools go follows what the scenario allows:
//
//   - on a node of several devices whose instances run two or more dp
//     replicas, inside each node: each model's replicas split into a
//     prefill and a decode instance (disagg-h100.toml's shape), the KV
//     crossing the node's own interconnect;
//   - otherwise across nodes: the group's node count splits into prefill
//     nodes and decode nodes (at least one of each, so two nodes at
//     least), the KV crossing the plan's [network]. A role needs the
//     device to itself, so on a node of one device only groups of one
//     model disaggregate; a candidate with a shared device has no
//     disaggregated twin.
//
// The split is the prefill share of the pool's devices (or nodes),
// rounded and kept to at least one of each: search.prefill_share lists
// the shares searched, and without it the share is derived from the load
// (prefillShare): the device-time the prompts need over the device-time
// of prompts and decodes together, decodes at the largest batch the
// memory and the TPOT target allow. The bounds stay those of the
// co-located group: the work is the same, spread over the same devices.

// shares are the prefill shares a disaggregated candidate is enumerated
// with: the plan's, or [0], derived from the load.
func (p *Plan) shares() []float64 {
	if len(p.File.Search.PrefillShare) == 0 {
		return []float64{0}
	}
	return p.File.Search.PrefillShare
}

// disaggregate expands candidates over search.disaggregation: each as it
// is for false, and for true a twin per prefill share when its groups can
// take roles on this node spec.
func (p *Plan) disaggregate(cs []Candidate, spec catalog.NodeSpec) []Candidate {
	var out []Candidate
	for _, c := range cs {
		for _, d := range p.File.Search.Disaggregation {
			if !d {
				out = append(out, c)
				continue
			}
			if spec.Devices <= 1 && slices.ContainsFunc(c.Placement, func(g []string) bool { return len(g) > 1 }) {
				continue // a role needs the device to itself
			}
			for _, share := range p.shares() {
				dc := c
				dc.Disaggregated, dc.PrefillShare = true, share
				out = append(out, dc)
			}
		}
	}
	return out
}

// disaggKey names the disaggregation in a settings key, only where the
// plan chose it: "/disagg" with a derived share, "/disagg-p0.75" with one
// of the plan's.
func (s Settings) disaggKey() string {
	switch {
	case !s.Disaggregated:
		return ""
	case s.PrefillShare > 0:
		return fmt.Sprintf("/disagg-p%g", s.PrefillShare)
	}
	return "/disagg"
}

// Pools is a disaggregated group's split at its node count: within each
// node (PrefillDP and DecodeDP replicas of each model's instance) or
// across nodes (PrefillNodes and DecodeNodes).
type Pools struct {
	// PrefillShare is the share the split comes from: the plan's, or the
	// one derived from the load.
	PrefillShare float64 `json:"prefill_share"`
	PrefillDP    int     `json:"prefill_dp,omitempty"`
	DecodeDP     int     `json:"decode_dp,omitempty"`
	PrefillNodes int     `json:"prefill_nodes,omitempty"`
	DecodeNodes  int     `json:"decode_nodes,omitempty"`
}

// inNode reports whether a disaggregated group splits its pools inside
// each node (two or more replicas of each instance) rather than across.
func (g group) inNode() bool { return g.DP >= 2 }

// minNodes is the fewest nodes the group can run on: two when its pools
// are on different nodes.
func (g group) minNodes() int {
	if g.Disaggregated && !g.inNode() {
		return 2
	}
	return 1
}

// split divides n (at least 2) into a prefill and a decode part, at
// least one each, for a load whose prefill share of the work is share:
// the split whose busier pool is the least loaded (the fewest prefill
// among equals). Rounding share × n instead can overload the smaller
// pool: for a share of 0.82 on eight GPUs it gives 7 + 1, whose decoder
// carries 0.18 of the work, where 6 + 2 puts at most 0.137 on any GPU.
func split(n int, share float64) (prefill, decode int) {
	best := math.Inf(1)
	for p := 1; p < n; p++ {
		if load := math.Max(share/float64(p), (1-share)/float64(n-p)); load < best-1e-12 {
			best, prefill = load, p
		}
	}
	return prefill, n - prefill
}

// pools is the group's split on n nodes; nil when it is co-located.
func (p *Plan) pools(g group, nodes int) *Pools {
	if !g.Disaggregated {
		return nil
	}
	share := g.PrefillShare
	if share == 0 {
		share = p.prefillShare(g)
	}
	out := &Pools{PrefillShare: math.Round(share*1e4) / 1e4}
	if g.inNode() {
		out.PrefillDP, out.DecodeDP = split(g.DP, share)
	} else {
		out.PrefillNodes, out.DecodeNodes = split(max(nodes, 2), share)
	}
	return out
}

// nodeGroups are the scenario's node groups for group g on n nodes: one
// group as before when co-located; disaggregated, one group whose
// instances are each model's prefill and decode replicas, or a prefill
// group and a decode group. A speculative decoding stays on both pools:
// the prefill side runs the drafter over the prompt too (SGLang's PD
// serving with EAGLE needs the draft model on both), and the KV shipped
// includes the drafter's cache (sim/disagg.go).
func (p *Plan) nodeGroups(name string, g group, nodes int) []scenario.NodeGroup {
	pl := p.pools(g, nodes)
	if pl == nil {
		return []scenario.NodeGroup{p.nodeGroup(name, g, nodes)}
	}
	if g.inNode() {
		ng := p.nodeGroup(name, g, nodes)
		var insts []scenario.Instance
		for _, in := range ng.Instances {
			pre, dec := in, in
			pre.DP, pre.Role = pl.PrefillDP, scenario.RolePrefill
			dec.DP, dec.Role = pl.DecodeDP, scenario.RoleDecode
			insts = append(insts, pre, dec)
		}
		ng.Instances = insts
		return []scenario.NodeGroup{ng}
	}
	pre := p.nodeGroup(name+"-prefill", g, pl.PrefillNodes)
	pre.Role = scenario.RolePrefill
	dec := p.nodeGroup(name+"-decode", g, pl.DecodeNodes)
	dec.Role = scenario.RoleDecode
	return []scenario.NodeGroup{pre, dec}
}

// prefillShare derives a disaggregated group's prefill share from its
// design load on the co-located group's instances: per second, the
// device-time its prompts need (each mean prompt prefilled in full chunks
// from an empty cache) over that plus the device-time of its decodes
// (the mean answer's tokens at the largest batch that the instance's KV
// room at the mean context and, when the model has one, 80% of its TPOT
// target allow). 0.5 when the group does not resolve: analysis then
// rejects it with the resolver's reason.
func (p *Plan) prefillShare(g group) float64 {
	co := g
	co.Disaggregated, co.PrefillShare, co.Speculative = false, 0, nil
	sc, err := scenario.Resolve(co.key(), p.designFile(co, 1, p.File.Seed), p.cat, p.profiles, p.files)
	if err != nil {
		return 0.5
	}
	var pre, dec float64
	seen := map[int]bool{}
	for _, in := range sc.Nodes[0].Instances {
		if seen[in.Model] {
			continue
		}
		seen[in.Model] = true
		m := sc.Models[in.Model]
		sm, err := perf.NewStepModel(in.Hardware, in.Deploy, sc.Nodes[0].Profile)
		if err != nil {
			return 0.5
		}
		rate := m.Workload.Arrival.Rate
		if m.Workload.Arrival.Process == workload.Closed {
			// A closed loop's rate follows the service: its users stand
			// in for it, which weighs the pools right when every model
			// of the group is a closed loop (the prefill to decode ratio
			// is what counts).
			rate = float64(m.Workload.Arrival.Concurrency)
		}
		meanIn, _, _ := lengthStats(m.Workload.Input, m.InputDist)
		meanOut, _, _ := lengthStats(m.Workload.Output, m.OutputDist)
		prompt := max(1, int(math.Round(meanIn)))
		chunk := max(1, in.ChunkTokens)
		var t float64
		for done := 0; done < prompt; done += chunk {
			var b perf.Batch
			b.AddPrefill(min(chunk, prompt-done), done)
			t += sm.Step(b).Seconds
		}
		pre += rate * t
		ctx := prompt + int(meanOut/2)
		room := in.BudgetBytes - in.WeightBytes
		perSeq := float64(ctx) * in.Deploy.Model.KVBytesPerToken(in.Deploy.KV)
		batch := in.MaxSeqs
		if perSeq > 0 {
			batch = min(batch, max(1, int(room/perSeq)))
		}
		step := func(n int) float64 {
			var b perf.Batch
			for range n {
				b.AddDecode(ctx)
			}
			return sm.Step(b).Seconds
		}
		for batch > 1 && m.SLO.TPOTS > 0 && step(batch)/sm.TokensPerStep() > 0.8*m.SLO.TPOTS {
			batch = batch * 3 / 4
		}
		dec += rate * meanOut * step(batch) / (float64(batch) * sm.TokensPerStep())
	}
	if !(pre+dec > 0) {
		return 0.5
	}
	return pre / (pre + dec)
}

// disaggregation checks the space's disaggregation and prefill_share
// lists and defaults the first to [false]; and the plan's [network].
func (c *checker) disaggregation(s *Space, k func(...string) []string) {
	if len(s.Disaggregation) == 0 {
		s.Disaggregation = []bool{false}
	}
	for i, d := range s.Disaggregation {
		if slices.Index(s.Disaggregation, d) < i {
			c.Add(k("disaggregation", tomlcheck.Index(i)), "%v is listed twice", d)
		}
	}
	if len(s.PrefillShare) > 0 && !slices.Contains(s.Disaggregation, true) {
		c.Add(k("prefill_share"), "applies to disaggregated candidates: add true to search.disaggregation")
	}
	for i, v := range s.PrefillShare {
		switch {
		case !(v > 0 && v < 1):
			c.Add(k("prefill_share", tomlcheck.Index(i)), "must be in (0, 1), got %v", v)
		case slices.Index(s.PrefillShare, v) < i:
			c.Add(k("prefill_share", tomlcheck.Index(i)), "%v is listed twice", v)
		}
	}
}

// network checks the plan's [network] as the scenario resolver would, so
// that a bad link is an error of the plan, not of every candidate.
func (c *checker) network(f *File, cat *catalog.Catalog) {
	n := f.Network
	if n == nil {
		return
	}
	if n.Interconnect != "" {
		if _, ok := cat.Interconnects[n.Interconnect]; !ok {
			var valid []string
			for name := range cat.Interconnects {
				valid = append(valid, name)
			}
			slices.Sort(valid)
			c.Add([]string{"network", "interconnect"}, "unknown interconnect %q; valid: %s", n.Interconnect, workload.Join(valid))
		}
	}
	if v := n.BandwidthGBs; v != 0 && !(v > 0 && v <= scenario.MaxNetworkGBs) {
		c.Add([]string{"network", "bandwidth_gbs"}, "must be in (0, %d] GB/s, got %v", scenario.MaxNetworkGBs, v)
	}
	if v := n.LatencyUS; v != 0 && !(v > 0 && v <= scenario.MaxNetworkLatencyUS) {
		c.Add([]string{"network", "latency_us"}, "must be in (0, %.0e] µs, got %v", scenario.MaxNetworkLatencyUS, v)
	}
}

// PoolsLabel describes a candidate's disaggregation for people: per node
// group its split, "qwen3-8b prefill 6 + decode 2 dp" inside each node or
// "qwen3-8b prefill 6 + decode 2 nodes" across them, groups joined by " | ";
// before the search has found the counts, the share it splits by
// ("prefill share derived" or "prefill share 0.75"). Empty when
// co-located.
func (o Outcome) PoolsLabel() string {
	if !o.Disaggregated {
		return ""
	}
	var parts []string
	for _, g := range o.Groups {
		pl := g.Pools
		if pl == nil {
			continue
		}
		unit, pre, dec := "dp", pl.PrefillDP, pl.DecodeDP
		if pl.PrefillNodes > 0 {
			unit, pre, dec = "nodes", pl.PrefillNodes, pl.DecodeNodes
		}
		parts = append(parts, fmt.Sprintf("%s prefill %d + decode %d %s", strings.Join(g.Models, "+"), pre, dec, unit))
	}
	if len(parts) > 0 {
		return strings.Join(parts, " | ")
	}
	if o.PrefillShare > 0 {
		return fmt.Sprintf("prefill share %g", o.PrefillShare)
	}
	return "prefill share derived"
}
