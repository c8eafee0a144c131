package engine

// Handler receives every event a Sim fires. When Handle runs, s.Now() is the
// event's time. Handle may Schedule, Cancel and Stop, but must not call
// Step, Run or RunUntil.
//
// One handler per Sim, dispatching on fields of the payload (for example a
// kind and a target index), is what keeps firing allocation-free: a per-event
// func value would usually be a closure, and closures allocate.
type Handler[P any] interface {
	Handle(s *Sim[P], p P)
}

// HandlerFunc adapts a function to Handler. Convert it once, when building
// the Sim, not per event.
type HandlerFunc[P any] func(s *Sim[P], p P)

// Handle calls f(s, p).
func (f HandlerFunc[P]) Handle(s *Sim[P], p P) { f(s, p) }

// Sim is a discrete-event simulation: a clock, a Queue of pending events and
// the Handler that fires them. Create one with New.
type Sim[P any] struct {
	q       Queue[P]
	h       Handler[P]
	now     Time
	firing  uint32 // the slot of the event being handled
	stopped bool
	running bool
}

// New returns a simulation at time 0 with no pending events, firing events
// through h.
func New[P any](h Handler[P]) *Sim[P] {
	if h == nil {
		panic("engine: New with nil Handler")
	}
	return &Sim[P]{h: h}
}

// Now returns the current simulated time.
func (s *Sim[P]) Now() Time { return s.now }

// Firing is the slot (EventID.Slot) of the event being handled; inside a
// handler, before it schedules anything, it names the handled event's
// entry in a table kept by slot.
func (s *Sim[P]) Firing() uint32 { return s.firing }

// Pending returns the number of scheduled events that have neither fired nor
// been cancelled.
func (s *Sim[P]) Pending() int { return s.q.Len() }

// Schedule arranges for p to be handled at time at. Scheduling in the past
// panics: it would break causality, and silently clamping would hide the bug.
// Events at the same time fire in the order they were scheduled, including
// events scheduled at Now from inside a handler, which fire after every
// event already due at Now.
func (s *Sim[P]) Schedule(at Time, p P) EventID {
	if at < s.now {
		panic("engine: Schedule at " + at.String() + " before now " + s.now.String())
	}
	return s.q.Push(at, p)
}

// Reschedule moves the pending event id to time at with payload p, as
// Cancel(id) then Schedule(at, p) would (Queue.Reschedule), and returns its
// new ID. Rescheduling into the past panics, as Schedule does.
func (s *Sim[P]) Reschedule(id EventID, at Time, p P) EventID {
	if at < s.now {
		panic("engine: Reschedule at " + at.String() + " before now " + s.now.String())
	}
	return s.q.Reschedule(id, at, p)
}

// After schedules p at Now()+d. A negative d panics; a sum beyond the range
// of Time saturates to Never.
func (s *Sim[P]) After(d Time, p P) EventID {
	if d < 0 {
		panic("engine: After with negative delay " + d.String())
	}
	at := s.now + d
	if at < s.now {
		at = Never
	}
	return s.q.Push(at, p)
}

// Cancel unschedules the event id and reports whether it was pending. An
// event that already fired or was already cancelled is left alone and
// Cancel returns false. A cancelled event never fires, even if it is due at
// the current instant.
func (s *Sim[P]) Cancel(id EventID) bool { return s.q.Cancel(id) }

// Stop ends the Run or RunUntil in progress once the current handler
// returns. The clock stays at the time of the event that called Stop and the
// remaining events stay pending, so a later Run resumes where it stopped.
// Stop outside a run has no effect.
func (s *Sim[P]) Stop() { s.stopped = true }

// Step fires the earliest pending event, advancing the clock to its time,
// and reports whether there was one.
func (s *Sim[P]) Step() bool {
	s.enter()
	defer s.leave()
	return s.fire(Never)
}

// Run fires events in order until none are pending or a handler calls Stop.
// The clock is left at the time of the last event fired.
func (s *Sim[P]) Run() {
	s.enter()
	defer s.leave()
	for !s.stopped && s.fire(Never) {
	}
}

// RunUntil fires, in order, every event due at or before t, then sets the
// clock to t. Events exactly at t fire, so afterwards the model's state is
// the state at the end of instant t; events later than t stay pending. If a
// handler calls Stop, RunUntil returns at once and the clock stays at the
// stopping event's time. t before Now panics.
func (s *Sim[P]) RunUntil(t Time) {
	if t < s.now {
		panic("engine: RunUntil " + t.String() + " before now " + s.now.String())
	}
	s.enter()
	defer s.leave()
	for !s.stopped && s.fire(t) {
	}
	if !s.stopped {
		s.now = t
	}
}

// enter guards against re-entrant runs, which would fire events out of
// order, and clears any stale Stop.
func (s *Sim[P]) enter() {
	if s.running {
		panic("engine: Step, Run or RunUntil called from inside a handler")
	}
	s.running = true
	s.stopped = false
}

// leave ends a run. It is deferred so that a handler's panic, if the caller
// recovers from it, does not leave the Sim refusing every later run.
func (s *Sim[P]) leave() { s.running = false }

// fire pops the earliest event due at or before limit and handles it.
func (s *Sim[P]) fire(limit Time) bool {
	at, p, slot, ok := s.q.popUntil(limit)
	if !ok {
		return false
	}
	s.now, s.firing = at, slot
	s.h.Handle(s, p)
	return true
}
