package sim

import (
	"context"
	"errors"
	"sync"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
)

// A split run (split.go): each part's simulator runs in a goroutine and
// streams what the run's totals need, in its own order, which is the
// serial order restricted to the part: each counted arrival and finish
// (Little's law, the sojourn sum, the records) and each snapshot. The
// caller's goroutine merges the streams by time and order key into the
// serial run's order: float sums add in the same order, records come in
// the same order. Snapshots are every part's at once (the same event in
// the serial run): a barrier the merge crosses when every part reaches
// it.
//
// When two finishes of different parts at the same time cannot be
// ordered (orderKeys), the parts stop and the run is done serially; the
// records and snapshots already delivered are exactly the serial run's
// first ones, so the serial run skips them.

// itemKind is what a streamed item is.
type itemKind uint8

const (
	itArrive itemKind = iota
	itFinish
	itSnapshot
	// itTick: a rendezvous of the governors (split_sync.go), a barrier
	// like a snapshot that shows nothing.
	itTick
	// itArm: the part's draw went over its cap, so the serial run's
	// governors act from here on (armControl); the split run stops.
	itArm
)

// item is one entry of a part's stream.
type item struct {
	kind    itemKind
	at      engine.Time
	arrival engine.Time // finish: the request's arrival
	key     evKey       // the handled event's (arrive, finish)
	// ref indexes the batch's records (a finish, when the run delivers
	// them) or snapshots (a snapshot).
	ref int32
}

// batch is what a part sends at once: items, and the records and
// snapshots they refer to.
type batch struct {
	items []item
	recs  []RequestRecord
	snaps []partSnapshot
}

// partSnapshot is a part's snapshot (nil unless the run reports them),
// and its events and replicated events so far.
type partSnapshot struct {
	snap               *Snapshot
	events, replicated int64
}

// itemBatch is how many items a part sends at once (a variable: tests
// make it small, to cross batches everywhere).
var itemBatch = 1024

// partRun is one part's simulator's side of a split run.
type partRun struct {
	models []int // the part's model k is the scenario's models[k]
	nodes  []int
	insts  []int // the part's instance k is the scenario's insts[k]
	// cur is the key of the event being handled; setup and root mark the
	// start's schedules; keys holds the pending events' keys by slot
	// (split_key.go).
	cur   evKey
	keys  []evKey
	setup bool
	root  int64
	// replicated counts the events every part handles (snapshots and the
	// end of warm-up), which the serial run handles once.
	replicated int64
	recs       bool // the run delivers records
	snaps      bool // the run delivers snapshots
	armed      bool // arm stopped the part
	arming     bool // handling an evArm, which every part handles
	fleet      *fleetSync
	sim        *simulator
	buf        *batch
	out        chan *batch
	free       chan *batch // batches the merge is done with
	ctx        context.Context
}

func (p *partRun) setupRoot(model, user int) {
	if p == nil {
		return
	}
	p.setup = true
	p.root = -1
	if model >= 0 {
		p.root = int64(p.models[model])<<32 | int64(user)
	}
}

func (p *partRun) endSetup() {
	if p != nil {
		p.setup = false
	}
}

// stamp keeps the key of the event just scheduled in slot, a child of
// the event being handled (or a root at the start).
func (p *partRun) stamp(slot uint32, now engine.Time) {
	k := evKey{root: p.root}
	if !p.setup {
		k = childKey(p.cur, now)
	}
	if int(slot) >= len(p.keys) {
		p.keys = append(p.keys, make([]evKey, int(slot)+1-len(p.keys))...)
	}
	p.keys[slot] = k
}

// enter begins handling e, the event in slot.
func (p *partRun) enter(e event, slot uint32) {
	p.cur = p.keys[slot]
	switch e.kind {
	case evSnapshot, evWarmup, evControl, evArm:
		p.replicated++
	}
}

func (p *partRun) arrive(now engine.Time) {
	if p != nil {
		p.push(item{kind: itArrive, at: now})
	}
}

func (p *partRun) finish(now, arrival engine.Time, rec RequestRecord) {
	if p == nil {
		return
	}
	it := item{kind: itFinish, at: now, key: p.cur, arrival: arrival, ref: -1}
	if p.recs {
		rec.Instance = p.insts[rec.Instance]
		it.ref = int32(len(p.buf.recs))
		p.buf.recs = append(p.buf.recs, rec)
	}
	p.push(it)
}

func (p *partRun) snapshot(s *simulator, now engine.Time) {
	ps := partSnapshot{events: s.events, replicated: p.replicated}
	if p.snaps {
		sn := s.snapshot(false)
		ps.snap = &sn
	}
	// The snapshot joins the batch before its item, which may send it.
	p.buf.snaps = append(p.buf.snaps, ps)
	p.push(item{kind: itSnapshot, at: now, ref: int32(len(p.buf.snaps) - 1)})
	p.flush()
}

// arm stops the part: its governors would act, on every part's devices
// in the serial run. Everything it streamed is before that instant, and
// the serial run's records up to it are the same (the clocks change a
// control interval later).
func (p *partRun) arm(s *simulator, now engine.Time) {
	p.armed = true
	p.push(item{kind: itArm, at: now})
	p.flush()
	s.sim.Stop()
}

func (p *partRun) push(it item) {
	p.buf.items = append(p.buf.items, it)
	if len(p.buf.items) >= itemBatch {
		p.flush()
	}
}

func (p *partRun) flush() {
	if len(p.buf.items) == 0 {
		return
	}
	select {
	case p.out <- p.buf:
	case <-p.ctx.Done():
	}
	select {
	case p.buf = <-p.free:
		p.buf.items, p.buf.recs, p.buf.snaps = p.buf.items[:0], p.buf.recs[:0], p.buf.snaps[:0]
	default:
		p.buf = &batch{items: make([]item, 0, itemBatch)}
	}
}

// partOutcome is what a part's goroutine leaves when it ends.
type partOutcome struct {
	s     *simulator
	res   *Result
	final Snapshot
	// sojourn holds, per instance, the time in system so far of each
	// counted request still in it, in result's order.
	sojourn [][]float64
}

// errArm stops a merge at a part whose governors would act.
var errArm = errors.New("sim: a part's governors act")

// errTie stops a merge that cannot order two records.
var errTie = errors.New("sim: records of two parts at one instant cannot be ordered")

func runSplit(ctx context.Context, sc *scenario.Scenario, opt Options, parts []part) (*Result, error) {
	popt := opt
	popt.OnSnapshot, popt.OnRequest, popt.Pacer = nil, nil, nil
	sims := make([]*simulator, len(parts))
	for k, pt := range parts {
		s, err := newSimulator(pt.scenario(sc), popt)
		if err != nil {
			return nil, err
		}
		sims[k] = s
	}
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	runs := make([]*partRun, len(parts))
	outs := make([]partOutcome, len(parts))
	panics := make([]any, len(parts))
	firstInst := nodeInstances(sc)
	fleet := newFleetSync(len(parts))
	var wg sync.WaitGroup
	for k, pt := range parts {
		p := &partRun{models: pt.models, nodes: pt.nodes, recs: opt.OnRequest != nil, snaps: opt.OnSnapshot != nil,
			out: make(chan *batch, 4), free: make(chan *batch, 6), ctx: pctx, buf: &batch{items: make([]item, 0, itemBatch)},
			fleet: fleet, sim: sims[k]}
		for _, ni := range pt.nodes {
			for j := range sc.Nodes[ni].Instances {
				p.insts = append(p.insts, firstInst[ni]+j)
			}
		}
		s := sims[k]
		s.part, s.sim.part = p, p
		for s.cancelMask > 0 && (s.cancelMask+1)*int64(len(parts)) > cancelCheckEvery {
			s.cancelMask >>= 1
		}
		runs[k] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				// A part's panic is the caller's, as in a serial run.
				if r := recover(); r != nil {
					panics[k] = r
					stop()
				}
			}()
			outs[k] = runPart(pctx, s)
		}()
	}
	m := &merger{opt: opt, sc: sc, runs: runs}
	err := m.merge()
	if err != nil {
		stop()
		for _, p := range runs {
			for range p.out { // let every part see the stop and end
			}
		}
	}
	wg.Wait()
	for _, r := range panics {
		if r != nil {
			panic(r)
		}
	}
	if errors.Is(err, errTie) || errors.Is(err, errArm) {
		why := "tie"
		if errors.Is(err, errArm) {
			why = "governed"
		}
		opt.heard(len(parts), why)
		return runSerial(ctx, sc, opt, m.records, m.snapshots)
	}
	if err != nil {
		return nil, err
	}
	opt.heard(len(parts), "")
	res := m.result(outs)
	if opt.OnSnapshot != nil {
		opt.OnSnapshot(m.finalSnapshot(outs, res))
	}
	return res, ctx.Err()
}

func (o Options) heard(parts int, serial string) {
	if o.onSplit != nil {
		o.onSplit(parts, serial)
	}
}

// runPart runs one part to the end, or until ctx ends.
func runPart(ctx context.Context, s *simulator) partOutcome {
	p := s.part
	defer close(p.out)
	s.ctx = ctx
	s.start()
	for s.sim.Now() < s.sc.Duration {
		s.sim.RunUntil(min(s.sc.Duration, s.sim.Now()+s.opt.SnapshotEvery))
		if ctx.Err() != nil || p.armed {
			break
		}
	}
	p.flush()
	o := partOutcome{s: s, res: s.result()}
	now := s.sim.Now()
	for _, in := range s.insts {
		var soj []float64
		s.eachInSystem(in, func(id int32) {
			if r := &s.reqs[id]; r.counted {
				soj = append(soj, (now - r.arrival).Seconds())
			}
		})
		o.sojourn = append(o.sojourn, soj)
	}
	if p.snaps {
		o.final = s.snapshot(true)
	}
	return o
}

// runSerial is Run's serial path; it skips the first records and
// snapshots, which a split run that fell back already delivered.
func runSerial(ctx context.Context, sc *scenario.Scenario, opt Options, records, snapshots int64) (*Result, error) {
	opt.OnRequest = skipFirst(records, opt.OnRequest)
	opt.OnSnapshot = skipFirst(snapshots, opt.OnSnapshot)
	s, err := newSimulator(sc, opt)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}

// skipFirst returns on without its first n calls (on itself for n = 0 or
// a nil on).
func skipFirst[T any](n int64, on func(T)) func(T) {
	if on == nil || n <= 0 {
		return on
	}
	return func(v T) {
		if n > 0 {
			n--
			return
		}
		on(v)
	}
}

// nodeInstances is, per node, the index of its first instance in the
// serial simulator's: instances are numbered node by node.
func nodeInstances(sc *scenario.Scenario) []int {
	first := make([]int, len(sc.Nodes))
	k := 0
	for i, n := range sc.Nodes {
		first[i] = k
		k += len(n.Instances)
	}
	return first
}
