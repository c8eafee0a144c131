package jobs

import (
	"errors"
	"slices"
	"testing"
)

// The queue gives slots in order, renumbers the waiting on every change,
// and once closed refuses new jobs and starts no waiting one.
func TestSlots(t *testing.T) {
	pos := map[string]int{}
	q := slots[string]{max: 1, place: func(j string, p int) { pos[j] = p }}
	for i, j := range []string{"a", "b", "c", "d"} {
		start, err := q.enter(j)
		if err != nil || start != (i == 0) {
			t.Fatalf("enter %s: %v %v", j, start, err)
		}
	}
	if pos["a"] != 0 || pos["b"] != 1 || pos["d"] != 3 {
		t.Errorf("places: %v", pos)
	}
	if ok, moved := q.remove("b"); !ok || !slices.Equal(moved, []string{"c", "d"}) || pos["c"] != 1 || pos["d"] != 2 {
		t.Errorf("remove b: %v %v %v", ok, moved, pos)
	}
	if ok, _ := q.remove("a"); ok {
		t.Error("removed a running job")
	}
	next, ok, moved := q.leave()
	if !ok || next != "c" || pos["c"] != 0 || !slices.Equal(moved, []string{"d"}) || pos["d"] != 1 {
		t.Errorf("leave: %v %v %v %v", next, ok, moved, pos)
	}
	if waiting := q.close(); !slices.Equal(waiting, []string{"d"}) {
		t.Errorf("close: %v", waiting)
	}
	if _, ok, _ := q.leave(); ok {
		t.Error("a closed queue started a waiting job")
	}
	if _, err := q.enter("e"); !errors.Is(err, ErrStopping) {
		t.Errorf("enter after close: %v", err)
	}
}
