// Package sim is fleettwin's digital twin: a deterministic discrete-event
// simulation of LLM serving on a fleet, built on engine and perf.
//
// Each model instance does vLLM-style continuous batching: a waiting queue
// (by priority class, then arrival), admission bounded by max sequences, the
// per-step token budget and free KV blocks, chunked prefill mixing prompt
// chunks with decode tokens, and preemption by recompute when KV blocks run
// out. Instances on one device share its memory (fixed shares or one pool)
// and its compute and bandwidth: while several are busy each runs slower by
// max(1, Σ compute demand, Σ memory demand) + interference × (busy − 1),
// which is exactly 1 for a lone instance.
//
// A batch whose composition does not change (decode only, no admission, no
// completion) advances many steps in one event, in closed form, so events
// scale with arrivals and completions rather than with tokens.
//
// The package does no I/O and reads no clock: pacing to real time and
// writing records happen through Options, at the caller's edge.
package sim

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// Options control a run. The zero value runs as fast as possible and keeps
// only aggregates.
type Options struct {
	// OnSnapshot, if set, receives the state of the run every SnapshotEvery
	// of simulated time and once at the end.
	OnSnapshot    func(Snapshot)
	SnapshotEvery engine.Time // default: duration / 100
	// Pacer, if set, is waited on at every snapshot, to run at a multiple of
	// real time (the dashboard); nil runs as fast as possible.
	Pacer Pacer
	// OnRequest, if set, receives every request that finished (completed or
	// rejected) after warm-up. Nothing is kept per request otherwise, so
	// memory stays flat in the number of requests.
	OnRequest func(RequestRecord)
	// Unthrottled runs every device at full clock whatever its power and
	// temperature: the counterfactual that prices throttling.
	Unthrottled bool

	// costFor overrides the performance model (tests).
	costFor func(scenario.Node, scenario.NodeInstance) (StepCoster, error)
}

// Pacer holds a run back to a chosen multiple of real time.
type Pacer interface {
	// Wait returns once the run may proceed past simulated time now, or
	// with the context's error.
	Wait(ctx context.Context, now engine.Time) error
}

type kind uint8

const (
	evArrival    kind = iota // target: model
	evUser                   // target: closed-loop user
	evSegmentEnd             // target: instance
	evSnapshot
	evControl // the devices' clock governors act on the last interval
	evArm     // a device may soon need governing: start the control loop
	evWarmup  // warm-up ends: device totals are marked
)

// ControlInterval is how often the governors revisit the clocks while a
// device is throttled, hot or over its cap. Thermal time constants are
// minutes, so a second resolves them; power-cap excursions within an
// interval are clipped at the cap (real firmware reacts in milliseconds).
// While every device is cool, at full clock and under its cap the loop
// sleeps until the earliest time any device could heat up to its
// hysteresis band, or until a step draws over a cap: a run that never
// throttles pays almost nothing for the governors.
const ControlInterval = engine.Second

type event struct {
	kind   kind
	target int32
}

// Run simulates a scenario. On cancellation it returns the partial result
// gathered so far together with the context's error.
func Run(ctx context.Context, sc *scenario.Scenario, opt Options) (*Result, error) {
	s, err := newSimulator(sc, opt)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}

// cancelCheckEvery is how often, in events, a run checks its context
// between snapshots: about a millisecond of simulation work.
const cancelCheckEvery = 1 << 12

type simulator struct {
	sc      *scenario.Scenario
	opt     Options
	sim     *engine.Sim[event]
	streams engine.Streams

	reqs   []request
	free   []int32
	seq    int64
	models []*modelState
	insts  []*instance
	devs   []*device
	users  []user

	// Little's law accounting over requests arriving after warm-up.
	inSystem   int
	littleArea float64 // ∫ requests in system dt, seconds
	littleLast engine.Time
	sojourn    float64 // Σ time in system of counted requests, seconds
	arrivals   int64

	events int64
	// ctx is the run's: handle checks it every cancelCheckEvery events, so
	// a window between snapshots that holds millions of events still
	// stops promptly on Ctrl-C or the dashboard's Stop.
	ctx context.Context

	// The governors' control loop: the pending evControl or evArm.
	ctl        engine.EventID
	ctlAt      engine.Time
	ctlPending bool
	inControl  bool
}

// armControl starts governing from now: every device's interval begins
// now and the governors act one interval later. A control tick already
// due by then stays.
func (s *simulator) armControl(now engine.Time) {
	at := now + ControlInterval
	if s.inControl {
		return
	}
	if s.ctlPending {
		if s.ctlAt <= at {
			return
		}
		s.sim.Cancel(s.ctl)
	}
	for _, d := range s.devs {
		d.advance(now, s.insts)
		d.ctl = d.tot
	}
	s.ctl, s.ctlAt, s.ctlPending = s.sim.Schedule(at, event{kind: evControl}), at, true
}

// sleepControl schedules an evArm for the earliest time any device could
// reach its hysteresis band drawing its most, or none if none can.
func (s *simulator) sleepControl(now engine.Time) {
	wake := math.Inf(1)
	for _, d := range s.devs {
		wake = min(wake, d.secondsToWarm())
	}
	if math.IsInf(wake, 1) || now+engine.FromSeconds(wake) >= s.sc.Duration {
		return
	}
	at := now + max(engine.FromSeconds(wake), ControlInterval)
	s.ctl, s.ctlAt, s.ctlPending = s.sim.Schedule(at, event{kind: evArm}), at, true
}

type user struct {
	model int
}

type modelState struct {
	idx       int
	spec      scenario.Model
	instances []int
	arrivals  workload.ArrivalProcess // nil for closed loop and trace
	trace     int                     // next trace record
	inLen     *workload.LengthSampler
	outLen    *workload.LengthSampler
	classes   *workload.ClassPicker
	prio      []int
	rngArr    *rand.Rand
	rngLen    *rand.Rand
	rngClass  *rand.Rand
	rngRoute  *rand.Rand
	rngThink  *rand.Rand
	rr        int
	stats     *modelStats
}

func newSimulator(sc *scenario.Scenario, opt Options) (*simulator, error) {
	s := &simulator{sc: sc, opt: opt, streams: engine.NewStreams(sc.Seed)}
	s.sim = engine.New[event](engine.HandlerFunc[event](s.handle))
	if s.opt.SnapshotEvery <= 0 {
		s.opt.SnapshotEvery = max(sc.Duration/100, engine.Millisecond)
	}
	for i, m := range sc.Models {
		ms := &modelState{idx: i, spec: m, stats: newModelStats(m)}
		var err error
		if ms.inLen, err = workload.NewLengthSampler(m.Workload.Input, m.InputDist); err != nil {
			return nil, fmt.Errorf("model %s: input lengths: %w", m.Name, err)
		}
		if ms.outLen, err = workload.NewLengthSampler(m.Workload.Output, m.OutputDist); err != nil {
			return nil, fmt.Errorf("model %s: output lengths: %w", m.Name, err)
		}
		if ms.classes, err = workload.NewClassPicker(m.Classes); err != nil {
			return nil, fmt.Errorf("model %s: classes: %w", m.Name, err)
		}
		for _, c := range m.Classes {
			ms.prio = append(ms.prio, c.Priority)
		}
		switch m.Workload.Arrival.Process {
		case "closed", "trace":
		default:
			if ms.arrivals, err = workload.NewArrivalProcess(m.Workload.Arrival, nil); err != nil {
				return nil, fmt.Errorf("model %s: arrivals: %w", m.Name, err)
			}
		}
		ms.rngArr = s.streams.Stream("arrivals/" + m.Name)
		ms.rngLen = s.streams.Stream("lengths/" + m.Name)
		ms.rngClass = s.streams.Stream("classes/" + m.Name)
		ms.rngRoute = s.streams.Stream("router/" + m.Name)
		ms.rngThink = s.streams.Stream("think/" + m.Name)
		s.models = append(s.models, ms)
	}
	for ni, n := range sc.Nodes {
		d := newDevice(ni, n, sc, opt.Unthrottled)
		for _, ni := range n.Instances {
			cost, err := s.costFor(n, ni)
			if err != nil {
				return nil, fmt.Errorf("node %s: %s: %w", n.Name, ni.Deploy.Model.Name, err)
			}
			in := &instance{idx: len(s.insts), node: d.idx, model: ni.Model, cfg: ni, cost: cost,
				peak: n.Hardware.FLOPS(ni.Deploy.Weights.Compute), blockKV: ni.KVBlockBytes()}
			in.waiting = waitQueue{reqs: &s.reqs, prio: s.models[ni.Model].prio}
			in.blocksTotal = int64((ni.BudgetBytes - ni.WeightBytes) / in.blockKV)
			if n.DynamicMemory {
				in.blocksTotal = int64(d.kvCapacity / in.blockKV)
			}
			d.insts = append(d.insts, in.idx)
			d.addInstance(in)
			s.insts = append(s.insts, in)
			s.models[ni.Model].instances = append(s.models[ni.Model].instances, in.idx)
		}
		s.devs = append(s.devs, d)
	}
	return s, nil
}

func (s *simulator) costFor(n scenario.Node, ni scenario.NodeInstance) (StepCoster, error) {
	if s.opt.costFor != nil {
		return s.opt.costFor(n, ni)
	}
	return perf.NewStepModel(n.Hardware, ni.Deploy, n.Profile)
}

func (s *simulator) run(ctx context.Context) (*Result, error) {
	s.ctx = ctx
	for _, m := range s.models {
		switch m.spec.Workload.Arrival.Process {
		case "closed":
			for range m.spec.Workload.Arrival.Concurrency {
				s.users = append(s.users, user{model: m.idx})
				s.sim.Schedule(0, event{kind: evUser, target: int32(len(s.users) - 1)})
			}
		default:
			s.scheduleArrival(m, 0)
		}
	}
	s.sim.Schedule(s.opt.SnapshotEvery, event{kind: evSnapshot})
	s.sleepControl(0)
	if s.sc.Warmup > 0 {
		s.sim.Schedule(s.sc.Warmup, event{kind: evWarmup})
	}
	var runErr error
	for s.sim.Now() < s.sc.Duration {
		next := min(s.sc.Duration, s.sim.Now()+s.opt.SnapshotEvery)
		s.sim.RunUntil(next)
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if s.opt.Pacer != nil {
			if err := s.opt.Pacer.Wait(ctx, s.sim.Now()); err != nil {
				runErr = err
				break
			}
		}
	}
	res := s.result()
	if s.opt.OnSnapshot != nil {
		s.opt.OnSnapshot(s.snapshot(true))
	}
	return res, runErr
}

func (s *simulator) handle(sim *engine.Sim[event], e event) {
	s.events++
	if s.events%cancelCheckEvery == 0 && s.ctx.Err() != nil {
		sim.Stop() // after this event: the run loop then sees the error
	}
	now := sim.Now()
	switch e.kind {
	case evArrival:
		m := s.models[e.target]
		s.arrive(m, now, -1)
		s.scheduleArrival(m, now)
	case evUser:
		u := s.users[e.target]
		s.arrive(s.models[u.model], now, e.target)
	case evSegmentEnd:
		s.endSegment(s.insts[e.target], now)
	case evSnapshot:
		for _, d := range s.devs {
			d.advance(now, s.insts)
		}
		s.advanceLittle(now)
		if s.opt.OnSnapshot != nil {
			s.opt.OnSnapshot(s.snapshot(false))
		}
		sim.Schedule(now+s.opt.SnapshotEvery, event{kind: evSnapshot})
	case evControl:
		s.ctlPending = false
		s.inControl = true // a clock change that draws over a cap is seen below
		watch := false
		for _, d := range s.devs {
			d.control(s, now)
			watch = watch || d.needsWatching()
		}
		s.inControl = false
		if watch {
			s.ctl, s.ctlAt, s.ctlPending = sim.Schedule(now+ControlInterval, event{kind: evControl}), now+ControlInterval, true
		} else {
			s.sleepControl(now)
		}
	case evArm:
		s.ctlPending = false
		s.armControl(now)
	case evWarmup:
		for _, d := range s.devs {
			d.advance(now, s.insts)
			d.warm = d.tot
		}
	}
}

// scheduleArrival schedules a model's next open-loop or trace arrival.
func (s *simulator) scheduleArrival(m *modelState, now engine.Time) {
	var at engine.Time
	switch m.spec.Workload.Arrival.Process {
	case "closed":
		return
	case "trace":
		if m.trace >= len(m.spec.Trace) {
			return
		}
		at = engine.FromSeconds(m.spec.Trace[m.trace].ArrivalS)
	default:
		var ok bool
		at, ok = m.arrivals.Next(m.rngArr, now)
		if !ok {
			return
		}
	}
	if at < s.sc.Duration {
		s.sim.Schedule(max(at, now), event{kind: evArrival, target: int32(m.idx)})
	}
}

// arrive creates a request for model m and routes it.
func (s *simulator) arrive(m *modelState, now engine.Time, userIdx int32) {
	var input, output, class int
	if m.spec.Workload.Arrival.Process == "trace" {
		rec := m.spec.Trace[m.trace]
		m.trace++
		input, output = rec.InputTokens, rec.OutputTokens
		class = m.classIndex(rec.Class)
	} else {
		input, output = m.inLen.Sample(m.rngLen), m.outLen.Sample(m.rngLen)
		class = m.classes.Pick(m.rngClass)
	}
	// Scenarios bound lengths to workload.MaxTokens; clamping here too keeps
	// every int32 token sum (prompt + output + cached context) far from
	// overflow whatever a caller built in code.
	input, output = min(max(input, 1), workload.MaxTokens), min(max(output, 1), workload.MaxTokens)
	id := s.alloc()
	r := &s.reqs[id]
	*r = request{model: int32(m.idx), class: int32(class), user: userIdx, arrival: now, admitted: -1, first: -1,
		input: int32(input), output: int32(output), prompt: int32(input), seq: s.seq, counted: now >= s.sc.Warmup}
	s.seq++
	if r.counted {
		s.advanceLittle(now)
		s.inSystem++
		s.arrivals++
		m.stats.arrived++
	}
	in := s.insts[s.route(m)]
	r.instance = int32(in.idx)
	d := s.devs[in.node]
	d.advance(now, s.insts)
	if !in.canEverFit(r) {
		s.finish(in, id, now, true)
		return
	}
	in.enqueue(id)
	d.waiting++
	if !in.busy {
		s.startWork(in, now)
	} else if in.seg.decode && in.seg.steps > 1 && s.admissible(in) {
		s.truncate(in, now)
	}
}

func (m *modelState) classIndex(name string) int {
	for i, c := range m.spec.Classes {
		if c.Name == name {
			return i
		}
	}
	return 0
}

func (s *simulator) alloc() int32 {
	if n := len(s.free); n > 0 {
		id := s.free[n-1]
		s.free = s.free[:n-1]
		return id
	}
	s.reqs = append(s.reqs, request{})
	return int32(len(s.reqs) - 1)
}

// canEverFit reports whether the request could run on an empty instance.
func (in *instance) canEverFit(r *request) bool {
	if !in.cfg.ChunkedPrefill && int(r.input) > in.cfg.MaxBatchedTokens {
		return false
	}
	return blocksFor(r.input+r.output, int32(in.cfg.BlockTokens)) <= in.blocksTotal
}

// freeBlocks is how many KV blocks the instance can still take.
func (s *simulator) freeBlocks(in *instance) int64 {
	d := s.devs[in.node]
	if d.node.DynamicMemory {
		return int64((d.kvCapacity - d.kvUsed) / in.blockKV)
	}
	return in.blocksTotal - in.blocksUsed
}

// takeBlocks takes (or, negative, returns) KV blocks. Callers check
// freeBlocks first; the peak is kept so tests can hold them to it.
func (s *simulator) takeBlocks(in *instance, n int64) {
	in.blocksUsed += n
	d := s.devs[in.node]
	d.kvUsed += float64(n) * in.blockKV
	d.kvPeak = max(d.kvPeak, d.kvUsed)
}

// admissible reports whether the head of the waiting queue could join the
// batch at the next step.
func (s *simulator) admissible(in *instance) bool {
	if len(in.waiting.ids) == 0 || len(in.running) >= in.cfg.MaxSeqs {
		return false
	}
	head := &s.reqs[in.waiting.ids[0]]
	budget := in.cfg.MaxBatchedTokens - len(in.running)
	if budget <= 0 {
		return false
	}
	chunk := min(int(head.prompt), budget, in.cfg.ChunkTokens)
	if !in.cfg.ChunkedPrefill {
		if int(head.prompt) > in.cfg.MaxBatchedTokens {
			return false
		}
		chunk = int(head.prompt)
	}
	return blocksFor(int32(chunk), int32(in.cfg.BlockTokens)) <= s.freeBlocks(in)
}

// startWork plans the instance's next segment if it is idle and has work.
func (s *simulator) startWork(in *instance, now engine.Time) {
	if in.busy {
		return
	}
	bt := int32(in.cfg.BlockTokens)
	for {
		// Blocks the decode tokens of the next step need; preempt the
		// lowest-priority, latest request until they fit.
		var need int64
		decodes := 0
		for _, id := range in.running {
			r := &s.reqs[id]
			if r.decoding() {
				decodes++
				need += blocksFor(r.context+1, bt) - blocksFor(r.context, bt)
			}
		}
		if need > s.freeBlocks(in) && len(in.running) > 0 {
			s.preempt(in, now)
			continue
		}
		prefillStep := in.cfg.ChunkedPrefill || decodes == 0 || s.admissible(in)
		var b perf.Batch
		in.seg = segment{prefill: in.seg.prefill[:0], decodes: in.cfg.ChunkedPrefill || !prefillStep}
		budget := in.cfg.MaxBatchedTokens
		if in.seg.decodes {
			for _, id := range in.running {
				if r := &s.reqs[id]; r.decoding() {
					b.AddDecode(int(r.context))
					budget--
				}
			}
			s.takeBlocks(in, need)
		}
		if prefillStep {
			// Continue prefills already running (chunked prefill only).
			for _, id := range in.running {
				r := &s.reqs[id]
				if r.decoding() || budget <= 0 {
					continue
				}
				n := min(r.prompt-r.prefilled, int32(budget), int32(in.cfg.ChunkTokens))
				nb := blocksFor(r.context+n, bt) - blocksFor(r.context, bt)
				if nb > s.freeBlocks(in) {
					continue
				}
				s.takeBlocks(in, nb)
				b.AddPrefill(int(n), int(r.context))
				in.seg.prefill = append(in.seg.prefill, prefillChunk{id: id, n: n})
				budget -= int(n)
			}
			// Admit from the waiting queue.
			for len(in.waiting.ids) > 0 && len(in.running) < in.cfg.MaxSeqs && budget > 0 {
				id := in.waiting.ids[0]
				r := &s.reqs[id]
				n := min(r.prompt, int32(budget), int32(in.cfg.ChunkTokens))
				if !in.cfg.ChunkedPrefill && r.prompt > int32(budget) {
					break
				}
				nb := blocksFor(n, bt)
				if nb > s.freeBlocks(in) {
					break
				}
				heap.Pop(&in.waiting)
				s.devs[in.node].waiting--
				s.takeBlocks(in, nb)
				in.running = append(in.running, id)
				if r.admitted < 0 {
					r.admitted = now
				}
				b.AddPrefill(int(n), 0)
				in.seg.prefill = append(in.seg.prefill, prefillChunk{id: id, n: n})
				budget -= int(n)
			}
		}
		if b.Tokens() == 0 {
			if d := s.devs[in.node]; len(in.running) > 0 && (!d.node.DynamicMemory || len(d.busy) == 0) {
				// Every running request waits for KV blocks for its next
				// prefill chunk and no neighbour will free any (its pool is
				// its own, or nothing else runs): preempt to make room, as
				// vLLM does.
				s.preempt(in, now)
				continue
			}
			return // idle until something completes, frees blocks or arrives
		}
		if b.PrefillTokens > 0 || decodes == 0 {
			c := in.cost.Step(b)
			in.seg.run = decodeRun{c0: c.Compute, m0: c.Memory, o: c.Overhead, f0: c.FLOPs, b0: c.Bytes}
			in.seg.steps = 1
		} else {
			s.planDecodeRun(in, b)
		}
		s.devs[in.node].start(s, in, now)
		return
	}
}

// planDecodeRun sizes a decode-only run: until the first request finishes,
// or as far as free KV blocks reach, whichever is first.
func (s *simulator) planDecodeRun(in *instance, first perf.Batch) {
	bt := int32(in.cfg.BlockTokens)
	// Requests part-way through their prefill (waiting for blocks for their
	// next chunk) take no part in a decode run.
	k := int32(math.MaxInt32)
	var second perf.Batch
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			k = min(k, r.output-r.generated)
			second.AddDecode(int(r.context) + 1)
		}
	}
	// The first step's blocks are taken; reserve the rest of the run.
	extra := func(j int32) int64 {
		var n int64
		for _, id := range in.running {
			if r := &s.reqs[id]; r.decoding() {
				n += blocksFor(r.context+j, bt) - blocksFor(r.context+1, bt)
			}
		}
		return n
	}
	free := s.freeBlocks(in)
	if k > 1 && extra(k) > free {
		lo, hi := int32(1), k // extra(lo) <= free < extra(hi)
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if extra(mid) <= free {
				lo = mid
			} else {
				hi = mid
			}
		}
		k = lo
	}
	s.takeBlocks(in, extra(k))
	in.seg.run = newDecodeRun(in.cost.Step(first), in.cost.Step(second))
	in.seg.steps = int(k)
	in.seg.decode = true
}

// preempt evicts the running request that the scheduler values least (lowest
// priority, then latest arrival); it will recompute its KV cache later.
func (s *simulator) preempt(in *instance, now engine.Time) {
	victim := 0
	for i, id := range in.running {
		a, b := &s.reqs[id], &s.reqs[in.running[victim]]
		pa, pb := in.waiting.prio[a.class], in.waiting.prio[b.class]
		if pa > pb || pa == pb && a.seq > b.seq {
			victim = i
		}
	}
	id := in.running[victim]
	in.running = append(in.running[:victim], in.running[victim+1:]...)
	r := &s.reqs[id]
	s.takeBlocks(in, -blocksFor(r.context, int32(in.cfg.BlockTokens)))
	r.prompt = r.input + r.generated
	r.prefilled, r.context = 0, 0
	r.preemptions++
	s.models[r.model].stats.preemptions++
	heap.Push(&in.waiting, id)
	s.devs[in.node].waiting++
}

// truncate cuts a running decode run short at the end of the step in
// progress, so a newly admissible request joins at the next step.
func (s *simulator) truncate(in *instance, now engine.Time) {
	seg := &in.seg
	done := seg.progress + (now-seg.updated).Seconds()/seg.slowdown
	// The step in progress finishes, and so does every step that starts
	// before the request has reached the engine (its admission lag).
	lag := s.devs[in.node].node.Profile.AdmissionLagS / seg.slowdown
	j := seg.run.stepsWithin(done+lag, seg.steps)
	if j >= seg.steps {
		return
	}
	bt := int32(in.cfg.BlockTokens)
	var release int64
	for _, id := range in.running {
		if r := &s.reqs[id]; r.decoding() {
			release += blocksFor(r.context+int32(seg.steps), bt) - blocksFor(r.context+int32(j), bt)
		}
	}
	d := s.devs[in.node]
	d.advance(now, s.insts)
	s.takeBlocks(in, -release)
	seg.steps = j
	seg.plan()
	d.reshare(s, now)
}

// endSegment applies a finished segment's tokens and plans the next one.
func (s *simulator) endSegment(in *instance, now engine.Time) {
	d := s.devs[in.node]
	d.advance(now, s.insts)
	d.stop(in)
	seg := &in.seg
	wall := (now - seg.start).Seconds()
	m := s.models[in.model]
	steps := int32(seg.steps)
	decodes := 0
	for _, id := range in.running {
		r := &s.reqs[id]
		if seg.decodes && r.decoding() {
			decodes++
			r.generated += steps
			r.context += steps
		}
	}
	if decodes > 0 && now >= s.sc.Warmup {
		m.stats.itl.AddWeighted(wall/float64(steps), float64(decodes)*float64(steps))
	}
	if now >= s.sc.Warmup {
		var prompt float64
		for _, c := range seg.prefill {
			prompt += float64(c.n)
		}
		gen := float64(decodes) * float64(steps)
		if prompt+gen > 0 {
			in.prefillSec += wall * prompt / (prompt + gen)
			in.decodeSec += wall * gen / (prompt + gen)
		}
	}
	for _, c := range seg.prefill {
		r := &s.reqs[c.id]
		r.prefilled += c.n
		r.context += c.n
		if r.decoding() {
			r.generated++ // the prefill's last position yields a token
			if r.first < 0 {
				r.first = now
			}
		}
	}
	// Completions, keeping the running order of the rest.
	kept := in.running[:0]
	var done []int32
	for _, id := range in.running {
		if r := &s.reqs[id]; r.generated >= r.output {
			done = append(done, id)
		} else {
			kept = append(kept, id)
		}
	}
	in.running = kept
	for _, id := range done {
		s.takeBlocks(in, -blocksFor(s.reqs[id].context, int32(in.cfg.BlockTokens)))
		s.finish(in, id, now, false)
	}
	d.reshare(s, now)
	s.startWork(in, now)
	if d.node.DynamicMemory && len(done) > 0 {
		// Blocks went back to the shared pool: idle neighbours that were
		// waiting for them may run now.
		for _, i := range d.insts {
			if o := s.insts[i]; !o.busy && o.outstanding > 0 {
				s.startWork(o, now)
			}
		}
	}
}

// finish records a completed or rejected request and frees it.
func (s *simulator) finish(in *instance, id int32, now engine.Time, rejected bool) {
	r := &s.reqs[id]
	m := s.models[r.model]
	if !rejected {
		in.outstanding--
	}
	if r.counted {
		s.advanceLittle(now)
		s.inSystem--
		s.sojourn += (now - r.arrival).Seconds()
		rec := m.stats.record(r, now, rejected, in.idx)
		if s.opt.OnRequest != nil {
			s.opt.OnRequest(rec)
		}
	}
	if r.user >= 0 {
		think := m.spec.Workload.Arrival.ThinkS
		at := now
		if think > 0 {
			at += engine.FromSeconds(engine.Exponential(m.rngThink, think))
		}
		if at < s.sc.Duration {
			s.sim.Schedule(at, event{kind: evUser, target: r.user})
		}
	}
	s.free = append(s.free, id)
}

func (s *simulator) advanceLittle(now engine.Time) {
	if now > s.littleLast {
		s.littleArea += float64(s.inSystem) * (now - s.littleLast).Seconds()
		s.littleLast = now
	}
}
