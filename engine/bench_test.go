package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// holdEvent is a payload of the shape a simulator is expected to use.
type holdEvent struct {
	Kind   int32
	Target int32
	Data   int64
}

// holdHandler implements the classic "hold" benchmark: every fired event
// schedules one more after an exponentially distributed delay, so the
// number pending stays constant. Delays are drawn up front so that the
// benchmark measures the kernel rather than the random number generator.
type holdHandler struct {
	r      *rand.Rand
	delays []Time
	i      int
}

func (h *holdHandler) next() Time {
	if h.delays == nil {
		h.delays = make([]Time, 1<<16)
		for i := range h.delays {
			h.delays[i] = 1 + FromSeconds(Exponential(h.r, 1e-3))
		}
	}
	d := h.delays[h.i&(len(h.delays)-1)]
	h.i++
	return d
}

func (h *holdHandler) Handle(s *Sim[holdEvent], e holdEvent) {
	e.Data++
	s.After(h.next(), e)
}

func newHold(pending int) *Sim[holdEvent] {
	h := &holdHandler{r: rand.New(rand.NewPCG(1, 2))}
	s := New[holdEvent](h)
	for i := range pending {
		s.Schedule(h.next(), holdEvent{Target: int32(i)})
	}
	// Run the hold model for a while so event times reach their
	// steady-state spread before timing starts.
	for range 2 * pending {
		s.Step()
	}
	return s
}

func BenchmarkHold(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			s := newHold(n)
			b.ReportAllocs()
			for b.Loop() {
				s.Step()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkHoldRunUntil drives the same model through RunUntil, the way a
// simulator runs; each iteration fires the events of one simulated second
// (about pending*1000 of them), so events/s is the figure to compare.
func BenchmarkHoldRunUntil(b *testing.B) {
	s := newHold(1000)
	b.ReportAllocs()
	fired := 0
	for b.Loop() {
		before := s.h.(*holdHandler).i
		s.RunUntil(s.Now() + Second/10)
		fired += s.h.(*holdHandler).i - before
	}
	b.ReportMetric(float64(fired)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkCancel measures a timeout pattern: schedule an event, cancel
// it, and fire one of the 1000 pending events.
func BenchmarkCancel(b *testing.B) {
	s := newHold(1000)
	b.ReportAllocs()
	for b.Loop() {
		id := s.After(Millisecond, holdEvent{})
		s.Cancel(id)
		s.Step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkQueueHold is BenchmarkHold on a bare Queue, to separate the
// heap's cost from the Sim's dispatch.
func BenchmarkQueueHold(b *testing.B) {
	for _, n := range []int{1000, 1000000} {
		b.Run(fmt.Sprintf("pending=%d", n), func(b *testing.B) {
			h := &holdHandler{r: rand.New(rand.NewPCG(1, 2))}
			var q Queue[holdEvent]
			for range n {
				q.Push(h.next(), holdEvent{})
			}
			for range 2 * n {
				at, e, _ := q.Pop()
				q.Push(at+h.next(), e)
			}
			b.ReportAllocs()
			for b.Loop() {
				at, e, _ := q.Pop()
				q.Push(at+h.next(), e)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkMove moves one of n pending events to a new time, as a
// simulator reschedules a segment's end when its device is reshared:
// Reschedule against Cancel then Push.
func BenchmarkMove(b *testing.B) {
	for _, n := range []int{256, 65536} {
		for _, how := range []string{"reschedule", "cancel+push"} {
			b.Run(fmt.Sprintf("pending=%d/%s", n, how), func(b *testing.B) {
				r := rand.New(rand.NewPCG(3, 4))
				var q Queue[int]
				ids := make([]EventID, n)
				for i := range ids {
					ids[i] = q.Push(Time(r.Int64N(1e9)), i)
				}
				times := make([]Time, 1<<12)
				for i := range times {
					times[i] = Time(r.Int64N(1e9))
				}
				i := 0
				for b.Loop() {
					k, at := i%n, times[i&(len(times)-1)]
					if how == "reschedule" {
						ids[k] = q.Reschedule(ids[k], at, k)
					} else {
						q.Cancel(ids[k])
						ids[k] = q.Push(at, k)
					}
					i++
				}
			})
		}
	}
}
