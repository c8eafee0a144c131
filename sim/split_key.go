package sim

import (
	"cmp"

	"github.com/fleettwin/fleettwin/engine"
)

// Order keys. A serial run handles events by time, then by the order they
// were scheduled in. An event is scheduled by the handler of another (its
// parent), or at the start; so of two events due at the same time the
// first is the one whose parent was handled first, or, for two children
// of parents handled at the same time, the one whose grandparent was, and
// so on back to the start, where the order is that of start (models in
// order, then their closed-loop users). Read as a sequence — the event's
// time, its parent's, its grandparent's, ... — the serial order is the
// lexicographic one, ending at the start's order (which comes before any
// time).
//
// Two events of different parts of a split run are ordered by the times
// of their ancestors, which each part knows: an evKey keeps the first
// keyDepth of them. Parts are independent, so their ancestors' times tie
// only by chance (both at the same nanosecond at every level) or by a
// symmetry (identical models with constant lengths); where every kept
// time ties and neither chain reaches the start, the order cannot be told
// and the merge falls back to the serial run (split_run.go).
const keyDepth = 6

// evKey is an event's ancestry: the times of its first n ancestors
// (par[0] its parent's), and, when the chain reaches the start within
// keyDepth (not trunc), the order at the start of its root.
type evKey struct {
	par   [keyDepth]engine.Time
	root  int64
	n     uint8
	trunc bool
}

// childKey is the key of an event scheduled by the handler at time now of
// an event with key k.
func childKey(k evKey, now engine.Time) evKey {
	c := evKey{root: k.root, n: min(k.n+1, keyDepth), trunc: k.trunc || k.n == keyDepth}
	c.par[0] = now
	copy(c.par[1:], k.par[:keyDepth-1])
	return c
}

// orderKeys compares two events of different parts due at the same time:
// -1 if a runs first in the serial run, +1 if b does; ok is false when the
// keys cannot tell.
func orderKeys(a, b evKey) (c int, ok bool) {
	for i := range min(a.n, b.n) {
		if a.par[i] != b.par[i] {
			return cmp.Compare(a.par[i], b.par[i]), true
		}
	}
	switch {
	case a.n != b.n:
		// The shorter chain is whole: its next ancestor is the start,
		// before any time the other's next ancestor has.
		if a.n < b.n {
			return -1, true
		}
		return 1, true
	case !a.trunc && !b.trunc:
		return cmp.Compare(a.root, b.root), a.root != b.root
	case a.trunc != b.trunc:
		if !a.trunc {
			return -1, true
		}
		return 1, true
	}
	return 0, false
}
