package sim

import (
	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
)

// The engine's own time around the GPU steps, from a profile's [serving]
// table (perf.Serving): each instance's front end, a single server of
// finite throughput that requests pass one at a time, in arrival order,
// before a fixed latency brings them to the engine's waiting queue; and the
// scheduler's CPU time per step, added to the step's overhead. A profile
// without the table, or with a zero one, leaves both out: arrivals join the
// queue at once and steps cost what the step-time model says, exactly as
// before the table existed.

// frontEnd is one instance's API server.
type frontEnd struct {
	service engine.Time // each request holds the front end this long
	latency engine.Time // then reaches the engine this much later
	free    engine.Time // when the front end is next free
	// entering[head:] are the requests between arrival and the waiting
	// queue, in the order they reach it (their ready times never
	// decrease).
	entering []int32
	head     int
}

// newFrontEnd returns the instance's front end, or nil where the profile
// adds no front-end time.
func newFrontEnd(sv *perf.Serving) *frontEnd {
	if sv == nil || (sv.FrontendService() == 0 && sv.RequestS == 0) {
		return nil
	}
	return &frontEnd{service: engine.FromSeconds(sv.FrontendService()), latency: engine.FromSeconds(sv.RequestS)}
}

// pass queues request id at the front end at now and returns when it
// reaches the engine.
func (f *frontEnd) pass(id int32, now engine.Time) engine.Time {
	start := max(now, f.free)
	f.free = start + f.service
	if len(f.entering) == cap(f.entering) && f.head > 0 {
		// Full: slide the queue to the front of its array rather than
		// grow a new one, so a front end allocates only when more
		// requests are in it at once than ever before.
		n := copy(f.entering, f.entering[f.head:])
		f.entering, f.head = f.entering[:n], 0
	}
	f.entering = append(f.entering, id)
	return f.free + f.latency
}

// queued are the requests in the front end, in the order they leave it.
func (f *frontEnd) queued() []int32 { return f.entering[f.head:] }

// next removes and returns the request that reaches the engine next.
func (f *frontEnd) next() int32 {
	id := f.entering[f.head]
	f.head++
	if f.head == len(f.entering) {
		f.entering, f.head = f.entering[:0], 0 // empty: start over
	}
	return id
}

// reachEngine is evFrontend: the next request through the instance's front
// end joins its waiting queue.
func (s *simulator) reachEngine(in *instance, now engine.Time) {
	id := in.front.next()
	d := s.devs[in.node]
	d.advance(now, s.insts)
	in.waiting.push(id)
	d.waiting++
	s.wake(in, now)
}

// wake lets an instance act on a request that just joined its queue: an
// idle one plans a segment, one in a decode run that the request could
// join cuts the run short.
func (s *simulator) wake(in *instance, now engine.Time) {
	if !in.busy {
		s.startWork(in, now)
	} else if in.seg.decode && in.seg.steps > 1 && s.admissible(in) {
		s.truncate(in, now)
	}
}

// servingCost adds the engine's CPU time per step to a performance
// model's steps. It is used by pointer and keeps the model's pairCoster,
// so a decode run's pricing makes no type assertion and copies no wrapper.
type servingCost struct {
	StepCoster
	pair pairCoster // StepCoster's, or nil
	sv   *perf.Serving
}

func (c *servingCost) Step(b perf.Batch) perf.StepCost {
	sc := c.StepCoster.Step(b)
	sc.Overhead += c.sv.StepCPU(b.PrefillSeqs + b.DecodeSeqs)
	return sc
}

// StepPair is Step of both batches, by the model's StepPair where it has
// one.
func (c *servingCost) StepPair(first, second perf.Batch) (perf.StepCost, perf.StepCost) {
	a, b := pairOf(c.StepCoster, c.pair, first, second)
	a.Overhead += c.sv.StepCPU(first.PrefillSeqs + first.DecodeSeqs)
	b.Overhead += c.sv.StepCPU(second.PrefillSeqs + second.DecodeSeqs)
	return a, b
}

// withServing wraps cost with the profile's scheduler terms, or returns it
// as is where there are none.
func withServing(cost StepCoster, sv *perf.Serving) StepCoster {
	if sv == nil || (sv.StepS == 0 && sv.StepPerSeqS == 0) {
		return cost
	}
	pair, _ := cost.(pairCoster)
	return &servingCost{StepCoster: cost, pair: pair, sv: sv}
}
