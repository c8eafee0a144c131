package jobs

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/scenarios"
	"github.com/fleettwin/fleettwin/sim"
)

func TestWindowsP95(t *testing.T) {
	w := newWindows([]string{"a", "b"})
	for i := 1; i <= 20; i++ {
		w.add(sim.RequestRecord{Model: "a", TTFTS: float64(i), TPOTS: math.NaN(), E2ES: 10 * float64(i)})
	}
	w.add(sim.RequestRecord{Model: "b", Rejected: true, TTFTS: math.NaN()})
	w.add(sim.RequestRecord{Model: "nobody", TTFTS: 1})
	got := w.take()
	if got[0].TTFT != 19 || got[0].E2E != 190 || !math.IsNaN(got[0].TPOT) || !math.IsNaN(got[1].TTFT) {
		t.Errorf("p95s %+v, want a: TTFT 19 (nearest rank of 1..20), E2E 190, TPOT NaN; b: NaN", got)
	}
	if again := w.take(); !math.IsNaN(again[0].TTFT) {
		t.Errorf("a second take still has %v: the window did not start anew", again[0].TTFT)
	}
}

// A run's live state carries each model's p95 per interval beside the
// cumulative one, point for point; the interval's shows bursts the
// cumulative one, flattening as the run goes, hides.
func TestRunStateWindows(t *testing.T) {
	cfg := config(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := OpenRuns(ctx, cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data, _ := scenarios.FS.ReadFile("seed-colocated.toml")
	r, err := m.Start("seed-colocated.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if err := r.Wait(wctx); err != nil {
		t.Fatal(err)
	}
	st := r.State()
	for _, ms := range st.Models {
		if len(ms.TTFTWindow) != len(st.T) || len(ms.TPOTWindow) != len(st.T) || len(ms.E2EWindow) != len(st.T) {
			t.Fatalf("%s: %d/%d/%d interval points for %d times", ms.Model, len(ms.TTFTWindow), len(ms.TPOTWindow), len(ms.E2EWindow), len(st.T))
		}
		peak := slices.MaxFunc(ms.TTFTWindow, func(a, b float64) int {
			switch {
			case math.IsNaN(a) || a < b:
				return -1
			case math.IsNaN(b) || a > b:
				return 1
			}
			return 0
		})
		if final := ms.TTFTP95[len(ms.TTFTP95)-1]; !(peak > 1.2*final) {
			t.Errorf("%s: the worst interval's TTFT p95 %.2f s is not above the cumulative %.2f s", ms.Model, peak, final)
		}
	}
}

// Every message on a run's stream is compact JSON: a 100-node run's
// complete state is half its indented size.
func TestStreamCompact(t *testing.T) {
	cfg := config(t, t.TempDir())
	var mu sync.Mutex
	var got [][]byte
	cfg.Publisher = publishFunc(func(_ string, b []byte) { mu.Lock(); got = append(got, b); mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := OpenRuns(ctx, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data, _ := scenarios.FS.ReadFile("seed-separate.toml")
	r, err := m.Start("seed-separate.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	r.Wait(wctx)
	m.Close()
	mu.Lock()
	defer mu.Unlock()
	for _, b := range append(got, r.StateJSON()) {
		if strings.Contains(string(b), "\n") {
			t.Fatalf("an indented message on the stream: %.80s", b)
		}
	}
	if len(got) < 10 {
		t.Errorf("%d messages published", len(got))
	}
}

type publishFunc func(string, []byte)

func (f publishFunc) Publish(topic string, b []byte) { f(topic, b) }
