package sim

// waitQueue orders waiting requests by class priority, then arrival order
// (FCFS within a priority; preempted requests keep their original place).
//
// It is a binary min-heap that moves ids the way container/heap's Push and
// Pop do, swap for swap, so ids keeps the same layout (results.go walks
// it); typed, it boxes no id in an interface (an allocation per push) and
// makes no call through one per comparison.
type waitQueue struct {
	ids  []int32
	reqs *[]request
	prio []int // priority of each class of the instance's model
}

func (q *waitQueue) less(i, j int) bool {
	reqs := *q.reqs
	a, b := &reqs[q.ids[i]], &reqs[q.ids[j]]
	if pa, pb := q.prio[a.class], q.prio[b.class]; pa != pb {
		return pa < pb
	}
	return a.seq < b.seq
}

// push adds id: container/heap.Push.
func (q *waitQueue) push(id int32) {
	q.ids = append(q.ids, id)
	j := len(q.ids) - 1
	for {
		i := (j - 1) / 2 // parent
		if i == j || !q.less(j, i) {
			break
		}
		q.ids[i], q.ids[j] = q.ids[j], q.ids[i]
		j = i
	}
}

// pop removes and returns the head, ids[0]: container/heap.Pop.
func (q *waitQueue) pop() int32 {
	n := len(q.ids) - 1
	q.ids[0], q.ids[n] = q.ids[n], q.ids[0]
	i := 0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 { // j1 < 0 after int overflow
			break
		}
		j := j1 // left child
		if j2 := j1 + 1; j2 < n && q.less(j2, j1) {
			j = j2 // right child
		}
		if !q.less(j, i) {
			break
		}
		q.ids[i], q.ids[j] = q.ids[j], q.ids[i]
		i = j
	}
	id := q.ids[n]
	q.ids = q.ids[:n]
	return id
}
