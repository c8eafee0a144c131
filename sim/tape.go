package sim

import (
	"reflect"
	"sync"

	"github.com/fleettwin/fleettwin/engine"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/workload"
)

// Tapes keeps recorded open-loop arrival streams for runs that share them:
// the planner simulates one workload on thousands of fleets, and a model's
// arrival times, lengths and classes depend only on its workload, the
// seed, its name and the duration, never on the nodes. A run given Tapes
// (Options.Tapes) replays a model's stream from its tape instead of
// drawing it, with the same numbers in the same order, so its results are
// byte-identical to a run without. Safe for concurrent runs.
type Tapes struct {
	limit int

	mu      sync.Mutex
	entries map[string][]*tape // by model name
}

// NewTapes keeps tapes of at most limit arrivals each; a longer stream
// is drawn as usual, so memory stays bounded however long the runs.
func NewTapes(limit int) *Tapes {
	return &Tapes{limit: limit, entries: map[string][]*tape{}}
}

// tapeKey is everything a model's open-loop stream is drawn from. A tape
// is replayed only for an equal key (reflect.DeepEqual, so a field added
// to any of these types is compared too).
type tapeKey struct {
	seed            uint64
	duration        engine.Time
	arrival         workload.Arrival
	input, output   workload.Lengths
	inDist, outDist []workload.WeightedValue
	classes         []workload.Class
}

// tape is one recorded stream: arrival i comes at at[i] with in[i] prompt
// and out[i] output tokens in class class[i].
type tape struct {
	key   tapeKey
	once  sync.Once
	ok    bool // recorded within the limit
	at    []engine.Time
	in    []int32
	out   []int32
	class []int32
}

// taped reports whether a model's requests all come from its open-loop
// stream: not a closed loop or trace, and no session turns, which draw
// lengths from the same stream at times the fleet decides.
func taped(m scenario.Model) bool {
	switch m.Workload.Arrival.Process {
	case workload.Closed, workload.Trace:
		return false
	}
	return m.Workload.Sessions == nil
}

// get returns m's tape in sc, recording it on first use, or nil when the
// model is not taped or its stream is longer than the limit.
func (t *Tapes) get(sc *scenario.Scenario, m *modelState) *tape {
	if t == nil || !taped(m.spec) {
		return nil
	}
	sm := &m.spec
	k := tapeKey{seed: sc.Seed, duration: sc.Duration, arrival: sm.Workload.Arrival, input: sm.Workload.Input,
		output: sm.Workload.Output, inDist: sm.InputDist, outDist: sm.OutputDist, classes: sm.Classes}
	t.mu.Lock()
	var tp *tape
	for _, e := range t.entries[sm.Name] {
		if reflect.DeepEqual(e.key, k) {
			tp = e
			break
		}
	}
	if tp == nil {
		tp = &tape{key: k}
		t.entries[sm.Name] = append(t.entries[sm.Name], tp)
	}
	t.mu.Unlock()
	tp.once.Do(func() { tp.ok = tp.record(m, t.limit) })
	if !tp.ok {
		return nil
	}
	return tp
}

// record draws the stream as the run would (scheduleArrival and arrive)
// with the run's samplers, which hold no state, on fresh copies of its
// streams, so that a run whose stream is over the limit still draws it
// from the start. It keeps at most limit arrivals and reports false,
// keeping nothing, for a longer stream.
func (tp *tape) record(run *modelState, limit int) bool {
	m := *run
	m.openStreams(engine.NewStreams(tp.key.seed))
	var now engine.Time
	for {
		at, ok := m.arrivals.Next(m.rngArr, now)
		if !ok || at >= tp.key.duration {
			return true
		}
		if len(tp.at) == limit {
			tp.at, tp.in, tp.out, tp.class = nil, nil, nil, nil
			return false
		}
		now = max(at, now)
		in, out, class := m.draw()
		tp.at = append(tp.at, now)
		// arrive clamps again; clamping twice is clamping once.
		tp.in = append(tp.in, int32(clampTokens(in)))
		tp.out = append(tp.out, int32(clampTokens(out)))
		tp.class = append(tp.class, int32(class))
	}
}
