package engine_test

import (
	"fmt"

	"github.com/fleettwin/fleettwin/engine"
)

// event is the payload: plain values, so scheduling allocates nothing.
type event struct {
	kind    int
	request int
}

const (
	arrive = iota
	finish
	timeout
)

// server handles every event; it is the simulation's single Handler.
type server struct {
	timeouts map[int]engine.EventID
}

func (s *server) Handle(sim *engine.Sim[event], e event) {
	switch e.kind {
	case arrive:
		fmt.Printf("%v: request %d arrives\n", sim.Now(), e.request)
		sim.After(30*engine.Millisecond*engine.Time(e.request), event{finish, e.request})
		s.timeouts[e.request] = sim.After(50*engine.Millisecond, event{timeout, e.request})
	case finish:
		cancelled := sim.Cancel(s.timeouts[e.request])
		fmt.Printf("%v: request %d done (timeout cancelled: %v)\n", sim.Now(), e.request, cancelled)
	case timeout:
		fmt.Printf("%v: request %d timed out\n", sim.Now(), e.request)
	}
}

func Example() {
	sim := engine.New[event](&server{timeouts: map[int]engine.EventID{}})
	for i := 1; i <= 3; i++ {
		sim.Schedule(engine.Time(i)*100*engine.Millisecond, event{arrive, i})
	}

	sim.RunUntil(250 * engine.Millisecond)
	fmt.Printf("paused at %v with %d pending\n", sim.Now(), sim.Pending())
	sim.Run()
	fmt.Printf("finished at %v\n", sim.Now())

	// Output:
	// 100ms: request 1 arrives
	// 130ms: request 1 done (timeout cancelled: true)
	// 200ms: request 2 arrives
	// 250ms: request 2 timed out
	// paused at 250ms with 2 pending
	// 260ms: request 2 done (timeout cancelled: false)
	// 300ms: request 3 arrives
	// 350ms: request 3 timed out
	// 390ms: request 3 done (timeout cancelled: false)
	// finished at 390ms
}

// Each model component draws from its own named stream, so adding a
// component later does not change the numbers the others draw.
func ExampleStreams() {
	streams := engine.NewStreams(42)
	arrivals := streams.Stream("arrivals")
	service := streams.Stream("service")

	gap := engine.FromSeconds(engine.Exponential(arrivals, 0.5))
	work := engine.FromSeconds(engine.Gamma(service, 2, 0.1))
	fmt.Println(gap, work)
	// Output: 150.913018ms 355.756985ms
}
