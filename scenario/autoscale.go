package scenario

import (
	"math"
	"slices"

	"github.com/fleettwin/fleettwin/internal/tomlcheck"
	"github.com/fleettwin/fleettwin/workload"
)

// Autoscaling: a node group may hold between Min and Max nodes, sized by a
// policy that reads the group's metrics every ScrapeS, the way a
// Kubernetes HorizontalPodAutoscaler or KEDA scaler drives a vLLM
// deployment: desired = ceil(held × metric / target), scaled up at once
// and down only when every recommendation over the last ScaleDownWindowS
// asks for fewer (the HPA's stabilization window). A new node serves only
// after its cold start (boot, weights read at LoadGBs, warm-up); a node
// scaled down stops taking requests, finishes the ones it has, then is
// off, drawing nothing and, when renting, costing nothing.

// Autoscale is a node group's [nodes.autoscale] table.
type Autoscale struct {
	Min    int             `toml:"min"`
	Max    int             `toml:"max"`
	Policy AutoscalePolicy `toml:"policy,omitempty"` // one of AutoscalePolicies; empty: concurrency
	// Target is the requests in flight per node under the concurrency
	// policy, the busy share (0-1] under utilization, the requests
	// waiting per node under queue, the KV cache's share in use under kv.
	Target float64 `toml:"target"`
	// ScrapeS is how often the metrics are read and acted on; a decision
	// sees the interval just past, so it also is the policy's delay.
	ScrapeS          float64 `toml:"scrape_s,omitempty"`
	ScaleDownWindowS float64 `toml:"scale_down_window_s,omitempty"`
	// The cold start of a new node: BootS (machine and container up),
	// the weights read at LoadGBs (GB/s, 10⁹ bytes, from local disk or
	// the network), then WarmupS (engine start-up, CUDA graph capture).
	BootS   float64 `toml:"boot_s,omitempty"`
	LoadGBs float64 `toml:"load_gbs,omitempty"`
	WarmupS float64 `toml:"warmup_s,omitempty"`
}

// AutoscalePolicy is what metric an autoscaled group follows.
type AutoscalePolicy string

// The policies.
const (
	// ScaleUtilization follows the devices' busy share (nvidia-smi
	// utilization, what DCGM exports), averaged over the group's serving
	// nodes.
	ScaleUtilization AutoscalePolicy = "utilization"
	// ScaleQueue follows the requests waiting per serving node (vLLM's
	// num_requests_waiting metric, a common KEDA trigger).
	ScaleQueue AutoscalePolicy = "queue"
	// ScaleKV follows the share of the KV cache in use (vLLM's
	// kv_cache_usage_perc, GKE's suggested metric for latency). Under
	// continuous batching a device is busy whenever any request runs, so
	// utilization saturates near 100% at modest load and the queue stays
	// empty until the cache is full; the cache's use grows with the load.
	ScaleKV AutoscalePolicy = "kv"
	// ScaleConcurrency follows the requests in flight (running and
	// waiting) per serving node, as Knative's and KServe's autoscaler
	// does by default: by Little's law it is proportional to the load at
	// a given latency, so it neither saturates nor waits for a full cache.
	ScaleConcurrency AutoscalePolicy = "concurrency"
)

// AutoscalePolicies are the valid policies.
var AutoscalePolicies = []AutoscalePolicy{ScaleConcurrency, ScaleUtilization, ScaleQueue, ScaleKV}

// Valid reports whether p is one of AutoscalePolicies.
func (p AutoscalePolicy) Valid() bool { return slices.Contains(AutoscalePolicies, p) }

// DefaultAutoscale holds the defaults of unset fields. They are
// assumptions, not measurements: Prometheus's usual 15 s scrape, the
// Kubernetes HPA's 300 s scale-down stabilization window, a minute to boot
// a cloud GPU VM and start its container, weights at 2 GB/s (a local NVMe
// or a good network store), and 30 s of engine warm-up (vLLM's profiling
// run and CUDA graph capture).
var DefaultAutoscale = Autoscale{Policy: ScaleConcurrency, ScrapeS: 15, ScaleDownWindowS: 300, BootS: 60, LoadGBs: 2, WarmupS: 30}

// Autoscale limits: a day of delay or warm-up is already beyond any real
// deployment; the bandwidth bound is above any storage or NIC.
const (
	MaxAutoscaleS      = 86400
	MaxAutoscaleLoadGB = 10000
)

// ScaleGroup is an autoscaled node group, resolved: its nodes (indices
// into Scenario.Nodes, Max of them), the first Initial of which serve from
// the start, and its rule with defaults applied. ColdStartS is boot, load
// and warm-up for the group's weights.
type ScaleGroup struct {
	Group      string
	Nodes      []int
	Initial    int
	Rule       Autoscale
	ColdStartS float64
}

// groupSize is how many nodes a group builds: Max when it autoscales.
func groupSize(g NodeGroup) int {
	if g.Autoscale != nil && g.Autoscale.Max > 0 {
		return g.Autoscale.Max
	}
	return g.Count
}

// autoscale checks each autoscaled group's table and returns the groups,
// their nodes found in nodes by group name.
func (r *resolver) autoscale(f *File, nodes []Node) []ScaleGroup {
	var groups []ScaleGroup
	for gi, g := range f.Nodes {
		a := g.Autoscale
		if a == nil {
			continue
		}
		k := key("nodes", tomlcheck.Index(gi), "autoscale")
		field := func(name string) []string { return append(append([]string(nil), k...), name) }
		rule := *a
		if rule.Policy == "" {
			rule.Policy = DefaultAutoscale.Policy
		}
		for _, d := range []struct {
			v   *float64
			def float64
		}{{&rule.ScrapeS, DefaultAutoscale.ScrapeS}, {&rule.ScaleDownWindowS, DefaultAutoscale.ScaleDownWindowS},
			{&rule.BootS, DefaultAutoscale.BootS}, {&rule.LoadGBs, DefaultAutoscale.LoadGBs}, {&rule.WarmupS, DefaultAutoscale.WarmupS}} {
			if *d.v == 0 {
				*d.v = d.def
			}
		}
		if a.Min < 1 {
			r.AddKind(tomlcheck.OutOfRange, field("min"), "must be at least 1 (a group scaled to zero cannot answer the request that would wake it), got %d", a.Min)
		}
		if a.Max < max(a.Min, 1) || a.Max > MaxNodes {
			r.AddKind(tomlcheck.OutOfRange, field("max"), "must be between min (%d) and %d, got %d", a.Min, MaxNodes, a.Max)
		}
		if g.Count < a.Min || g.Count > a.Max {
			r.AddKind(tomlcheck.OutOfRange, key("nodes", tomlcheck.Index(gi), "count"), "is the nodes serving at the start of an autoscaled group: must be between autoscale.min (%d) and autoscale.max (%d), got %d", a.Min, a.Max, g.Count)
		}
		if !rule.Policy.Valid() {
			r.Add(field("policy"), "unknown policy %q; valid: %s", a.Policy, workload.Join(AutoscalePolicies))
		}
		switch {
		case (rule.Policy == ScaleUtilization || rule.Policy == ScaleKV) && !(a.Target > 0 && a.Target <= 1):
			r.AddKind(tomlcheck.OutOfRange, field("target"), "is a share under policy %q: must be in (0, 1], got %v", rule.Policy, a.Target)
		case (rule.Policy == ScaleQueue || rule.Policy == ScaleConcurrency) && !(a.Target > 0 && a.Target <= workload.MaxConcurrency):
			r.AddKind(tomlcheck.OutOfRange, field("target"), "is requests per node under policy %q: must be in (0, %d], got %v", rule.Policy, workload.MaxConcurrency, a.Target)
		}
		for _, d := range []struct {
			name string
			v    float64
			lo   float64
		}{{"scrape_s", rule.ScrapeS, 0}, {"scale_down_window_s", rule.ScaleDownWindowS, -1}, {"boot_s", rule.BootS, -1}, {"warmup_s", rule.WarmupS, -1}} {
			if !(d.v > d.lo && d.v <= MaxAutoscaleS) {
				r.AddKind(tomlcheck.OutOfRange, field(d.name), "must be in [0, %d] s (scrape_s above 0), got %v", MaxAutoscaleS, d.v)
			}
		}
		if !(rule.LoadGBs > 0 && rule.LoadGBs <= MaxAutoscaleLoadGB) {
			r.AddKind(tomlcheck.OutOfRange, field("load_gbs"), "must be in (0, %d] GB/s, got %v", MaxAutoscaleLoadGB, rule.LoadGBs)
		}
		if g.Role != "" || slices.ContainsFunc(g.Instances, func(in Instance) bool { return in.Role != "" }) {
			r.Add(k, "a disaggregated (role) group cannot autoscale yet: scale its prefill and decode pools as fixed groups")
		}
		sg := ScaleGroup{Group: g.Name, Initial: g.Count, Rule: rule}
		weights := 0.0
		for ni, n := range nodes {
			if n.Group != g.Name {
				continue
			}
			sg.Nodes = append(sg.Nodes, ni)
			if len(sg.Nodes) == 1 {
				for _, in := range n.Instances {
					weights += in.WeightBytes // over all its devices; the node reads them through one source
				}
			}
		}
		if rule.LoadGBs > 0 {
			sg.ColdStartS = rule.BootS + weights/(rule.LoadGBs*1e9) + rule.WarmupS
		}
		if math.IsNaN(sg.ColdStartS) || math.IsInf(sg.ColdStartS, 0) {
			sg.ColdStartS = 0
		}
		groups = append(groups, sg)
	}
	return groups
}
