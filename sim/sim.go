package sim

import (
	"context"
	"fmt"
	"math"

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
	// Workers bounds the goroutines one run may use: a scenario whose
	// parts do not interact (models on disjoint nodes, split.go) runs its
	// parts at once, with results byte-identical to the serial run. 0 uses
	// GOMAXPROCS; 1 runs serially (a caller that already runs simulations
	// in parallel, such as the planner or RunReplicas, passes 1).
	Workers int
	// Tapes, if set, replays the open-loop arrival streams recorded there
	// by earlier runs of the same workloads (tape.go); results are the same.
	Tapes *Tapes
	// StopWhenMissed ends the run early, at a snapshot boundary after
	// warm-up, once a model has rejected a request or is certain to miss
	// its SLO at the end whatever happens next (stopmiss.go): the result is
	// then Partial, and its SLOMet already false. Only models replayed
	// from Tapes can be certain (their arrivals to come are known). The
	// planner sets it: a configuration certain to fail need not run on.
	// A run that does not stop is byte-identical to one without it.
	StopWhenMissed bool
	// NoSeries leaves Result.Series empty for a caller that reads only
	// the totals (the planner's trials, a run with no series file): the
	// devices keep no time-series bins. Every other result is the same.
	NoSeries bool

	// costFor overrides the performance model (tests).
	costFor func(scenario.Node, scenario.NodeInstance) (StepCoster, error)
	// onSplit, if set, hears how a run was split (tests): its parts, and
	// why it ran serially after all ("" if it did not).
	onSplit func(parts int, serial string)
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
	// evFrontend is last so the kinds above keep their values. target:
	// instance, whose front end's next request reaches the engine.
	evFrontend
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

// evQueue is the simulator's engine. In a part of a split run its
// Schedule also keeps the event's order key (split_key.go), by the
// event's slot so that the payload, which every run copies, stays small;
// otherwise it is the engine's own.
type evQueue struct {
	*engine.Sim[event]
	part *partRun
}

// Schedule schedules e at at, keyed in a split run.
func (q evQueue) Schedule(at engine.Time, e event) engine.EventID {
	return q.keyed(q.Sim.Schedule(at, e))
}

// Reschedule moves the pending event id to at with payload e
// (engine.Sim.Reschedule: as Cancel then Schedule), keyed in a split run.
func (q evQueue) Reschedule(id engine.EventID, at engine.Time, e event) engine.EventID {
	return q.keyed(q.Sim.Reschedule(id, at, e))
}

// keyed stamps a split run's order key on the event just scheduled.
func (q evQueue) keyed(id engine.EventID) engine.EventID {
	if q.part != nil {
		q.part.stamp(id.Slot(), q.Now())
	}
	return id
}

// Run simulates a scenario. On cancellation it returns the partial result
// gathered so far together with the context's error.
func Run(ctx context.Context, sc *scenario.Scenario, opt Options) (*Result, error) {
	if parts := splitParts(sc, opt); len(parts) > 1 && !opt.StopWhenMissed {
		return runSplit(ctx, sc, opt, parts) // split_run.go
	}
	return runSerial(ctx, sc, opt, 0, 0)
}

// cancelCheckEvery is how often, in events, a run checks its context
// between snapshots: about a millisecond of simulation work.
const cancelCheckEvery = 1 << 12

type simulator struct {
	sc      *scenario.Scenario
	opt     Options
	sim     evQueue
	streams engine.Streams
	// part is this simulator's place in a split run (split_run.go), nil
	// in a serial run.
	part *partRun

	reqs   []request
	free   []int32
	seq    int64
	models []*modelState
	insts  []*instance
	devs   []*device
	// nodeDevs lists each node's devices in devs: one, or on a node of
	// several devices one per instance and one for the idle rest
	// (parallel.go).
	nodeDevs [][]int
	users    []user
	// Autoscaled groups (autoscale.go): their scalers, each node's scaler
	// (-1: fixed) and place in its group, and each device's node; nil
	// without autoscaling.
	scalers    []*scaler
	nodeScaler []int32
	nodeSlot   []int32
	devNode    []int
	// tr shapes requests (shared prefixes, sessions, thinking) and holds
	// what the prefix cache knows of them; nil when nothing does
	// (sessions.go).
	tr *traffic
	// done and ship are endSegment's scratch (it never runs inside
	// itself), kept so a segment end does not allocate.
	done, ship []int32

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
	// cancelMask+1 is how often, in events, handle checks ctx: a power of
	// two, cancelCheckEvery, or less in a part of a split run so that
	// the parts together stop within cancelCheckEvery events.
	cancelMask int64

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
	if s.inControl || s.ctlPending && s.ctlAt <= at {
		return
	}
	if s.part != nil && !s.part.arming {
		// One part's draw would start every part's governors.
		s.part.arm(s, now) // split_run.go
		return
	}
	if s.ctlPending {
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
	wake = s.part.fleetWake(wake) // split_sync.go
	if math.IsInf(wake, 1) || now+engine.FromSeconds(wake) >= s.sc.Duration {
		return
	}
	at := now + max(engine.FromSeconds(wake), ControlInterval)
	s.ctl, s.ctlAt, s.ctlPending = s.sim.Schedule(at, event{kind: evArm}), at, true
}

func newSimulator(sc *scenario.Scenario, opt Options) (*simulator, error) {
	s := &simulator{sc: sc, opt: opt, streams: engine.NewStreams(sc.Seed), cancelMask: cancelCheckEvery - 1}
	s.sim = evQueue{Sim: engine.New[event](s)}
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
		ms.openStreams(s.streams)
		ms.rngRoute = s.streams.Stream("router/" + m.Name)
		ms.rngThink = s.streams.Stream("think/" + m.Name)
		ms.tape = opt.Tapes.get(sc, ms)
		s.models = append(s.models, ms)
	}
	s.nodeDevs = make([][]int, len(sc.Nodes))
	for node, whole := range sc.Nodes {
		// One device, or on a node of several a group per instance
		// (parallel.go).
		for _, g := range groupsOf(whole) {
			n := g.node
			d := newDevice(len(s.devs), n, sc, opt.Unthrottled, opt.NoSeries)
			d.size = g.size
			for _, ni := range n.Instances {
				cost, err := s.costFor(n, ni)
				if err != nil {
					return nil, fmt.Errorf("node %s: %s: %w", n.Name, ni.Deploy.Model.Name, err)
				}
				sv := n.Profile.Serving
				in := &instance{idx: len(s.insts), node: d.idx, model: ni.Model, cfg: ni, cost: withServing(cost, sv),
					peak: n.Hardware.FLOPS(ni.Deploy.Weights.Compute), smShare: ni.SMShare, blockKV: ni.KVBlockBytes(),
					front: newFrontEnd(sv), prefillFirst: sv.PrefillFirst(), tokenRatio: sglInitRatio}
				in.pair, _ = in.cost.(pairCoster)
				in.steps, in.stepCPU = unwrap(in.cost)
				if !(in.smShare > 0 && in.smShare < 1) {
					in.smShare = 1 // uncapped, or a node built without sharing
				}
				in.waiting = waitQueue{reqs: &s.reqs, prio: s.models[ni.Model].prio}
				in.dec.reset(int32(ni.BlockTokens))
				in.blocksTotal = int64((ni.BudgetBytes - ni.WeightBytes) / in.blockKV)
				if n.DynamicMemory {
					in.blocksTotal = int64(d.kvCapacity / in.blockKV)
				}
				d.insts = append(d.insts, in.idx)
				d.addInstance(in)
				s.insts = append(s.insts, in)
				if in.role = ni.Role; in.role == scenario.RoleDecode {
					s.addDecode(s.models[ni.Model], in.idx) // disagg.go
				} else {
					s.models[ni.Model].instances = append(s.models[ni.Model].instances, in.idx)
				}
			}
			s.nodeDevs[node] = append(s.nodeDevs[node], d.idx)
			s.devs = append(s.devs, d)
		}
	}
	s.setupPrefixCaches()                    // prefix.go
	if err := s.setupTraffic(); err != nil { // sessions.go
		return nil, err
	}
	s.newScalers()
	return s, nil
}

// costFor builds an instance's step model on the device its steps run on:
// under MIG its partition (fewer SMs, its memory slices' bandwidth), else
// the node's. Device figures (MFU, MBU, power) stay the whole device's:
// instance.peak and the node's bandwidth normalise them.
func (s *simulator) costFor(n scenario.Node, ni scenario.NodeInstance) (StepCoster, error) {
	if s.opt.costFor != nil {
		return s.opt.costFor(n, ni)
	}
	hw := ni.Hardware
	if hw.Name == "" {
		hw = n.Hardware // a node built without the scenario's resolution
	}
	return perf.NewStepModel(hw, ni.Deploy, n.Profile)
}

func (s *simulator) run(ctx context.Context) (*Result, error) {
	s.ctx = ctx
	s.start()
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
		if s.opt.StopWhenMissed && s.sim.Now() >= s.sc.Warmup && s.missCertain(s.sim.Now()) {
			break
		}
	}
	res := s.result()
	if s.opt.OnSnapshot != nil {
		s.opt.OnSnapshot(s.snapshot(true))
	}
	return res, runErr
}

// start schedules what a run begins with: each model's first arrival or
// its closed-loop users, the snapshots, the autoscalers, the governors and
// the end of warm-up, in that order. In a part of a split run each event
// scheduled here is a root of the order keys (split_key.go).
func (s *simulator) start() {
	for _, m := range s.models {
		switch m.spec.Workload.Arrival.Process {
		case "closed":
			for u := range m.spec.Workload.Arrival.Concurrency {
				s.users = append(s.users, user{model: m.idx})
				s.part.setupRoot(m.idx, u)
				s.sim.Schedule(0, event{kind: evUser, target: int32(len(s.users) - 1)})
			}
		default:
			s.part.setupRoot(m.idx, 0)
			s.scheduleArrival(m, 0)
		}
	}
	s.part.setupRoot(-1, 0) // the snapshots and warm-up: every part's
	s.sim.Schedule(s.opt.SnapshotEvery, event{kind: evSnapshot})
	s.startScalers()
	s.sleepControl(0)
	if s.sc.Warmup > 0 {
		s.sim.Schedule(s.sc.Warmup, event{kind: evWarmup})
	}
	s.part.endSetup()
}

// Handle fires one event. The simulator is the engine's Handler itself:
// one call through an interface per event, where a HandlerFunc of a
// method value took two.
func (s *simulator) Handle(sim *engine.Sim[event], e event) {
	s.events++
	if s.part != nil {
		s.part.enter(e, sim.Firing())
	}
	if s.events&s.cancelMask == 0 && s.ctx.Err() != nil {
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
	case evFrontend:
		s.reachEngine(s.insts[e.target], now)
	case evKVArrive:
		s.kvArrive(e.target, now)
	case evScale:
		s.scaleTick(int(e.target), now)
	case evNodeReady:
		s.nodeReady(int(e.target), now)
	case evTurn:
		s.nextTurn(e.target, now) // sessions.go
	case evSnapshot:
		for _, d := range s.devs {
			d.advance(now, s.insts)
		}
		s.advanceLittle(now)
		if s.opt.OnSnapshot != nil {
			s.opt.OnSnapshot(s.snapshot(false))
		}
		if s.part != nil {
			s.part.snapshot(s, now)
		}
		s.sim.Schedule(now+s.opt.SnapshotEvery, event{kind: evSnapshot})
	case evControl:
		s.ctlPending = false
		s.inControl = true // a clock change that draws over a cap is seen below
		watch := false
		for _, d := range s.devs {
			d.control(s, now)
			watch = watch || d.needsWatching()
		}
		s.inControl = false
		if s.part != nil {
			watch = s.part.fleetWatch(watch) // split_sync.go
		}
		if watch {
			s.ctl, s.ctlAt, s.ctlPending = s.sim.Schedule(now+ControlInterval, event{kind: evControl}), now+ControlInterval, true
		} else {
			s.sleepControl(now)
		}
	case evArm:
		s.ctlPending = false
		s.part.setArming(true)
		s.armControl(now)
		s.part.setArming(false)
	case evWarmup:
		for _, d := range s.devs {
			d.advance(now, s.insts)
			d.warm = d.tot
		}
	}
}
