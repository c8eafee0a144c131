package planner

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
)

// Outcome is what the search learned of one candidate.
type Outcome struct {
	Candidate
	Key    string `json:"key"`
	Bounds Bounds `json:"bounds"`
	// Evaluated is false for candidates rejected by analysis or pruned as
	// dominated before any simulation.
	Evaluated bool           `json:"evaluated"`
	Feasible  bool           `json:"feasible"`
	Reason    string         `json:"reason,omitempty"`
	Detail    string         `json:"detail,omitempty"`
	Groups    []GroupOutcome `json:"groups,omitempty"`
	Metrics   *Metrics       `json:"metrics,omitempty"` // every group together
	// Provenance is the label of the profile the configuration's numbers
	// rest on (perf.Profile.Label), followed by its FormatPriors; Prior is
	// true when that profile was not fitted to measurements; FormatPriors
	// are the weight formats of its models that rest on a prior or a
	// carried factor under a fitted profile (perf.Profile.FormatPriors).
	// Finish sets them.
	Provenance   string   `json:"provenance,omitempty"`
	Prior        bool     `json:"prior,omitempty"`
	FormatPriors []string `json:"format_priors,omitempty"`
}

// Shard is the outcome of one slice of the search space: candidates whose
// index modulo Shards is Shard. A whole run is shard 0 of 1.
type Shard struct {
	Plan       string    `json:"plan"`
	PlanSHA256 string    `json:"plan_sha256"`
	Source     string    `json:"source"` // the plan's TOML, for merge
	Shard      int       `json:"shard"`
	Shards     int       `json:"shards"`
	Candidates int       `json:"candidates"` // in the whole space
	Outcomes   []Outcome `json:"outcomes"`

	early *earlyDay // a whole search's winner's day, begun (earlyday.go)
}

// Options control a search.
type Options struct {
	Workers int // parallel simulations; 0 uses every core
	// Shard and Shards select a slice of the space (0 and 1: all of it).
	Shard, Shards int
	// Progress, if set, is called after each candidate is settled.
	Progress func(Progress)
}

// Progress counts settled candidates of the slice being searched.
type Progress struct {
	Done, Total int
	Simulations int64 // scenario runs so far
}

// waveSize is how many candidates are settled between two pruning
// decisions. It is a constant, not the worker count, so that what is
// pruned never depends on the machine.
const waveSize = 16

// Search evaluates the plan's candidates (one slice of them with
// Options.Shard) and returns their outcomes in index order.
func (p *Plan) Search(ctx context.Context, opt Options) (*Shard, error) {
	if opt.Shards == 0 {
		opt.Shards = 1
	}
	if opt.Shard < 0 || opt.Shard >= opt.Shards {
		return nil, fmt.Errorf("plan %s: shard %d of %d does not exist", p.Name, opt.Shard, opt.Shards)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	all := p.Candidates()
	out := &Shard{Plan: p.Name, PlanSHA256: p.sha(), Source: string(p.Source), Shard: opt.Shard, Shards: opt.Shards, Candidates: len(all)}
	var mine []Candidate
	for _, c := range all {
		if c.Index%opt.Shards == opt.Shard {
			mine = append(mine, c)
		}
	}
	s := &searcher{plan: p, groups: map[string]*groupEntry{}}
	outcomes := make([]Outcome, len(mine))
	done := 0
	report := func() {
		if opt.Progress != nil {
			opt.Progress(Progress{Done: done, Total: len(mine), Simulations: s.sims.Load()})
		}
	}
	var viable []int
	for i, c := range mine {
		outcomes[i] = s.analyze(c)
		if outcomes[i].Reason == "" {
			viable = append(viable, i)
		} else {
			done++
		}
	}
	report()
	// Cheapest bound first: the feasible answers found early prune the
	// costly rest.
	slices.SortStableFunc(viable, func(a, b int) int {
		return cmp.Or(cmp.Compare(outcomes[a].Bounds.USDPerHour, outcomes[b].Bounds.USDPerHour), cmp.Compare(outcomes[a].Index, outcomes[b].Index))
	})
	var feasible []*Outcome
	var early *earlyDay
	handed := false // the day went to Finish with the outcomes
	defer func() {
		if early != nil && !handed { // the search failed: the day is not needed
			early.stop()
		}
	}()
	for w := 0; w < len(viable); w += waveSize {
		wave := viable[w:min(w+waveSize, len(viable))]
		var run []int
		for _, i := range wave {
			if reason, detail := p.prune(&outcomes[i], feasible); reason != "" {
				outcomes[i].Reason, outcomes[i].Detail = reason, detail
				done++
				continue
			}
			run = append(run, i)
		}
		report()
		if err := s.evaluate(ctx, outcomes, run, workers, func() { done++; report() }); err != nil {
			return nil, err
		}
		for _, i := range run {
			if outcomes[i].Feasible {
				feasible = append(feasible, &outcomes[i])
			}
		}
		if early == nil && opt.Shards == 1 {
			if c := settledCheapest(outcomes, viable, w+waveSize, feasible); c != nil {
				early = p.startDay(ctx, c)
			}
		}
	}
	out.Outcomes = outcomes
	// A shard reaches a merge through its JSON file: pass every run
	// through the same encoding (rounding, NaN as null) so that one run
	// and merged shards finish from identical numbers.
	rt, err := roundTrip(out)
	if err != nil {
		return nil, err
	}
	rt.early, handed = early, true
	return rt, nil
}

func roundTrip(s *Shard) (*Shard, error) {
	b, err := jsonfmt.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("plan %s: encode outcomes: %w", s.Plan, err)
	}
	var out Shard
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("plan %s: decode outcomes: %w", s.Plan, err)
	}
	return &out, nil
}

func (p *Plan) sha() string {
	h := sha256.Sum256(p.Source)
	return hex.EncodeToString(h[:])
}

// prune says why c need not be simulated given the feasible outcomes
// known, or "". Both rules are monotone in the feasible set (a larger set
// prunes at least as much), so the same rules applied to the whole space
// at the end classify every candidate the same however the work was split.
func (p *Plan) prune(c *Outcome, feasible []*Outcome) (string, string) {
	if d := p.costly(c, feasible); d != "" {
		return ReasonCostly, d
	}
	if by := dominator(c, feasible); by != nil {
		return ReasonDominated, dominatedDetail(by)
	}
	return "", ""
}

// costly says why c cannot cost less than max_cost_ratio times the
// cheapest of feasible (other than c), or "".
func (p *Plan) costly(c *Outcome, feasible []*Outcome) string {
	r := *p.File.MaxCostRatio
	if r <= 0 {
		return ""
	}
	var cheapest *Outcome
	for _, f := range feasible {
		if f.Index != c.Index && cheaper(f, cheapest) {
			cheapest = f
		}
	}
	if cheapest == nil || c.Bounds.USDPerHour <= r*cheapest.Metrics.USDPerHour {
		return ""
	}
	return fmt.Sprintf("costs at least $%.3f/h, more than %g × #%d's $%.3f/h (max_cost_ratio)",
		c.Bounds.USDPerHour, r, cheapest.Index, cheapest.Metrics.USDPerHour)
}

// cheaper orders feasible outcomes by hourly cost, then index; anything
// beats nil.
func cheaper(a, b *Outcome) bool {
	if b == nil {
		return true
	}
	return a.Metrics.USDPerHour < b.Metrics.USDPerHour || a.Metrics.USDPerHour == b.Metrics.USDPerHour && a.Index < b.Index
}

// analyzedOut reports whether analysis rejected the outcome before any
// simulation (memory, capacity, a TPOT no load can meet, invalid): such a
// reason is the candidate's own and no pruning rule revisits it.
func (o *Outcome) analyzedOut() bool {
	return o.Reason != "" && !o.Evaluated && o.Reason != ReasonDominated && o.Reason != ReasonCostly
}

// dominates reports whether feasible outcome f is at least as cheap as c
// could be and at least as fast as c could be (ties go to the lower index,
// so that two equal candidates cannot prune each other).
func dominates(f, c *Outcome) bool {
	if f.Index == c.Index || f.Metrics == nil {
		return false
	}
	cost, tpot := f.Metrics.USDPerHour, f.Metrics.WorstTPOTP95
	if cost > c.Bounds.USDPerHour || tpot > c.Bounds.TPOTS {
		return false
	}
	return cost < c.Bounds.USDPerHour || tpot < c.Bounds.TPOTS || f.Index < c.Index
}

// dominator returns the cheapest of feasible that dominates c (lowest index
// among equals), or nil.
func dominator(c *Outcome, feasible []*Outcome) *Outcome {
	var best *Outcome
	for _, f := range feasible {
		if !dominates(f, c) {
			continue
		}
		if cheaper(f, best) {
			best = f
		}
	}
	return best
}

func dominatedDetail(by *Outcome) string {
	return fmt.Sprintf("#%d (%s) costs $%.3f/h at TPOT p95 %.1f ms: this one cannot be cheaper or faster", by.Index, by.Key, by.Metrics.USDPerHour, 1000*by.Metrics.WorstTPOTP95)
}

type searcher struct {
	plan   *Plan
	mu     sync.Mutex
	groups map[string]*groupEntry
	sims   atomic.Int64
}

// groupEntry computes a group's outcome once, however many candidates
// share it.
type groupEntry struct {
	analyzeOnce sync.Once
	bounds      Bounds
	reason      string
	detail      string

	// searched is set once the group's search has run (dispatch.go);
	// only the goroutine running Search reads or writes it.
	searched bool
	outcome  GroupOutcome
	err      error
}

func (s *searcher) entry(g group) *groupEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.groups[g.key()]
	if e == nil {
		e = &groupEntry{}
		s.groups[g.key()] = e
	}
	return e
}

// analyze fills a candidate's bounds from its groups', or rejects it.
func (s *searcher) analyze(c Candidate) Outcome {
	o := Outcome{Candidate: c, Key: c.Key()}
	for _, g := range c.groups() {
		e := s.entry(g)
		e.analyzeOnce.Do(func() { e.bounds, e.reason, e.detail = s.plan.analyze(g) })
		if e.reason != "" && o.Reason == "" {
			o.Reason, o.Detail = e.reason, groupDetail(g, e.detail)
		}
		o.Bounds.MinNodes += e.bounds.MinNodes
		o.Bounds.USDPerHour += e.bounds.USDPerHour
		o.Bounds.TPOTS = math.Max(o.Bounds.TPOTS, e.bounds.TPOTS)
	}
	return o
}

func groupDetail(g group, detail string) string {
	return fmt.Sprintf("node group %s: %s", strings.Join(g.Models, "+"), detail)
}

// combine adds up the groups of a candidate.
func combine(ms []*Metrics) *Metrics {
	out := &Metrics{}
	var util, throttled, thermal float64
	for _, m := range ms {
		out.Nodes += m.Nodes
		out.USDPerHour += m.USDPerHour
		out.USDPerMonth += m.USDPerMonth
		out.HardwareUSD += m.HardwareUSD
		out.CloudUSDPerHour += m.CloudUSDPerHour
		out.TokensPerS += m.TokensPerS
		out.NodePowerW += m.NodePowerW
		out.TempPeakC = math.Max(out.TempPeakC, m.TempPeakC)
		out.WorstTPOTP95 = math.Max(out.WorstTPOTP95, m.WorstTPOTP95)
		out.WorstTTFTP95 = math.Max(out.WorstTTFTP95, m.WorstTTFTP95)
		util += m.Utilization * float64(m.Nodes)
		throttled += m.ThrottledPct * float64(m.Nodes)
		thermal += m.ThermalPct * float64(m.Nodes)
		out.Models = append(out.Models, m.Models...)
	}
	if out.Nodes > 0 {
		out.Utilization = util / float64(out.Nodes)
		out.ThrottledPct = throttled / float64(out.Nodes)
		out.ThermalPct = thermal / float64(out.Nodes)
	}
	if out.TokensPerS > 0 {
		out.USDPerMTokens = out.USDPerHour / (out.TokensPerS * 3600) * 1e6
	} else {
		out.USDPerMTokens = math.NaN()
	}
	slices.SortFunc(out.Models, func(a, b ModelMetrics) int { return cmp.Compare(a.Model, b.Model) })
	return out
}
