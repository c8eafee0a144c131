package jobs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/scenarios"
)

// Setting a baseline on a large fleet's run republishes it: as a delta
// under the message limit, not its whole state (0.93 MB for the shipped
// 100-node run when finished).
func TestBaselineOnLargeFleetStaysSmall(t *testing.T) {
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
	data, _ := scenarios.FS.ReadFile("fleet-h100.toml")
	short := strings.Replace(strings.Replace(string(data), "duration_s = 3600", "duration_s = 240", 1), "warmup_s = 300", "warmup_s = 30", 1)
	big, err := m.Start("fleet-h100.toml", []byte(short), 0)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 3*time.Minute)
	defer wcancel()
	big.Wait(wctx)
	sep, _ := scenarios.FS.ReadFile("seed-separate.toml")
	base, err := m.Start("seed-separate.toml", sep, 0)
	if err != nil {
		t.Fatal(err)
	}
	base.Wait(wctx)
	if n := len(big.StateJSON()); n <= MessageLimit {
		t.Fatalf("the shortened fleet's state is %d bytes, not above the %d-byte limit: the test shows nothing", n, MessageLimit)
	}
	mu.Lock()
	before := len(got)
	mu.Unlock()
	if err := m.SetBaseline(big.State().ID, base.State().ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) == before {
		t.Fatal("SetBaseline published nothing")
	}
	for _, b := range got[before:] {
		if len(b) > MessageLimit {
			t.Errorf("SetBaseline published a %d-byte message, over the %d-byte limit", len(b), MessageLimit)
		}
	}
}
