package scenario

import (
	"slices"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/workload"
)

// Disaggregated prefill and decode (vLLM's and SGLang's PD disaggregation,
// DistServe, Mooncake): a served model's prompts run on prefill-role
// instances, which return the first token, and its KV cache then travels
// to a decode-role instance that generates the rest. A role is set on a
// node group (role = "prefill" | "decode") or on one instance, which
// overrides its group's; without one an instance does both, as before.
//
// The rule, so that every request has a path: a model's instances are all
// of one kind, co-located (no role) or disaggregated (prefill and decode,
// at least one of each); and an instance with a role has its device(s) to
// itself (a node of one device running one instance, or a node of several
// where instances own their devices), since what an engine shares with a
// neighbour while it also ships KV is not modelled.

// Role is what part of a request an instance serves.
type Role string

// The roles; an instance without one serves both phases.
const (
	RolePrefill Role = "prefill" // runs the prompt, returns the first token, ships the KV
	RoleDecode  Role = "decode"  // receives the KV and generates the rest
)

// Roles are the valid roles, in the order errors list them.
var Roles = []Role{RolePrefill, RoleDecode}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Network is the link between nodes that KV transfers cross: a catalog
// interconnect by name, or its figures, the figures overriding the named
// link's. Within a node of several devices transfers take the node type's
// own interconnect (NVLink, PCIe).
type Network struct {
	Interconnect string  `toml:"interconnect,omitempty"`
	BandwidthGBs float64 `toml:"bandwidth_gbs,omitempty"` // per port and direction, GB/s (10⁹ bytes)
	LatencyUS    float64 `toml:"latency_us,omitempty"`
}

// DefaultNetwork is a 400 Gb/s RDMA port per device (InfiniBand NDR or
// 400 GbE RoCE): the DGX H100/H200 user guide lists eight single-port
// ConnectX-7 400 Gb/s adapters, one per GPU, and NVIDIA's ConnectX-7
// datasheet gives 400 Gb/s = 50 GB/s per direction. The latency is NCCL's
// network hop (src/graph/tuning.cc hwLat[NET][Ring][LL], 2.7 µs), as the
// catalog's connectx7-roce-200g link.
var DefaultNetwork = catalog.Interconnect{Name: "rdma-400g", DisplayName: "400 Gb/s RDMA (InfiniBand NDR / RoCE), one port per device",
	BandwidthGBs: 50, LatencyUS: 2.7}

// Network limits: above any NIC built (1.6 Tb/s is 200 GB/s), below a
// transfer's latency that would dwarf any run.
const (
	MaxNetworkGBs       = 10000
	MaxNetworkLatencyUS = 1e6
)

// network resolves the scenario's [network] table.
func (r *resolver) network(f *File) catalog.Interconnect {
	link := DefaultNetwork
	n := f.Network
	if n == nil {
		return link
	}
	if n.Interconnect != "" {
		l, ok := r.cat.Interconnects[n.Interconnect]
		if !ok {
			var valid []string
			for name := range r.cat.Interconnects {
				valid = append(valid, name)
			}
			slices.Sort(valid)
			r.AddKind(tomlcheck.NotFound, key("network", "interconnect"), "unknown interconnect %q; valid: %s", n.Interconnect, workload.Join(valid))
		} else {
			link = l
			link.Name = n.Interconnect
		}
	}
	if n.BandwidthGBs != 0 {
		if !(n.BandwidthGBs > 0 && n.BandwidthGBs <= MaxNetworkGBs) {
			r.AddKind(tomlcheck.OutOfRange, key("network", "bandwidth_gbs"), "must be in (0, %d] GB/s, got %v", MaxNetworkGBs, n.BandwidthGBs)
		}
		link.BandwidthGBs = n.BandwidthGBs
	}
	if n.LatencyUS != 0 {
		if !(n.LatencyUS > 0 && n.LatencyUS <= MaxNetworkLatencyUS) {
			r.AddKind(tomlcheck.OutOfRange, key("network", "latency_us"), "must be in (0, %.0e] µs, got %v", MaxNetworkLatencyUS, n.LatencyUS)
		}
		link.LatencyUS = n.LatencyUS
	}
	return link
}

// roles resolves each instance's role (its own, else its group's) and
// checks the rule above: a valid role, on an instance that has its
// devices to itself, and every model either co-located or with both pools.
func (r *resolver) roles(f *File, nodes []Node, models []Model) {
	type pools struct{ both, prefill, decode int }
	per := make([]pools, len(models))
	for gi, g := range f.Nodes {
		k := key("nodes", tomlcheck.Index(gi))
		if g.Role != "" && !g.Role.Valid() {
			r.Add(append(k, "role"), "unknown role %q; valid: %s (leave it out for instances that do both)", g.Role, workload.Join(Roles))
		}
		for ii, in := range g.Instances {
			if in.Role != "" && !in.Role.Valid() {
				r.Add(append(append([]string(nil), k...), "instances", tomlcheck.Index(ii), "role"), "unknown role %q; valid: %s", in.Role, workload.Join(Roles))
			}
		}
	}
	for ni := range nodes {
		n := &nodes[ni]
		gi := slices.IndexFunc(f.Nodes, func(g NodeGroup) bool { return g.Name == n.Group })
		if gi < 0 {
			continue
		}
		g := f.Nodes[gi]
		for i := range n.Instances {
			inst := &n.Instances[i]
			src := g.Instances[inst.src]
			role := g.Role
			field := append(key("nodes", tomlcheck.Index(gi)), "role")
			if src.Role != "" {
				role = src.Role
				field = append(key("nodes", tomlcheck.Index(gi)), "instances", tomlcheck.Index(inst.src), "role")
			}
			if !role.Valid() {
				role = ""
			}
			inst.Role = role
			if role != "" && n.Devices <= 1 && len(g.Instances) > 1 && ni == slices.IndexFunc(nodes, func(o Node) bool { return o.Group == n.Group }) {
				r.Add(field, "role %q needs the instance to have its device to itself: %s runs %d instances on one device (give each its own node group)", role, g.Name, len(g.Instances))
			}
			p := &per[inst.Model]
			switch role {
			case RolePrefill:
				p.prefill++
			case RoleDecode:
				p.decode++
			default:
				p.both++
			}
		}
	}
	for mi, m := range models {
		p := per[mi]
		k := key("models", m.Name)
		switch {
		case p.prefill+p.decode == 0:
		case p.both > 0:
			r.Add(k, "%q has instances with role = \"prefill\" or \"decode\" and %d without one: a model's instances are all co-located or all disaggregated", m.Name, p.both)
		case p.decode == 0:
			r.Add(k, "%q has a prefill pool (%d instance(s)) and no decode pool: set role = \"decode\" on a node group that runs it", m.Name, p.prefill)
		case p.prefill == 0:
			r.Add(k, "%q has a decode pool (%d instance(s)) and no prefill pool: set role = \"prefill\" on a node group that runs it", m.Name, p.decode)
		}
	}
}
