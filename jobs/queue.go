package jobs

import "sync"

// slots lets at most max jobs of one kind run at once; the others wait
// in order for a slot. Runs and plans share it: what differs between
// them (how a job shows its place, how it starts) is in the callbacks.
type slots[J comparable] struct {
	mu      sync.Mutex
	max     int
	running int
	waiting []J
	closed  bool
	// place is told a job's place in the queue, from 1, or 0 when it
	// takes a slot; it is called under the queue's lock, so places are
	// never set out of order.
	place func(j J, pos int)
}

// enter takes a slot for j (true) or queues it (false); it refuses once
// the queue is closed.
func (q *slots[J]) enter(j J) (start bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false, ErrStopping
	}
	if q.running < q.max {
		q.running++
		q.place(j, 0)
		return true, nil
	}
	q.waiting = append(q.waiting, j)
	q.place(j, len(q.waiting))
	return false, nil
}

// leave frees a slot and gives it to the first waiting job, if any and
// the queue is open; moved are the jobs still waiting, renumbered.
func (q *slots[J]) leave() (next J, ok bool, moved []J) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	if len(q.waiting) > 0 && !q.closed {
		next, ok, q.waiting = q.waiting[0], true, q.waiting[1:]
		q.running++
		q.place(next, 0)
	}
	return next, ok, q.renumber()
}

// remove takes a waiting job out of the queue; false if it was not
// waiting (it runs, or has ended).
func (q *slots[J]) remove(j J) (ok bool, moved []J) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.waiting {
		if w == j {
			q.waiting = append(q.waiting[:i:i], q.waiting[i+1:]...)
			return true, q.renumber()
		}
	}
	return false, nil
}

// close refuses new jobs and starts no more waiting ones; it returns
// those waiting, for the caller to end.
func (q *slots[J]) close() []J {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	return append([]J(nil), q.waiting...)
}

func (q *slots[J]) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// renumber tells each waiting job its place (q.mu held).
func (q *slots[J]) renumber() []J {
	for i, j := range q.waiting {
		q.place(j, i+1)
	}
	return append([]J(nil), q.waiting...)
}
