package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// tev is the test payload: a name to log and an optional action to run when
// the event fires.
type tev struct {
	name string
	do   func(s *Sim[tev])
}

// recorder logs "name@time" for each fired event, then runs its action.
type recorder struct{ log []string }

func (r *recorder) Handle(s *Sim[tev], p tev) {
	r.log = append(r.log, fmt.Sprintf("%s@%d", p.name, s.Now()))
	if p.do != nil {
		p.do(s)
	}
}

func newRec() (*Sim[tev], *recorder) {
	r := &recorder{}
	return New[tev](r), r
}

func TestSimOrder(t *testing.T) {
	type sched struct {
		at   Time
		name string
	}
	tests := []struct {
		name  string
		sched []sched
		want  []string
	}{
		{"time order", []sched{{3, "c"}, {1, "a"}, {2, "b"}}, []string{"a@1", "b@2", "c@3"}},
		{"ties in scheduling order", []sched{{2, "x"}, {1, "a"}, {2, "y"}, {2, "z"}, {1, "b"}},
			[]string{"a@1", "b@1", "x@2", "y@2", "z@2"}},
		{"at time zero", []sched{{0, "a"}, {0, "b"}}, []string{"a@0", "b@0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := newRec()
			for _, e := range tt.sched {
				s.Schedule(e.at, tev{name: e.name})
			}
			s.Run()
			if !slices.Equal(r.log, tt.want) {
				t.Errorf("fired %v, want %v", r.log, tt.want)
			}
		})
	}
}

// TestSimScheduleNow checks that an event scheduled at Now from a handler
// fires after the events already due at Now, and before later ones.
func TestSimScheduleNow(t *testing.T) {
	s, r := newRec()
	s.Schedule(5, tev{name: "a", do: func(s *Sim[tev]) {
		s.Schedule(s.Now(), tev{name: "a2"})
		s.After(0, tev{name: "a3"})
	}})
	s.Schedule(5, tev{name: "b"})
	s.Schedule(6, tev{name: "c"})
	s.Run()
	want := []string{"a@5", "b@5", "a2@5", "a3@5", "c@6"}
	if !slices.Equal(r.log, want) {
		t.Errorf("fired %v, want %v", r.log, want)
	}
}

func TestSimCancel(t *testing.T) {
	t.Run("double cancel", func(t *testing.T) {
		s, r := newRec()
		id := s.Schedule(1, tev{name: "a"})
		s.Schedule(2, tev{name: "b"})
		if got := s.Cancel(id); !got {
			t.Errorf("first Cancel = %v, want true", got)
		}
		if got := s.Cancel(id); got {
			t.Errorf("second Cancel = %v, want false", got)
		}
		if got, want := s.Pending(), 1; got != want {
			t.Errorf("Pending = %d, want %d", got, want)
		}
		s.Run()
		if want := []string{"b@2"}; !slices.Equal(r.log, want) {
			t.Errorf("fired %v, want %v", r.log, want)
		}
	})
	t.Run("cancel after fire", func(t *testing.T) {
		s, _ := newRec()
		id := s.Schedule(1, tev{name: "a"})
		s.Step()
		if got := s.Cancel(id); got {
			t.Errorf("Cancel after fire = %v, want false", got)
		}
	})
	t.Run("cancel self while firing", func(t *testing.T) {
		s, _ := newRec()
		var id EventID
		var got bool
		id = s.Schedule(1, tev{name: "a", do: func(s *Sim[tev]) { got = s.Cancel(id) }})
		s.Run()
		if got {
			t.Errorf("Cancel of the firing event = %v, want false", got)
		}
	})
	t.Run("cancel same-time event from handler", func(t *testing.T) {
		s, r := newRec()
		var b EventID
		var got bool
		s.Schedule(5, tev{name: "a", do: func(s *Sim[tev]) { got = s.Cancel(b) }})
		b = s.Schedule(5, tev{name: "b"})
		s.Schedule(5, tev{name: "c"})
		s.Run()
		if !got {
			t.Errorf("Cancel(b) from a = %v, want true", got)
		}
		if want := []string{"a@5", "c@5"}; !slices.Equal(r.log, want) {
			t.Errorf("fired %v, want %v", r.log, want)
		}
	})
	t.Run("cancel only pending event leaves Run with nothing", func(t *testing.T) {
		s, r := newRec()
		id := s.Schedule(7, tev{name: "a"})
		s.Cancel(id)
		if s.Step() {
			t.Errorf("Step fired a cancelled event: %v", r.log)
		}
		if got := s.Now(); got != 0 {
			t.Errorf("Now = %v, want 0", got)
		}
	})
}

func TestSimRunUntil(t *testing.T) {
	s, r := newRec()
	for _, at := range []Time{1, 2, 3, 3, 5} {
		s.Schedule(at, tev{name: fmt.Sprint(int64(at))})
	}
	steps := []struct {
		until       Time
		wantLog     []string
		wantPending int
	}{
		{0, nil, 5},
		{3, []string{"1@1", "2@2", "3@3", "3@3"}, 1}, // events at exactly t fire
		{4, []string{"1@1", "2@2", "3@3", "3@3"}, 1},
		{4, []string{"1@1", "2@2", "3@3", "3@3"}, 1},
		{Never, []string{"1@1", "2@2", "3@3", "3@3", "5@5"}, 0},
	}
	for _, st := range steps {
		s.RunUntil(st.until)
		if got := s.Now(); got != st.until {
			t.Errorf("after RunUntil(%v): Now = %v, want %v", st.until, got, st.until)
		}
		if got := s.Pending(); got != st.wantPending {
			t.Errorf("after RunUntil(%v): Pending = %d, want %d", st.until, got, st.wantPending)
		}
		if !slices.Equal(r.log, st.wantLog) {
			t.Errorf("after RunUntil(%v): fired %v, want %v", st.until, r.log, st.wantLog)
		}
	}
}

func TestSimStop(t *testing.T) {
	tests := []struct {
		name        string
		run         func(s *Sim[tev])
		wantNow     Time
		wantLog     []string
		wantPending int
	}{
		{"Run", (*Sim[tev]).Run, 2, []string{"a@1", "stop@2"}, 2},
		{"RunUntil", func(s *Sim[tev]) { s.RunUntil(10) }, 2, []string{"a@1", "stop@2"}, 2},
		{"Stop before RunUntil is ignored", func(s *Sim[tev]) { s.Stop(); s.RunUntil(1) }, 1, []string{"a@1"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := newRec()
			s.Schedule(1, tev{name: "a"})
			s.Schedule(2, tev{name: "stop", do: (*Sim[tev]).Stop})
			s.Schedule(2, tev{name: "b"})
			s.Schedule(3, tev{name: "c"})
			tt.run(s)
			if got := s.Now(); got != tt.wantNow {
				t.Errorf("Now = %v, want %v", got, tt.wantNow)
			}
			if got := s.Pending(); got != tt.wantPending {
				t.Errorf("Pending = %d, want %d", got, tt.wantPending)
			}
			if !slices.Equal(r.log, tt.wantLog) {
				t.Errorf("fired %v, want %v", r.log, tt.wantLog)
			}
		})
	}
	// A stopped run resumes where it left off.
	s, r := newRec()
	s.Schedule(1, tev{name: "stop", do: (*Sim[tev]).Stop})
	s.Schedule(2, tev{name: "b"})
	s.Run()
	s.Run()
	if want := []string{"stop@1", "b@2"}; !slices.Equal(r.log, want) {
		t.Errorf("fired %v, want %v", r.log, want)
	}
}

func TestSimAfter(t *testing.T) {
	s, r := newRec()
	s.Schedule(10, tev{name: "a", do: func(s *Sim[tev]) {
		s.After(5, tev{name: "b"})
		s.After(Never, tev{name: "never"})
	}})
	s.RunUntil(100)
	if want := []string{"a@10", "b@15"}; !slices.Equal(r.log, want) {
		t.Errorf("fired %v, want %v", r.log, want)
	}
	if at, ok := s.q.Peek(); !ok || at != Never {
		t.Errorf("saturated event at (%v, %v), want (never, true)", at, ok)
	}
}

func TestSimPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(s *Sim[tev])
	}{
		{"Schedule in the past", func(s *Sim[tev]) { s.Schedule(4, tev{}) }},
		{"After negative", func(s *Sim[tev]) { s.After(-1, tev{}) }},
		{"RunUntil in the past", func(s *Sim[tev]) { s.RunUntil(4) }},
		{"Run inside handler", func(s *Sim[tev]) {
			s.Schedule(6, tev{do: (*Sim[tev]).Run})
			s.Run()
		}},
		{"Step inside handler", func(s *Sim[tev]) {
			s.Schedule(6, tev{do: func(s *Sim[tev]) { s.Step() }})
			s.Run()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newRec()
			s.RunUntil(5)
			defer func() {
				if recover() == nil {
					t.Errorf("did not panic")
				}
			}()
			tt.f(s)
		})
	}
}

// mm1 is a small single-server queue used to check determinism: arrivals
// and service times come from separate named streams.
type mm1 struct {
	arrive, serve *rand.Rand
	busy          bool
	queued        int
	served        int
	trace         strings.Builder
}

const (
	evArrive = iota
	evDepart
)

func (m *mm1) Handle(s *Sim[int], kind int) {
	fmt.Fprintf(&m.trace, "%d:%d ", s.Now(), kind)
	switch kind {
	case evArrive:
		s.After(FromSeconds(Exponential(m.arrive, 1.0)), evArrive)
		if m.busy {
			m.queued++
			return
		}
		m.busy = true
		s.After(FromSeconds(Exponential(m.serve, 0.8)), evDepart)
	case evDepart:
		m.served++
		if m.queued == 0 {
			m.busy = false
			return
		}
		m.queued--
		s.After(FromSeconds(Exponential(m.serve, 0.8)), evDepart)
	}
}

func runMM1(seed uint64) string {
	st := NewStreams(seed)
	m := &mm1{arrive: st.Stream("arrive"), serve: st.Stream("serve")}
	s := New[int](m)
	s.Schedule(0, evArrive)
	s.RunUntil(200 * Second)
	return m.trace.String()
}

func TestDeterminism(t *testing.T) {
	a, b := runMM1(1), runMM1(1)
	if a != b {
		t.Errorf("two runs with seed 1 differ:\n%.200s\n%.200s", a, b)
	}
	if n := strings.Count(a, " "); n < 200 {
		t.Errorf("trace has %d events, want at least 200 (model too small to test anything)", n)
	}
	if c := runMM1(2); c == a {
		t.Errorf("runs with seeds 1 and 2 produced the same trace")
	}
}

// TestSimAllocs pins the steady-state cost of the hold model (fire one
// event, schedule one) at zero allocations.
func TestSimAllocs(t *testing.T) {
	h := &holdHandler{r: rand.New(rand.NewPCG(1, 2))}
	s := New[holdEvent](h)
	for i := range 1000 {
		s.Schedule(Time(i), holdEvent{})
	}
	for range 10000 {
		s.Step()
	}
	if got := testing.AllocsPerRun(10000, func() { s.Step() }); got != 0 {
		t.Errorf("Step (fire + schedule): %v allocs, want 0", got)
	}
	if got := testing.AllocsPerRun(10000, func() {
		id := s.After(Millisecond, holdEvent{})
		s.Cancel(id)
		s.Step()
	}); got != 0 {
		t.Errorf("After + Cancel + Step: %v allocs, want 0", got)
	}
}

// TestSimAfterHandlerPanic checks that a Sim stays usable when the caller
// recovers from a handler's panic.
func TestSimAfterHandlerPanic(t *testing.T) {
	s, r := newRec()
	s.Schedule(1, tev{name: "boom", do: func(*Sim[tev]) { panic("boom") }})
	s.Schedule(2, tev{name: "b"})
	func() {
		defer func() { _ = recover() }()
		s.Run()
	}()
	s.Run()
	if want := []string{"boom@1", "b@2"}; !slices.Equal(r.log, want) {
		t.Errorf("fired %v, want %v", r.log, want)
	}
}

// TestFiringSlot checks that a handler sees its own event's slot, so a
// table by slot finds what was kept for it when it was scheduled, even
// as slots are reused.
func TestFiringSlot(t *testing.T) {
	kept := map[uint32]int{}
	var s *Sim[int]
	bad := 0
	s = New[int](HandlerFunc[int](func(s *Sim[int], p int) {
		if kept[s.Firing()] != p {
			bad++
		}
		if p < 50 {
			for k := 1; k <= 2; k++ {
				q := 2*p + k
				kept[s.After(Time(q%7), q).Slot()] = q
			}
			if p%3 == 0 {
				s.Cancel(s.After(1, -1))
			}
		}
	}))
	kept[s.Schedule(0, 0).Slot()] = 0
	s.Run()
	if bad > 0 {
		t.Errorf("%d handlers saw another event's slot", bad)
	}
}
