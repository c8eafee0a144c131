package sim

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/fleettwin/fleettwin/internal/jsonfmt"
	"github.com/fleettwin/fleettwin/scenario"
)

// tapesUsed counts the tapes recorded within their limit.
func tapesUsed(tp *Tapes) int {
	n := 0
	for _, es := range tp.entries {
		for _, e := range es {
			if e.ok {
				n++
			}
		}
	}
	return n
}

// TestTapesReplayExactly: a run that records its arrival streams and a run
// that replays them give the result and request records of a run that
// draws them, byte for byte: Poisson with a diurnal profile and gamma
// arrivals (fleet-h100), classes, a split run with a closed loop beside
// (split-mixed), sessions and a trace (not taped, unchanged).
func TestTapesReplayExactly(t *testing.T) {
	for _, tc := range []struct {
		path  string
		taped int // models whose stream a tape holds
	}{
		{"../scenarios/fleet-h100.toml", 2},
		{"../scenarios/seed-colocated.toml", 2},
		{"../bench/equiv/split-mixed.toml", 2},
		{"../bench/equiv/overload-sglang.toml", 1},
		{"../scenarios/seed-colocated-thinking.toml", 0},
		{"../scenarios/trace-mooncake.toml", 0},
	} {
		t.Run(tc.path, func(t *testing.T) {
			sc := load(t, tc.path)
			want, wantRecs := records(t, sc, Options{})
			tp := NewTapes(1 << 20)
			for pass := range 2 { // record, then replay
				got, gotRecs := records(t, sc, Options{Tapes: tp})
				if !bytes.Equal(got, want) {
					t.Fatalf("pass %d: the result differs from the drawn run's", pass)
				}
				if fmt.Sprint(gotRecs) != fmt.Sprint(wantRecs) {
					t.Fatalf("pass %d: the request records differ from the drawn run's", pass)
				}
			}
			if n := tapesUsed(tp); n != tc.taped {
				t.Fatalf("%d tapes recorded, want %d", n, tc.taped)
			}
		})
	}
}

// TestTapesKeyedByWorkload: a model of the same name and seed under
// another rate, or a shorter run, is not given the first one's tape; a
// stream over the limit is drawn, not taped.
func TestTapesKeyedByWorkload(t *testing.T) {
	base := load(t, "../scenarios/seed-colocated.toml")
	faster := load(t, "../scenarios/seed-colocated.toml")
	faster.Models[0].Workload.Arrival.Rate *= 1.5
	shorter := load(t, "../scenarios/seed-colocated.toml")
	shorter.Duration /= 2
	tp := NewTapes(1 << 20)
	records(t, base, Options{Tapes: tp})
	for name, sc := range map[string]*scenario.Scenario{"faster": faster, "shorter": shorter} {
		want, _ := records(t, sc, Options{})
		got, _ := records(t, sc, Options{Tapes: tp})
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: a run given another workload's tape differs from its drawn run", name)
		}
	}
	if n := tapesUsed(tp); n != 2+1+2 { // base's two, faster's first model, shorter's two
		t.Fatalf("%d tapes, want 5", n)
	}
	small := NewTapes(3)
	want, _ := records(t, base, Options{})
	got, _ := records(t, base, Options{Tapes: small})
	if !bytes.Equal(got, want) || tapesUsed(small) != 0 {
		t.Fatalf("a stream over the limit: result equal %v, %d tapes (want equal, 0)", bytes.Equal(got, want), tapesUsed(small))
	}
}

// TestTapesShared: runs at once share one Tapes (the planner's workers);
// every one gives the drawn run's result. Run under -race it checks the
// recording's locking.
func TestTapesShared(t *testing.T) {
	sc := load(t, "../bench/equiv/overload-vllm.toml")
	want, _ := records(t, sc, Options{})
	tp := NewTapes(1 << 20)
	got := make([][]byte, 4)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() {
			res, err := Run(context.Background(), sc, Options{Workers: 1, Tapes: tp})
			if err == nil {
				got[i], err = jsonfmt.Marshal(res)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, g := range got {
		if !bytes.Equal(g, want) {
			t.Fatalf("run %d of 4 sharing the tapes differs from the drawn run", i)
		}
	}
}
