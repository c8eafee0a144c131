package planner

import (
	"context"
	"fmt"
	"math"

	"github.com/fleettwin/fleettwin/scenario"
)

// The winner is sized for the peak hour. A plan with an [autoscale] table
// also runs the winner's day with each of its node groups scaling between
// a minimum and the count the search found, on that rule, so the report
// compares the fleet fixed at the peak with one that follows the day, in
// cost and SLO attainment, and shows the nodes it held.

// checkAutoscale checks the plan's [autoscale] table: a scenario's
// [nodes.autoscale] whose max is the winner's node count and whose min,
// when left out, is what the quietest hour needs.
func (c *checker) checkAutoscale(f *File) {
	a := f.Autoscale
	if a == nil {
		return
	}
	k := func(name string) []string { return []string{"autoscale", name} }
	if a.Max != 0 {
		c.Add(k("max"), "is the winner's node count of each group; leave it out")
	}
	if a.Min < 0 || a.Min > scenario.MaxNodes {
		c.Add(k("min"), "must be 0 (what the quietest hour needs) or a node count, got %d", a.Min)
	}
	policy := a.Policy
	if policy == "" {
		policy = scenario.DefaultAutoscale.Policy
	}
	if !policy.Valid() {
		c.Add(k("policy"), "unknown policy %q; valid: %v", a.Policy, scenario.AutoscalePolicies)
	}
	share := policy == scenario.ScaleUtilization || policy == scenario.ScaleKV
	if !(a.Target > 0) || share && a.Target > 1 || math.IsInf(a.Target, 0) {
		c.Add(k("target"), "must be positive (at most 1 for policy %q), got %v", policy, a.Target)
	}
	for _, d := range []struct {
		name string
		v    float64
	}{{"scrape_s", a.ScrapeS}, {"scale_down_window_s", a.ScaleDownWindowS}, {"boot_s", a.BootS}, {"load_gbs", a.LoadGBs}, {"warmup_s", a.WarmupS}} {
		if !(d.v >= 0 && d.v <= scenario.MaxAutoscaleS) {
			c.Add(k(d.name), "must be 0 (the default) or positive up to %d, got %v", scenario.MaxAutoscaleS, d.v)
		}
	}
}

// quietShare is the quietest hour's load over the peak hour's, over the
// models with a diurnal profile (1 without one).
func (p *Plan) quietShare() float64 {
	share := 1.0
	for _, m := range p.File.Models {
		d := m.Workload.Arrival.Diurnal
		if len(d) == 0 {
			continue
		}
		lo, hi := math.Inf(1), 0.0
		for _, v := range d {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if hi > 0 {
			share = math.Min(share, lo/hi)
		}
	}
	return share
}

// scaledDay simulates the winner's day with its node groups autoscaled
// and returns it with the nodes held per bin; nil when the plan has no
// [autoscale] table.
func (p *Plan) scaledDay(ctx context.Context, o *Outcome, seed uint64, progress func(Verifying)) (*DayRun, error) {
	a := p.File.Autoscale
	if a == nil {
		return nil, nil
	}
	f := p.winnerFile(o, seed, true)
	f.Name = p.Name + "-winner-autoscaled"
	for i := range f.Nodes {
		g := &f.Nodes[i]
		rule := *a
		rule.Max = g.Count
		if rule.Min == 0 {
			rule.Min = int(math.Ceil(float64(g.Count) * p.quietShare()))
		}
		rule.Min = min(max(rule.Min, 1), g.Count)
		g.Autoscale = &rule
	}
	sc, err := scenario.Resolve(f.Name, f, p.cat, p.profiles, p.files)
	if err != nil {
		return nil, fmt.Errorf("the autoscaled day: %w", err)
	}
	res, err := p.run(ctx, sc, p.verifyOptions(p.File.VerifySeeds+2, f, progress))
	if err != nil {
		return nil, err
	}
	m, err := metrics(sc, res)
	if err != nil {
		return nil, err
	}
	day := dayRun(seed, res, m)
	for _, g := range res.Autoscale {
		day.NodeHours += g.NodeHours
		day.MeanNodes += g.MeanNodes
		if day.NodesHeld == nil {
			day.NodesHeld = make([]float64, len(g.NodesHeld))
		}
		for i := range min(len(day.NodesHeld), len(g.NodesHeld)) {
			day.NodesHeld[i] += g.NodesHeld[i]
		}
		g.NodesHeld = nil // summed over the groups in day.NodesHeld
		day.Groups = append(day.Groups, g)
	}
	return day, nil
}
