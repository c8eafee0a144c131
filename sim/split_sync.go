package sim

import (
	"math"
	"sync"
)

// The governors' control loop in a split run. In the serial run the loop
// is one: its ticks (evControl) and wake-ups (evArm) act on every device,
// and whether it ticks again (some device needs watching) or sleeps until
// the earliest time any device could warm (sleepControl) depends on every
// device. In a split run every part handles the same ticks at the same
// instants, on its own devices, and takes those two decisions for the
// fleet: each part brings its devices' answer to a rendezvous and leaves
// with the fleet's (any device watched, the least time to warm). The
// decisions are an OR and a minimum, the same whatever the order.
//
// A part waiting at the rendezvous first sends what it has streamed and a
// barrier (itTick), so the merge, which may wait on it, can go on. A stopped run (cancelled,
// or falling back to serial) releases the parts waiting there.

// fleetSync is the rendezvous of a split run's parts.
type fleetSync struct {
	mu      sync.Mutex
	parts   int
	arrived int
	cur     *fleetRound
}

// fleetRound is one rendezvous: the answers so far, and done, closed when
// every part has brought its own.
type fleetRound struct {
	watch bool
	wake  float64
	done  chan struct{}
}

func newFleetSync(parts int) *fleetSync {
	return &fleetSync{parts: parts, cur: newFleetRound()}
}

func newFleetRound() *fleetRound {
	return &fleetRound{wake: math.Inf(1), done: make(chan struct{})}
}

// meet brings a part's answers and returns the fleet's; ok is false when
// the run stopped first.
func (p *partRun) meet(watch bool, wake float64) (bool, float64, bool) {
	// The merge may need this part's next item to take the others': the
	// rendezvous is a barrier in the stream, which lets it go on.
	p.push(item{kind: itTick, at: p.sim.sim.Now()})
	p.flush()
	f := p.fleet
	f.mu.Lock()
	r := f.cur
	r.watch = r.watch || watch
	r.wake = min(r.wake, wake)
	if f.arrived++; f.arrived == f.parts {
		f.arrived, f.cur = 0, newFleetRound()
		close(r.done)
	}
	f.mu.Unlock()
	select {
	case <-r.done:
		return r.watch, r.wake, true
	case <-p.ctx.Done():
		p.sim.sim.Stop()
		return false, math.Inf(1), false
	}
}

// fleetWake is the least time any device of the fleet could take to warm,
// given this part's; wake itself outside a split run.
func (p *partRun) fleetWake(wake float64) float64 {
	if p == nil {
		return wake
	}
	_, w, _ := p.meet(false, wake)
	return w
}

// fleetWatch reports whether any device of the fleet needs watching,
// given whether one of this part's does.
func (p *partRun) fleetWatch(watch bool) bool {
	w, _, _ := p.meet(watch, math.Inf(1))
	return w
}

func (p *partRun) setArming(on bool) {
	if p != nil {
		p.arming = on
	}
}
