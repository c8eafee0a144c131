package planner

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

// Result is a finished plan: the configurations that meet every target,
// cheapest first, the cost-latency Pareto front among them, why each of
// the others was turned down, and the winner checked again.
type Result struct {
	Plan       string `json:"plan"`
	PlanSHA256 string `json:"plan_sha256"`
	Seed       uint64 `json:"seed"`
	Candidates int    `json:"candidates"`
	// Ranked holds the feasible, non-dominated configurations by monthly
	// cost, then index.
	Ranked []Outcome `json:"ranked"`
	// Pareto lists the indices of the ranked configurations that no other
	// beats on both cost and worst-model p95 TPOT, cheapest first.
	Pareto   []int          `json:"pareto"`
	Rejected []Outcome      `json:"rejected"` // by index
	Reasons  map[string]int `json:"reasons"`  // rejected configurations per reason
	// Layouts answers "share nodes or not?": the cheapest configuration
	// of each placement the space holds.
	Layouts []LayoutBest `json:"layouts"`
	// Winner is the cheapest ranked configuration that meets every
	// target again on fresh seeds; Unverified are the cheaper ones that
	// did not (they passed the search by a margin the seeds' noise hides).
	// When none of the first few verifies, the cheapest is the winner and
	// its Verify says what it missed.
	// Profiles are the provenance of the profiles the configurations rest
	// on: the ranked ones' first, then the rejected ones'.
	Profiles   []perf.ProvenanceInfo `json:"profiles,omitempty"`
	Winner     *Outcome              `json:"winner,omitempty"`
	Verify     *Verification         `json:"verify,omitempty"`
	Unverified []Unverified          `json:"unverified,omitempty"`
}

// LayoutBest is the cheapest feasible configuration of one placement, and
// what failed with fewer nodes.
type LayoutBest struct {
	Layout string `json:"layout"`
	// Index is the cheapest feasible configuration's, -1 when none is.
	Index       int     `json:"index"`
	Nodes       int     `json:"nodes,omitempty"`
	USDPerMonth float64 `json:"usd_per_month,omitempty"`
	// FewerNodes says why fewer nodes would not do (empty when the
	// capacity bound alone rules them out), or why no configuration of
	// the placement works.
	FewerNodes string `json:"fewer_nodes,omitempty"`
}

// Unverified is a ranked configuration that missed a target on a fresh
// seed.
type Unverified struct {
	Index int         `json:"index"`
	Runs  []VerifyRun `json:"runs"`
}

// maxVerified bounds how far down the ranking Finish looks for a
// configuration that verifies.
const maxVerified = 5

// Verification re-simulates the winner, all its node groups together, on
// fresh seeds at the design load, and once over a day of the plan's own
// traffic (its diurnal profile, times the growth) for the charts.
type Verification struct {
	Runs []VerifyRun `json:"runs"`
	Met  bool        `json:"met"` // every run met every target
	Day  *DayRun     `json:"day,omitempty"`
	// ScaledDay is the same day with each node group autoscaled up to
	// the winner's count (the plan's [autoscale]; planner/autoscale.go).
	ScaledDay *DayRun `json:"scaled_day,omitempty"`
}

// VerifyRun is one fresh-seed run of the winner.
type VerifyRun struct {
	Seed    uint64   `json:"seed"`
	Met     bool     `json:"met"`
	Reason  string   `json:"reason,omitempty"`
	Detail  string   `json:"detail,omitempty"`
	Metrics *Metrics `json:"metrics"`
}

// DayRun is the winner over a day (or the window, when no model has a
// diurnal profile): its cost and the fleet's series.
type DayRun struct {
	Seed      uint64    `json:"seed"`
	DurationS float64   `json:"duration_s"`
	Metrics   *Metrics  `json:"metrics"`
	BinS      float64   `json:"bin_s"`
	Util      []float64 `json:"utilization"` // mean over devices
	PowerW    []float64 `json:"power_w"`     // all devices
	TempC     []float64 `json:"temp_c"`      // hottest device
	Throttled []float64 `json:"throttled"`   // mean share below full clock
	// An autoscaled day's node-hours after warm-up, mean nodes held, the
	// nodes held per bin (all groups) and each group's run.
	NodeHours float64           `json:"node_hours,omitempty"`
	MeanNodes float64           `json:"mean_nodes,omitempty"`
	NodesHeld []float64         `json:"nodes_held,omitempty"`
	Groups    []sim.ScaleResult `json:"groups,omitempty"` // each group's run, its nodes_held left out
}

// MaxShards bounds how many slices a search may be split into: far more
// than configurations in any plan worth sharding.
const MaxShards = 100_000

// Merge joins the shards of one plan into the outcome of the whole space,
// as if one process had searched it. Every shard of the same plan and
// split must be present exactly once.
func Merge(shards []*Shard) (*Shard, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("merge: no shards")
	}
	first := shards[0]
	if first.Shards < 1 || first.Shards > MaxShards {
		return nil, fmt.Errorf("merge: input 1 claims %d shards; want 1 to %d", first.Shards, MaxShards)
	}
	seen := make([]bool, first.Shards)
	out := &Shard{Plan: first.Plan, PlanSHA256: first.PlanSHA256, Source: first.Source, Shard: 0, Shards: 1, Candidates: first.Candidates}
	for i, s := range shards {
		switch {
		case s.PlanSHA256 != first.PlanSHA256:
			return nil, fmt.Errorf("merge: shard %d/%d (input %d) is of a different plan (sha256 %.12s, not %.12s)", s.Shard, s.Shards, i+1, s.PlanSHA256, first.PlanSHA256)
		case s.Shards != first.Shards:
			return nil, fmt.Errorf("merge: input %d is shard %d of %d, input 1 is of %d", i+1, s.Shard, s.Shards, first.Shards)
		case s.Shard < 0 || s.Shard >= s.Shards:
			return nil, fmt.Errorf("merge: input %d: shard %d of %d does not exist", i+1, s.Shard, s.Shards)
		case seen[s.Shard]:
			return nil, fmt.Errorf("merge: shard %d/%d given twice", s.Shard, s.Shards)
		}
		seen[s.Shard] = true
		out.Outcomes = append(out.Outcomes, s.Outcomes...)
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("merge: shard %d/%d is missing", i, first.Shards)
		}
	}
	slices.SortFunc(out.Outcomes, func(a, b Outcome) int { return cmp.Compare(a.Index, b.Index) })
	if len(out.Outcomes) != out.Candidates {
		return nil, fmt.Errorf("merge: %d outcomes for %d candidates", len(out.Outcomes), out.Candidates)
	}
	for i, o := range out.Outcomes {
		if o.Index != i {
			return nil, fmt.Errorf("merge: candidate %d is missing or repeated", i)
		}
	}
	return out, nil
}

// Finish classifies a whole space's outcomes (one run's, or merged
// shards'), ranks the feasible, draws the Pareto front and verifies the
// winner. Whatever pruned what during the search, the classification here
// is the same: a candidate is dominated when any feasible one dominates
// its bounds, so n shards and one run finish identically.
//
// progress, if not nil, hears how far the winner's re-simulations are.
func (p *Plan) Finish(ctx context.Context, s *Shard, progress func(Verifying)) (*Result, error) {
	if s.Shards != 1 || len(s.Outcomes) != s.Candidates {
		return nil, fmt.Errorf("plan %s: shard %d/%d holds %d of %d candidates: merge the shards first", p.Name, s.Shard, s.Shards, len(s.Outcomes), s.Candidates)
	}
	if err := p.checkOutcomes(s); err != nil {
		return nil, err
	}
	r := &Result{Plan: s.Plan, PlanSHA256: s.PlanSHA256, Seed: p.File.Seed, Candidates: s.Candidates, Reasons: map[string]int{}}
	// The feasible, then those not too costly, then those no such one
	// dominates: each set is the same whichever run or shards produced
	// the outcomes, so every classification below is too.
	var feasible, affordable []*Outcome
	for i := range s.Outcomes {
		if o := &s.Outcomes[i]; o.Feasible {
			feasible = append(feasible, o)
		}
	}
	costly := make([]string, len(s.Outcomes))
	for i := range s.Outcomes {
		o := &s.Outcomes[i]
		if o.analyzedOut() {
			continue
		}
		if costly[i] = p.costly(o, feasible); costly[i] == "" && o.Feasible {
			affordable = append(affordable, o)
		}
	}
	var ranked []*Outcome
	for _, o := range affordable {
		if dominator(o, affordable) == nil {
			ranked = append(ranked, o)
		}
	}
	for i, o := range s.Outcomes {
		switch {
		case costly[i] != "":
			o = Outcome{Candidate: o.Candidate, Key: o.Key, Bounds: o.Bounds, Reason: ReasonCostly, Detail: costly[i]}
		case o.analyzedOut():
			// as it is
		case dominator(&o, affordable) != nil:
			by := dominator(&o, ranked)
			if by == nil {
				by = dominator(&o, affordable)
			}
			o = Outcome{Candidate: o.Candidate, Key: o.Key, Bounds: o.Bounds, Reason: ReasonDominated, Detail: dominatedDetail(by)}
		}
		if o.Feasible {
			r.Ranked = append(r.Ranked, o)
			continue
		}
		o.Evaluated = false // the reason says why; trials stay in the groups
		r.Rejected = append(r.Rejected, o)
		r.Reasons[o.Reason]++
	}
	slices.SortStableFunc(r.Ranked, func(a, b Outcome) int {
		return cmp.Or(cmp.Compare(a.Metrics.USDPerHour, b.Metrics.USDPerHour), cmp.Compare(a.Index, b.Index))
	})
	best := math.Inf(1)
	for _, o := range r.Ranked { // cheapest first: on the front if faster than all cheaper
		if o.Metrics.WorstTPOTP95 < best {
			r.Pareto = append(r.Pareto, o.Index)
			best = o.Metrics.WorstTPOTP95
		}
	}
	// Placements are judged on the classified outcomes, not the raw ones,
	// whose pruning depends on how the work was split.
	classified := append(slices.Clone(r.Rejected), r.Ranked...)
	slices.SortFunc(classified, func(a, b Outcome) int { return cmp.Compare(a.Index, b.Index) })
	r.Layouts = layoutsBest(classified, r.Ranked)
	p.markProvenance(r)
	if len(r.Ranked) == 0 {
		return r, nil
	}
	// The cheapest that holds on fresh seeds wins; if none of the first
	// few does, the cheapest wins and its verification says it missed.
	pick, found := 0, false
	var pickRuns []VerifyRun // the picked one's runs on the fresh seeds
	for i := range min(len(r.Ranked), maxVerified) {
		runs, met, err := p.verifySeeds(ctx, &r.Ranked[i], progress)
		if err != nil {
			return r, fmt.Errorf("plan %s: verifying #%d: %w", p.Name, r.Ranked[i].Index, err)
		}
		if i == 0 || met {
			pickRuns = runs
		}
		if met {
			pick, found = i, true
			break
		}
		r.Unverified = append(r.Unverified, Unverified{Index: r.Ranked[i].Index, Runs: runs})
	}
	if !found {
		r.Unverified = r.Unverified[1:] // the cheapest stays the winner; its Verify says what it missed
	}
	w := r.Ranked[pick]
	r.Winner = &w
	// The fresh seeds' runs are deterministic: the winner's are those of
	// the loop above, not simulated again.
	var early *earlyDay
	if e := s.early; e != nil {
		defer e.stop() // release its context
		if e.index == w.Index {
			early = e
		} else {
			e.stop() // another won: its day is not needed
		}
	}
	v, err := p.verify(ctx, &w, pickRuns, found, early, progress)
	if err != nil {
		return r, fmt.Errorf("plan %s: verifying the winner #%d: %w", p.Name, w.Index, err)
	}
	r.Verify = v
	return r, nil
}

// winnerFile is the winner's whole fleet: each node group with the node
// count its search found.
func (p *Plan) winnerFile(o *Outcome, seed uint64, day bool) *scenario.File {
	f := p.baseFile(p.Models, seed)
	f.Name = p.Name + "-winner"
	f.DurationS = p.File.WarmupS + p.File.WindowS
	hasDiurnal := false
	for name, m := range f.Models {
		if len(m.Workload.Arrival.Diurnal) > 0 {
			hasDiurnal = true
		}
		if day {
			m.Workload.Arrival = scaleArrival(m.Workload.Arrival, p.File.Growth)
		} else {
			m.Workload.Arrival = p.designArrival(m.Workload.Arrival)
		}
		f.Models[name] = m
	}
	if day && hasDiurnal {
		f.DurationS = 86400
		f.SeriesResolutionS = 600
	}
	for i, g := range o.groups() {
		f.Nodes = append(f.Nodes, p.nodeGroups(fmt.Sprintf("g%d", i), g, o.Groups[i].Metrics.Nodes)...)
	}
	return f
}

// Verifying is how far Finish is in re-simulating the winner: run Run of
// Runs (the fresh seeds, then the day), at NowS of DurationS simulated
// seconds.
type Verifying struct {
	Run, Runs       int
	NowS, DurationS float64
}

// verifySeed is the first fresh seed: far from the replicas' seeds.
const verifySeed = 1000

// verifySeeds simulates o at the design load on the fresh seeds.
func (p *Plan) verifySeeds(ctx context.Context, o *Outcome, progress func(Verifying)) ([]VerifyRun, bool, error) {
	var runs []VerifyRun
	met := true
	for k := range p.File.VerifySeeds {
		seed := p.File.Seed + verifySeed + uint64(k)
		f := p.winnerFile(o, seed, false)
		m, v, err := p.simulateAndJudge(ctx, f, p.verifyOptions(k+1, f, progress))
		if err != nil {
			return nil, false, err
		}
		run := VerifyRun{Seed: seed, Met: v.reason == "", Reason: v.reason, Detail: v.detail, Metrics: m}
		met = met && run.Met
		runs = append(runs, run)
	}
	return runs, met, nil
}

func (p *Plan) verifyOptions(run int, f *scenario.File, progress func(Verifying)) sim.Options {
	if progress == nil {
		return sim.Options{}
	}
	runs := p.File.VerifySeeds + 1
	if p.File.Autoscale != nil {
		runs++ // the autoscaled day
	}
	return sim.Options{OnSnapshot: func(s sim.Snapshot) {
		progress(Verifying{Run: run, Runs: runs, NowS: s.NowS, DurationS: f.DurationS})
	}}
}

// verify records the winner's runs on the fresh seeds (verifySeeds's) and
// simulates its day.
func (p *Plan) verify(ctx context.Context, o *Outcome, runs []VerifyRun, met bool, early *earlyDay, progress func(Verifying)) (*Verification, error) {
	v := &Verification{Runs: runs, Met: met}
	seed := p.File.Seed + verifySeed
	var sc *scenario.Scenario
	var res *sim.Result
	var err error
	if early != nil { // the search began this day: wait for it
		select {
		case <-early.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		sc, res, err = early.sc, early.res, early.err
	} else {
		f := p.winnerFile(o, seed, true)
		if sc, err = scenario.Resolve(f.Name, f, p.cat, p.profiles, p.files); err == nil {
			res, err = p.run(ctx, sc, p.verifyOptions(p.File.VerifySeeds+1, f, progress))
		}
	}
	if err != nil {
		return nil, err
	}
	m, err := metrics(sc, res)
	if err != nil {
		return nil, err
	}
	v.Day = dayRun(seed, res, m)
	if v.ScaledDay, err = p.scaledDay(ctx, o, seed, progress); err != nil {
		return nil, err
	}
	return v, nil
}

// dayRun is a day's cost, latency and fleet series.
func dayRun(seed uint64, res *sim.Result, m *Metrics) *DayRun {
	day := &DayRun{Seed: seed, DurationS: res.DurationS, Metrics: m}
	for _, s := range res.Series {
		day.BinS = s.BinS
		if day.Util == nil {
			n := len(s.Utilization)
			day.Util, day.PowerW, day.TempC, day.Throttled = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		}
		for i := range min(len(day.Util), len(s.Utilization)) {
			day.Util[i] += s.Utilization[i] / float64(len(res.Series))
			day.PowerW[i] += s.PowerW[i]
			day.TempC[i] = math.Max(day.TempC[i], s.TempC[i])
			day.Throttled[i] += s.Throttled[i] / float64(len(res.Series))
		}
	}
	return day
}

// layoutsBest picks each placement's cheapest ranked configuration (the
// ranked list is cheapest first) in the order placements first appear in
// all, the classified outcomes by index.
func layoutsBest(all, ranked []Outcome) []LayoutBest {
	var out []LayoutBest
	at := map[string]int{}
	for _, o := range all {
		l := o.Layout()
		if _, ok := at[l]; !ok {
			at[l] = len(out)
			out = append(out, LayoutBest{Layout: l, Index: -1})
		}
	}
	for _, o := range ranked {
		lb := &out[at[o.Layout()]]
		if lb.Index >= 0 {
			continue
		}
		lb.Index, lb.Nodes, lb.USDPerMonth = o.Index, o.Metrics.Nodes, o.Metrics.USDPerMonth
		for _, g := range o.Groups {
			var failed *Trial
			for i, t := range g.Trials {
				if !t.OK && (failed == nil || t.Nodes > failed.Nodes) {
					failed = &g.Trials[i]
				}
			}
			if failed != nil {
				if lb.FewerNodes != "" {
					lb.FewerNodes += "; "
				}
				lb.FewerNodes += fmt.Sprintf("%d× [%s]: %s", failed.Nodes, strings.Join(g.Models, "+"), failed.Detail)
			}
		}
	}
	for i := range out {
		if out[i].Index >= 0 {
			continue
		}
		for _, o := range all { // the first rejection of the placement says why
			if o.Layout() == out[i].Layout && o.Reason != "" && o.Reason != ReasonDominated && o.Reason != ReasonCostly {
				out[i].FewerNodes = o.Reason + ": " + o.Detail
				break
			}
		}
	}
	return out
}
