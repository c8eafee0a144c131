package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQueueOrder(t *testing.T) {
	type ev struct {
		at Time
		p  int
	}
	tests := []struct {
		name string
		push []ev
		want []int // payloads in pop order
	}{
		{"empty", nil, nil},
		{"single", []ev{{5, 1}}, []int{1}},
		{"by time", []ev{{30, 1}, {10, 2}, {20, 3}}, []int{2, 3, 1}},
		{"ties by insertion", []ev{{10, 1}, {5, 2}, {10, 3}, {5, 4}, {10, 5}}, []int{2, 4, 1, 3, 5}},
		{"negative and never", []ev{{Never, 1}, {-3, 2}, {0, 3}}, []int{2, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q Queue[int]
			for _, e := range tt.push {
				q.Push(e.at, e.p)
			}
			var got []int
			for {
				_, p, ok := q.Pop()
				if !ok {
					break
				}
				got = append(got, p)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pop order = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestQueueManyTies checks insertion order among many equal-time events,
// interleaved with other times so that the ties sit all over the heap.
func TestQueueManyTies(t *testing.T) {
	var q Queue[int]
	r := rand.New(rand.NewPCG(1, 1))
	const n = 5000
	for i := range n {
		q.Push(Time(r.IntN(4)), i)
	}
	lastAt, lastP := Time(-1), -1
	for i := range n {
		at, p, ok := q.Pop()
		if !ok {
			t.Fatalf("pop %d: queue empty, want %d more", i, n-i)
		}
		if at < lastAt || (at == lastAt && p < lastP) {
			t.Fatalf("pop %d = (%v, %d) after (%v, %d): out of order", i, at, p, lastAt, lastP)
		}
		lastAt, lastP = at, p
	}
	if got := q.Len(); got != 0 {
		t.Errorf("Len after draining = %d, want 0", got)
	}
}

func TestQueueCancel(t *testing.T) {
	var q Queue[string]
	a := q.Push(10, "a")
	b := q.Push(20, "b")
	c := q.Push(30, "c")

	if got := q.Cancel(EventID{}); got {
		t.Errorf("Cancel(zero ID) = %v, want false", got)
	}
	if got := q.Cancel(b); !got {
		t.Errorf("Cancel(b) = %v, want true", got)
	}
	if got := q.Cancel(b); got {
		t.Errorf("second Cancel(b) = %v, want false", got)
	}
	if got, want := q.Len(), 2; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if at, p, _ := q.Pop(); at != 10 || p != "a" {
		t.Errorf("Pop = (%v, %q), want (10ns, \"a\")", at, p)
	}
	if got := q.Cancel(a); got {
		t.Errorf("Cancel(a) after pop = %v, want false", got)
	}
	// b's and a's slots are reused; their stale IDs must not cancel the
	// new occupants.
	d := q.Push(40, "d")
	e := q.Push(50, "e")
	if d.slot != b.slot && d.slot != a.slot {
		t.Fatalf("test assumption: new event did not reuse a freed slot")
	}
	if q.Cancel(a) || q.Cancel(b) {
		t.Errorf("stale ID cancelled a slot's new occupant")
	}
	if got, want := q.Len(), 3; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if at, ok := q.Peek(); !ok || at != 30 {
		t.Errorf("Peek = (%v, %v), want (30ns, true)", at, ok)
	}
	if !q.Cancel(c) || !q.Cancel(e) {
		t.Errorf("Cancel(c), Cancel(e) = false, want true")
	}
	if at, ok := q.Peek(); !ok || at != 40 {
		t.Errorf("Peek after cancelling c = (%v, %v), want (40ns, true)", at, ok)
	}
	if at, p, ok := q.Pop(); !ok || at != 40 || p != "d" {
		t.Errorf("Pop = (%v, %q, %v), want (40ns, \"d\", true)", at, p, ok)
	}
	if _, _, ok := q.Pop(); ok {
		t.Errorf("Pop on empty queue reported ok")
	}
	if _, ok := q.Peek(); ok {
		t.Errorf("Peek on empty queue reported ok")
	}
}

// TestQueueCompact cancels most events, then checks that only the
// survivors come out, in order, and that the cancelled entries really left
// the heap.
func TestQueueCompact(t *testing.T) {
	var q Queue[int]
	const n = 1000
	ids := make([]EventID, n)
	for i := range n {
		ids[i] = q.Push(Time((i*7919)%n), i) // a permutation of times
	}
	var want []int
	for i := range n {
		if i%10 == 3 {
			want = append(want, i)
			continue
		}
		if !q.Cancel(ids[i]) {
			t.Fatalf("Cancel(%d) = false, want true", i)
		}
	}
	if got := len(q.heap); got >= n/2 {
		t.Errorf("heap size after cancelling 90%% = %d, want < %d", got, n/2)
	}
	if got, want := q.Len(), len(want); got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	slices.SortFunc(want, func(a, b int) int { return (a*7919)%n - (b*7919)%n })
	var got []int
	for {
		_, p, ok := q.Pop()
		if !ok {
			break
		}
		got = append(got, p)
	}
	if !slices.Equal(got, want) {
		t.Errorf("survivors = %v, want %v", got, want)
	}
}

// Operations for the model-based tests.
type opKind uint8

const (
	opPush opKind = iota
	opPop
	opCancel
	opPeek
)

type op struct {
	kind   opKind
	at     Time // opPush
	target int  // opCancel: index into the IDs handed out so far
}

// refQueue is the obviously-correct model: a list of every event ever
// pushed; Pop stable-sorts the pending ones by time and takes the first.
type refQueue struct {
	evs     []refEvent
	pending int
}

type refEvent struct {
	at      Time
	p       int
	pending bool
}

func (r *refQueue) push(at Time) int {
	r.evs = append(r.evs, refEvent{at: at, p: len(r.evs), pending: true})
	r.pending++
	return len(r.evs) - 1
}

func (r *refQueue) sorted() []*refEvent {
	var ps []*refEvent
	for i := range r.evs {
		if r.evs[i].pending {
			ps = append(ps, &r.evs[i])
		}
	}
	slices.SortStableFunc(ps, func(a, b *refEvent) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	return ps
}

func (r *refQueue) pop() (Time, int, bool) {
	ps := r.sorted()
	if len(ps) == 0 {
		return 0, 0, false
	}
	ps[0].pending = false
	r.pending--
	return ps[0].at, ps[0].p, true
}

func (r *refQueue) cancel(i int) bool {
	ok := r.evs[i].pending
	if ok {
		r.evs[i].pending = false
		r.pending--
	}
	return ok
}

// checkOps applies ops to a Queue and to refQueue and fails at the first
// difference.
func checkOps(t *testing.T, ops []op) {
	t.Helper()
	var q Queue[int]
	var ref refQueue
	var ids []EventID
	for i, o := range ops {
		switch o.kind {
		case opPush:
			ids = append(ids, q.Push(o.at, ref.push(o.at)))
		case opPop:
			at, p, ok := q.Pop()
			wat, wp, wok := ref.pop()
			if at != wat || p != wp || ok != wok {
				t.Fatalf("op %d Pop = (%v, %d, %v), want (%v, %d, %v)", i, at, p, ok, wat, wp, wok)
			}
		case opCancel:
			if len(ids) == 0 {
				if q.Cancel(EventID{}) {
					t.Fatalf("op %d Cancel(zero) = true, want false", i)
				}
				continue
			}
			j := o.target % len(ids)
			if got, want := q.Cancel(ids[j]), ref.cancel(j); got != want {
				t.Fatalf("op %d Cancel(event %d) = %v, want %v", i, j, got, want)
			}
		case opPeek:
			at, ok := q.Peek()
			var wat Time
			ps := ref.sorted()
			if len(ps) > 0 {
				wat = ps[0].at
			}
			if at != wat || ok != (len(ps) > 0) {
				t.Fatalf("op %d Peek = (%v, %v), want (%v, %v)", i, at, ok, wat, len(ps) > 0)
			}
		}
		if got, want := q.Len(), ref.pending; got != want {
			t.Fatalf("after op %d Len = %d, want %d", i, got, want)
		}
	}
	// Drain and compare the remainder.
	for {
		at, p, ok := q.Pop()
		wat, wp, wok := ref.pop()
		if at != wat || p != wp || ok != wok {
			t.Fatalf("drain Pop = (%v, %d, %v), want (%v, %d, %v)", at, p, ok, wat, wp, wok)
		}
		if !ok {
			break
		}
	}
}

// TestQueueMatchesReference runs random schedule/pop/cancel sequences,
// from a fixed seed, against the reference. Phases alternate between
// growing and shrinking so the heap reaches a few hundred events and the
// cancel-heavy phases take entries out of every depth of it.
func TestQueueMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	for trial := range 200 {
		nOps := 1 + r.IntN(1500)
		timeRange := 1 + r.IntN(100) // small ranges force many ties
		ops := make([]op, nOps)
		for i := range ops {
			var w [4]int // weights for push, pop, cancel, peek
			if (i/300)%2 == 0 {
				w = [4]int{6, 1, 2, 1}
			} else {
				w = [4]int{1, 2, 6, 1}
			}
			x := r.IntN(w[0] + w[1] + w[2] + w[3])
			switch {
			case x < w[0]:
				ops[i] = op{kind: opPush, at: Time(r.IntN(timeRange))}
			case x < w[0]+w[1]:
				ops[i] = op{kind: opPop}
			case x < w[0]+w[1]+w[2]:
				ops[i] = op{kind: opCancel, target: r.IntN(1 << 30)}
			default:
				ops[i] = op{kind: opPeek}
			}
		}
		t.Run(fmt.Sprintf("trial=%d", trial), func(t *testing.T) {
			checkOps(t, ops)
		})
	}
}

// decodeOps reads fuzz input as operations: the low two bits of each byte
// pick the operation and the next byte, if any, gives its argument.
func decodeOps(data []byte) []op {
	var ops []op
	for i := 0; i < len(data); i++ {
		o := op{kind: opKind(data[i] & 3)}
		arg := int(data[i] >> 2)
		if o.kind == opPush || o.kind == opCancel {
			if i+1 < len(data) {
				i++
				arg = arg<<8 | int(data[i])
			}
		}
		switch o.kind {
		case opPush:
			o.at = Time(arg % 64)
		case opCancel:
			o.target = arg
		}
		ops = append(ops, o)
	}
	return ops
}

func FuzzQueue(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 5, 0, 5, 0, 3, 1, 1, 1})
	f.Add([]byte{0, 9, 0, 9, 2, 0, 2, 0, 3, 1, 1})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 2, 1, 2, 1, 1, 2, 2, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOps(t, decodeOps(data))
	})
}

func TestQueueAllocs(t *testing.T) {
	var q Queue[[2]int64]
	r := rand.New(rand.NewPCG(3, 3))
	for range 1000 {
		q.Push(Time(r.IntN(1e6)), [2]int64{})
	}
	tests := []struct {
		name string
		f    func()
	}{
		{"push+pop", func() {
			at, _, _ := q.Pop()
			q.Push(at+Time(r.IntN(1e6)), [2]int64{1, 2})
		}},
		{"push+cancel+pop", func() {
			at, _, _ := q.Pop()
			id := q.Push(at+Time(r.IntN(1e6)), [2]int64{1, 2})
			q.Push(at+Time(r.IntN(1e6)), [2]int64{3, 4})
			q.Cancel(id)
		}},
	}
	for _, tt := range tests {
		// Warm up so the slices reach their steady-state capacity.
		for range 10000 {
			tt.f()
		}
		if got := testing.AllocsPerRun(10000, tt.f); got != 0 {
			t.Errorf("%s: %v allocs per op, want 0", tt.name, got)
		}
	}
}

// TestRescheduleIsCancelPush drives two queues with the same random
// operations, one moving events with Reschedule and the other with Cancel
// then Push: every ID handed out and every pop (time, payload, slot) must
// be the same, with many ties in time.
func TestRescheduleIsCancelPush(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		var a, b Queue[int]
		var ids []EventID // the same in both queues
		for op := range 20000 {
			at := Time(r.IntN(50))
			switch k := r.IntN(10); {
			case k < 4 || len(ids) == 0:
				ia, ib := a.Push(at, op), b.Push(at, op)
				if ia != ib {
					t.Fatalf("seed %d op %d: Push %v and %v", seed, op, ia, ib)
				}
				ids = append(ids, ia)
			case k < 7:
				j := r.IntN(len(ids))
				ia := a.Reschedule(ids[j], at, op)
				b.Cancel(ids[j])
				ib := b.Push(at, op)
				if ia != ib {
					t.Fatalf("seed %d op %d: Reschedule %v, Cancel+Push %v", seed, op, ia, ib)
				}
				ids[j] = ia
			case k < 8:
				j := r.IntN(len(ids))
				if ca, cb := a.Cancel(ids[j]), b.Cancel(ids[j]); ca != cb {
					t.Fatalf("seed %d op %d: Cancel %v and %v", seed, op, ca, cb)
				}
			default:
				ta, pa, sa, oka := a.popUntil(Never)
				tb, pb, sb, okb := b.popUntil(Never)
				if ta != tb || pa != pb || sa != sb || oka != okb {
					t.Fatalf("seed %d op %d: pop (%v %d %d %v) and (%v %d %d %v)", seed, op, ta, pa, sa, oka, tb, pb, sb, okb)
				}
			}
		}
		for a.Len() > 0 || b.Len() > 0 {
			ta, pa, oka := a.Pop()
			tb, pb, okb := b.Pop()
			if ta != tb || pa != pb || oka != okb {
				t.Fatalf("seed %d: drain (%v %d) and (%v %d)", seed, ta, pa, tb, pb)
			}
		}
	}
}
