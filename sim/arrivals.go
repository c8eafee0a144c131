package sim

import (
	"math/rand/v2"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// user is one closed-loop user: it sends its next request a think time
// after its last one finished.
type user struct {
	model int
}

// modelState is a served model's arrivals, length and class samplers,
// random streams and results, and the instances that serve it.
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
	// tape, if set, replays the open-loop stream (tape.go): tapeNext is
	// the next arrival to schedule, tapeArr the next to arrive.
	tape              *tape
	tapeNext, tapeArr int
	rngArr            *rand.Rand
	rngLen            *rand.Rand
	rngClass          *rand.Rand
	rngRoute          *rand.Rand
	rngThink          *rand.Rand
	rr                int
	stats             *modelStats
	// kv is the decode pool of a disaggregated model, nil for a
	// co-located one (disagg.go); rngDecode its router's stream.
	kv        *kvState
	rngDecode *rand.Rand
	// scaled: some instance is on an autoscaled node; live are then the
	// instances on serving nodes (autoscale.go).
	scaled bool
	live   []int
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
		if tp := m.tape; tp != nil {
			if m.tapeNext == len(tp.at) {
				return
			}
			at = tp.at[m.tapeNext]
			m.tapeNext++
			break
		}
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
	if m.spec.Workload.Arrival.Process == workload.Trace {
		rec := m.spec.Trace[m.trace]
		m.trace++
		input, output = rec.InputTokens, rec.OutputTokens
		class = m.classIndex(rec.Class)
	} else if tp := m.tape; tp != nil {
		i := m.tapeArr
		m.tapeArr++
		input, output, class = int(tp.in[i]), int(tp.out[i]), int(tp.class[i])
	} else {
		input, output, class = m.draw()
	}
	input, output = clampTokens(input), clampTokens(output)
	id := s.alloc()
	r := &s.reqs[id]
	*r = request{model: int32(m.idx), class: int32(class), user: userIdx, arrival: now, admitted: -1, first: -1,
		input: int32(input), output: int32(output), prompt: int32(input), seq: s.seq, counted: now >= s.sc.Warmup}
	s.seq++
	if s.tr != nil {
		s.shape(m, id, userIdx) // sessions.go
	}
	if r.counted {
		s.advanceLittle(now)
		s.inSystem++
		s.arrivals++
		m.stats.arrived++
		s.part.arrive(now) // split_run.go
	}
	in := s.insts[s.route(m, id)]
	r.instance = int32(in.idx)
	fits := in.canEverFit(r)
	if fits && in.front != nil {
		// Nothing the device integrates changes until the request
		// reaches the engine (reachEngine advances it then).
		in.outstanding++
		s.sim.Schedule(in.front.pass(id, now), event{kind: evFrontend, target: int32(in.idx)})
		return
	}
	d := s.devs[in.node]
	d.advance(now, s.insts)
	if !fits {
		s.finish(in, id, now, true)
		return
	}
	in.enqueue(id)
	d.waiting++
	s.wake(in, now)
}

// openStreams sets the streams a model's open-loop requests are drawn
// from (draw, scheduleArrival), each at its start.
func (m *modelState) openStreams(st engine.Streams) {
	m.rngArr = st.Stream("arrivals/" + m.spec.Name)
	m.rngLen = st.Stream("lengths/" + m.spec.Name)
	m.rngClass = st.Stream("classes/" + m.spec.Name)
}

// draw samples an open-loop request's prompt and output lengths and its
// class from the model's streams.
func (m *modelState) draw() (input, output, class int) {
	return m.inLen.Sample(m.rngLen), m.outLen.Sample(m.rngLen), m.classes.Pick(m.rngClass)
}

// clampTokens bounds a length to [1, workload.MaxTokens]. Scenarios bound
// lengths already; clamping in the simulator too keeps every int32 token
// sum (prompt + output + cached context) far from overflow whatever a
// caller built in code.
func clampTokens(n int) int { return min(max(n, 1), workload.MaxTokens) }

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

// finish records a completed or rejected request and frees it.
func (s *simulator) finish(in *instance, id int32, now engine.Time, rejected bool) {
	r := &s.reqs[id]
	m := s.models[r.model]
	if !rejected {
		in.outstanding--
		if now >= s.sc.Warmup {
			m.stats.served++
		}
	}
	if r.counted {
		s.advanceLittle(now)
		s.inSystem--
		s.sojourn += (now - r.arrival).Seconds()
		rec := m.stats.record(r, now, rejected, in.idx)
		if s.opt.OnRequest != nil {
			s.opt.OnRequest(rec)
		}
		s.part.finish(now, r.arrival, rec) // split_run.go
	}
	turn := s.tr != nil && s.endTurn(m, id, now, rejected) // sessions.go
	if r.user >= 0 && !turn {
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
