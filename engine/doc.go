// Package engine is a small, domain-free discrete-event simulation kernel.
//
// Vocabulary:
//
//   - Time is simulated time in integer nanoseconds. Integers rather than
//     float64 seconds make event ordering exact and runs bit-for-bit
//     reproducible: adding delays never rounds, and equal times compare equal.
//   - An event is a payload value of a caller-chosen type P that is due at a
//     Time. Scheduling returns an EventID, a small value that can later cancel
//     the event.
//   - Queue[P] is the pending-event set: a priority queue ordered by time and
//     then by scheduling order, so events due at the same instant fire in the
//     order they were scheduled. That tie-break, and nothing else (no map
//     iteration, no pointer addresses), decides the order, which is what makes
//     runs deterministic.
//   - Sim[P] owns a Queue, the clock (Now) and one Handler that receives every
//     event. Step fires one event; Run and RunUntil fire events in order; a
//     handler may Schedule, Cancel or Stop.
//   - Streams derives independent, named random streams from one seed, so each
//     model component draws from its own *rand.Rand and adding a component (a
//     stream) never shifts the numbers another component sees. dist.go has the
//     usual sampling helpers (exponential, gamma, lognormal, ...).
//
// Allocation: payloads are stored by value in a slab that is recycled through
// a free list, the heap holds small value entries, and the handler is one
// interface value fixed at construction. Nothing is boxed or captured per
// event, so scheduling and firing allocate nothing once the slices have grown
// to the working-set size. Keep P a small struct of plain values (for example
// a kind, a target index and an argument) rather than a closure.
//
// The package does no I/O and never reads the wall clock. It is not safe for
// concurrent use; a simulation runs on one goroutine.
package engine
