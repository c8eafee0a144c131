package engine

// EventID identifies one scheduled event so that it can be cancelled. It is
// a small comparable value; the zero EventID refers to no event. An EventID
// stays unambiguous forever: the sequence number it carries is never reused,
// so a stale ID cannot cancel a later event that happens to reuse its slot.
type EventID struct {
	slot uint32
	seq  uint64
}

// entry is one heap element. Entries are plain values (no payload, no
// pointers) so that sifting moves 24 bytes and the GC never scans the heap.
type entry struct {
	at   Time
	seq  uint64 // scheduling order; breaks ties between equal times
	slot uint32 // index of the payload in Queue.slab
}

// less orders entries by time, then by scheduling order.
func less(a, b *entry) bool {
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

// cell holds the payload of one pending event. seq is the sequence number of
// the live event occupying the cell, or 0 when the cell is free or its event
// was cancelled; a heap entry whose seq differs from its cell's is dead.
type cell[P any] struct {
	seq uint64
	p   P
}

// Queue is a priority queue of events ordered by time and then by scheduling
// order. The zero value is an empty queue ready to use.
//
// It is a 4-ary min-heap of value entries: four children share a cache line
// or two, which makes it shallower and faster than a binary heap. Payloads
// live in a slab recycled through a free list, so Push and Pop do not
// allocate in steady state. Cancel is lazy: it marks the event dead in O(1)
// and the heap entry is discarded when it reaches the top (or when dead
// entries outnumber live ones and the heap is compacted). Len still counts
// exactly the live events.
type Queue[P any] struct {
	heap []entry
	slab []cell[P]
	free []uint32 // free slab indexes, used as a stack
	seq  uint64   // last sequence number handed out
	live int      // events pushed and neither popped nor cancelled
	dead int      // cancelled entries still in heap
}

// Len returns the number of pending (scheduled, not yet popped, not
// cancelled) events.
func (q *Queue[P]) Len() int { return q.live }

// Push adds payload p due at time at and returns its ID.
func (q *Queue[P]) Push(at Time, p P) EventID {
	var slot uint32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		slot = uint32(len(q.slab))
		if int(slot) != len(q.slab) {
			panic("engine: more than 2^32 pending events")
		}
		q.slab = append(q.slab, cell[P]{})
	}
	q.seq++
	c := &q.slab[slot]
	c.seq = q.seq
	c.p = p
	q.live++
	q.heap = append(q.heap, entry{at: at, seq: q.seq, slot: slot})
	siftUp(q.heap, len(q.heap)-1)
	return EventID{slot: slot, seq: q.seq}
}

// Cancel removes the event id from the queue. It reports whether the event
// was pending; cancelling an event that already fired, was already
// cancelled, or the zero EventID, is a no-op that returns false.
func (q *Queue[P]) Cancel(id EventID) bool {
	if id.seq == 0 || int(id.slot) >= len(q.slab) {
		return false
	}
	c := &q.slab[id.slot]
	if c.seq != id.seq {
		return false
	}
	c.seq = 0
	var zero P
	c.p = zero // drop references early; the slot is freed when its entry leaves the heap
	q.live--
	q.dead++
	// Compacting when dead entries are the majority bounds memory at about
	// twice the live size and keeps the heap shallow; the O(n) rebuild is
	// paid for by the n/2 cancels that preceded it.
	if q.dead > 64 && q.dead > q.live {
		q.compact()
	}
	return true
}

// Peek returns the time of the earliest pending event, or false if the queue
// is empty.
func (q *Queue[P]) Peek() (Time, bool) {
	q.dropDead()
	if len(q.heap) == 0 {
		return 0, false
	}
	return q.heap[0].at, true
}

// Pop removes and returns the earliest pending event, or false if the queue
// is empty.
func (q *Queue[P]) Pop() (at Time, p P, ok bool) {
	at, p, _, ok = q.popUntil(Never)
	return at, p, ok
}

// Slot is the event's place in its queue's payload slab. A slot is reused
// only once its event has fired, or been cancelled and dropped, so a
// table indexed by slot can hold data of each pending event beside the
// payload, for a caller that needs it only sometimes (sim's split runs)
// and would rather not widen every payload.
func (id EventID) Slot() uint32 { return id.slot }

// popUntil pops the earliest pending event if it is due at or before
// limit, with its slot.
func (q *Queue[P]) popUntil(limit Time) (at Time, p P, slot uint32, ok bool) {
	for len(q.heap) > 0 {
		top := q.heap[0]
		c := &q.slab[top.slot]
		if c.seq != top.seq { // cancelled
			q.removeTop()
			q.free = append(q.free, top.slot)
			q.dead--
			continue
		}
		if top.at > limit {
			break
		}
		q.removeTop()
		p = c.p
		var zero P
		c.p = zero
		c.seq = 0
		q.free = append(q.free, top.slot)
		q.live--
		return top.at, p, top.slot, true
	}
	return 0, p, 0, false
}

// dropDead discards cancelled entries from the top of the heap so that
// heap[0], if any, is live.
func (q *Queue[P]) dropDead() {
	for len(q.heap) > 0 {
		top := q.heap[0]
		if q.slab[top.slot].seq == top.seq {
			return
		}
		q.removeTop()
		q.free = append(q.free, top.slot)
		q.dead--
	}
}

// removeTop deletes heap[0].
func (q *Queue[P]) removeTop() {
	h := q.heap
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	q.heap = h
	if n > 0 {
		siftDown(h, 0, last)
	}
}

// compact drops every cancelled entry and rebuilds the heap in O(n).
func (q *Queue[P]) compact() {
	h := q.heap
	j := 0
	for _, e := range h {
		if q.slab[e.slot].seq == e.seq {
			h[j] = e
			j++
		} else {
			q.free = append(q.free, e.slot)
		}
	}
	h = h[:j]
	q.heap = h
	q.dead = 0
	if j > 1 {
		for i := (j - 2) / 4; i >= 0; i-- {
			siftDown(h, i, h[i])
		}
	}
}

// siftUp moves h[i] towards the root until its parent is not greater.
func siftUp(h []entry, i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !less(&x, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = x
}

// siftDown places x into the subtree rooted at the hole i, moving smaller
// children up. Moving a hole instead of swapping halves the writes.
func siftDown(h []entry, i int, x entry) {
	n := len(h)
	for {
		c := 4*i + 1
		if c+3 < n {
			// Common case: four children. Reslicing to a fixed length
			// lets the compiler drop the bounds checks below.
			k := h[c : c+4 : c+4]
			m := 0
			if less(&k[1], &k[m]) {
				m = 1
			}
			if less(&k[2], &k[m]) {
				m = 2
			}
			if less(&k[3], &k[m]) {
				m = 3
			}
			if !less(&k[m], &x) {
				break
			}
			h[i] = k[m]
			i = c + m
			continue
		}
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < n; j++ {
			if less(&h[j], &h[m]) {
				m = j
			}
		}
		if !less(&h[m], &x) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = x
}
