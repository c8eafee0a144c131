package scenario

import (
	"slices"

	"github.com/fleettwin/fleettwin/workload"
)

// Prefix caching (vLLM's automatic prefix caching, SGLang's radix cache):
// an instance keeps the KV blocks of finished requests, identified by a
// hash of the tokens up to and including each block, and a later request
// whose prompt starts with the same blocks skips their prefill. The switch
// is prefix_caching on a node group or one instance (which overrides its
// group's). Unset, it is on where the instance's model states something
// its requests share (a workload prefix, sessions, or a trace with hash
// ids), as vLLM V1 and SGLang enable it by default, and off elsewhere:
// traffic that shares nothing would hit nothing, so leaving it off there
// keeps every earlier result as it was. A decode-role instance runs no
// prompts and caches nothing.

// Shares reports whether a model's traffic states a prefix its requests
// share: what turns prefix caching on by default.
func (m Model) Shares() bool {
	w := m.Workload
	if w.Prefix != nil || w.Sessions != nil {
		return true
	}
	return slices.ContainsFunc(m.Trace, func(t workload.TraceRecord) bool { return len(t.HashIDs) > 0 })
}

// prefixCaching resolves each instance's prefix caching: its own switch,
// else its group's, else on where its model's traffic shares a prefix.
func (r *resolver) prefixCaching(f *File, nodes []Node, models []Model) {
	for ni := range nodes {
		n := &nodes[ni]
		gi := slices.IndexFunc(f.Nodes, func(g NodeGroup) bool { return g.Name == n.Group })
		if gi < 0 {
			continue
		}
		g := f.Nodes[gi]
		for i := range n.Instances {
			inst := &n.Instances[i]
			if inst.Model < 0 || inst.Model >= len(models) || inst.src >= len(g.Instances) {
				continue
			}
			on := models[inst.Model].Shares()
			if g.PrefixCaching != nil {
				on = *g.PrefixCaching
			}
			if src := g.Instances[inst.src].PrefixCaching; src != nil {
				on = *src
			}
			inst.PrefixCaching = on && inst.Role != RoleDecode
		}
	}
}
