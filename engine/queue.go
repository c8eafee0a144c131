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
// the live event occupying the cell, or 0 when the cell is free.
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
// allocate in steady state. Each slot's entry's place in the heap is kept
// (pos), so Cancel takes the entry out at once, in O(log n): the heap holds
// only live events and no pop sifts past a dead one. (Lazy cancelling, which
// left dead entries for the pops to discard, kept a simulator's heap two
// thirds larger than its live events and cost more than the places do.)
type Queue[P any] struct {
	heap []entry
	slab []cell[P]
	pos  []int32  // pos[slot]: the index in heap of the slot's pending entry
	free []uint32 // free slab indexes, used as a stack
	seq  uint64   // last sequence number handed out
}

// Len returns the number of pending (scheduled, not yet popped, not
// cancelled) events.
func (q *Queue[P]) Len() int { return len(q.heap) }

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
		q.pos = append(q.pos, 0)
	}
	q.seq++
	c := &q.slab[slot]
	c.seq = q.seq
	c.p = p
	q.heap = append(q.heap, entry{at: at, seq: q.seq, slot: slot})
	siftUp(q.heap, q.pos, len(q.heap)-1)
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
	c.p = zero
	q.free = append(q.free, id.slot)
	// The last entry fills the hole and moves up or down from there.
	h := q.heap
	i, n := int(q.pos[id.slot]), len(h)-1
	last := h[n]
	h = h[:n]
	q.heap = h
	if i < n {
		h[i] = last
		if i > 0 && less(&last, &h[(i-1)/4]) {
			siftUp(h, q.pos, i)
		} else {
			siftDown(h, q.pos, i, last)
		}
	}
	return true
}

// Reschedule moves the pending event id to time at with payload p and
// returns its new ID, exactly as Cancel(id) followed by Push(at, p) would:
// the event takes a fresh sequence number (it fires after every event
// already due at at) and keeps its slot, which Cancel would free and Push
// take back. The entry moves up or down from where it is instead of
// leaving the heap and entering it again: one sift instead of two. If id is
// not pending, Reschedule is Push.
func (q *Queue[P]) Reschedule(id EventID, at Time, p P) EventID {
	if id.seq == 0 || int(id.slot) >= len(q.slab) || q.slab[id.slot].seq != id.seq {
		return q.Push(at, p)
	}
	q.seq++
	c := &q.slab[id.slot]
	c.seq, c.p = q.seq, p
	i := int(q.pos[id.slot])
	e := entry{at: at, seq: q.seq, slot: id.slot}
	if old := q.heap[i]; less(&old, &e) {
		siftDown(q.heap, q.pos, i, e)
	} else {
		q.heap[i] = e
		siftUp(q.heap, q.pos, i)
	}
	return EventID{slot: id.slot, seq: q.seq}
}

// Peek returns the time of the earliest pending event, or false if the queue
// is empty.
func (q *Queue[P]) Peek() (Time, bool) {
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
// only once its event has fired or been cancelled, so a
// table indexed by slot can hold data of each pending event beside the
// payload, for a caller that needs it only sometimes (sim's split runs)
// and would rather not widen every payload.
func (id EventID) Slot() uint32 { return id.slot }

// popUntil pops the earliest pending event if it is due at or before
// limit, with its slot.
func (q *Queue[P]) popUntil(limit Time) (at Time, p P, slot uint32, ok bool) {
	if len(q.heap) == 0 || q.heap[0].at > limit {
		return 0, p, 0, false
	}
	top := q.heap[0]
	q.removeTop()
	c := &q.slab[top.slot]
	p = c.p
	var zero P
	c.p = zero
	c.seq = 0
	q.free = append(q.free, top.slot)
	return top.at, p, top.slot, true
}

// removeTop deletes heap[0].
func (q *Queue[P]) removeTop() {
	h := q.heap
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	q.heap = h
	if n > 0 {
		siftDown(h, q.pos, 0, last)
	}
}

// siftUp moves h[i] towards the root until its parent is not greater,
// keeping pos up to date for every entry it moves.
func siftUp(h []entry, pos []int32, i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if !less(&x, &h[p]) {
			break
		}
		h[i] = h[p]
		pos[h[i].slot] = int32(i)
		i = p
	}
	h[i] = x
	pos[x.slot] = int32(i)
}

// siftDown places x into the subtree rooted at the hole i, moving smaller
// children up. Moving a hole instead of swapping halves the writes. It
// keeps pos up to date for every entry it moves.
func siftDown(h []entry, pos []int32, i int, x entry) {
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
			pos[k[m].slot] = int32(i)
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
		pos[h[m].slot] = int32(i)
		i = m
	}
	h[i] = x
	pos[x.slot] = int32(i)
}
