package planner

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
)

// groupJob is one node group a wave needs searched, and the candidates of
// the wave waiting on it.
type groupJob struct {
	g       group
	e       *groupEntry
	weight  float64
	waiting []int // indexes into the outcomes
	ran     bool  // its search ran (a cancelled wave may leave some out)
}

// evaluate searches, in parallel, the node groups of the given outcomes
// that no earlier wave searched, and settles each outcome once all its
// groups are known. The unit of work is a group, not a candidate: two
// candidates sharing a group never hold two workers (one searching, one
// waiting for it), and the groups start largest first, so that a wave's
// last worker does not run alone for long. Which groups are searched is
// the wave's alone; the order only decides which worker runs what, so the
// outcomes are the same for any number of workers.
func (s *searcher) evaluate(ctx context.Context, outcomes []Outcome, idx []int, workers int, settled func()) error {
	jobs, pending := s.groupJobs(outcomes, idx)
	var mu sync.Mutex
	settle := func(i int) {
		s.settle(&outcomes[i])
		settled()
	}
	for _, i := range idx {
		if pending[i] == 0 { // every group was searched by an earlier wave
			settle(i)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan *groupJob)
	var wg sync.WaitGroup
	var firstErr error
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range queue {
				var n int
				j.e.outcome, n, j.e.err = s.plan.searchGroup(ctx, j.g)
				s.sims.Add(int64(n))
				mu.Lock()
				j.ran = true
				if j.e.err != nil && firstErr == nil {
					o := &outcomes[j.waiting[0]]
					firstErr = fmt.Errorf("plan %s: candidate #%d %s: %w", s.plan.Name, o.Index, o.Key, j.e.err)
					cancel()
				}
				for _, i := range j.waiting {
					if pending[i]--; pending[i] == 0 && firstErr == nil {
						settle(i)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		queue <- j
	}
	close(queue)
	wg.Wait()
	for _, j := range jobs {
		j.e.searched = j.ran
	}
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// groupJobs lists the groups the outcomes need that are not yet searched,
// heaviest first (ties in order of first use), and counts each outcome's
// groups still to search.
func (s *searcher) groupJobs(outcomes []Outcome, idx []int) ([]*groupJob, map[int]int) {
	var jobs []*groupJob
	byEntry := map[*groupEntry]*groupJob{}
	pending := map[int]int{}
	for _, i := range idx {
		pending[i] = 0
		for _, g := range outcomes[i].groups() {
			e := s.entry(g)
			if e.searched {
				continue
			}
			j := byEntry[e]
			if j == nil {
				j = &groupJob{g: g, e: e, weight: s.plan.searchWeight(g, e.bounds)}
				byEntry[e] = j
				jobs = append(jobs, j)
			}
			// A candidate's groups hold disjoint models: each is
			// listed once.
			j.waiting = append(j.waiting, i)
			pending[i]++
		}
	}
	slices.SortStableFunc(jobs, func(a, b *groupJob) int { return cmp.Compare(b.weight, a.weight) })
	return jobs, pending
}

// searchWeight guesses the work of searching g: its models' requests in a
// trial times the trials a doubling and bisection from its bound take. It
// only orders the work; no result depends on it.
func (p *Plan) searchWeight(g group, b Bounds) float64 {
	var rate float64
	for _, m := range g.Models {
		a := p.designArrival(p.File.Models[m].Workload.Arrival)
		rate += max(a.Rate, float64(a.Concurrency), 1)
	}
	return rate * (1 + math.Log2(1+float64(b.MinNodes)))
}

// settle fills a candidate's outcome from its groups' searches.
func (s *searcher) settle(o *Outcome) {
	o.Evaluated = true
	o.Feasible = true
	var ms []*Metrics
	for _, g := range o.groups() {
		e := s.entry(g)
		o.Groups = append(o.Groups, e.outcome)
		if !e.outcome.Feasible && o.Feasible {
			o.Feasible = false
			o.Reason, o.Detail = e.outcome.Reason, groupDetail(g, e.outcome.Detail)
		}
		ms = append(ms, e.outcome.Metrics)
	}
	if o.Feasible {
		o.Metrics = combine(ms)
	}
}
