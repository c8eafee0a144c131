package jobs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleettwin/fleettwin/catalog"
	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenarios"
)

// topics records what was published, by topic.
type topics struct {
	mu sync.Mutex
	n  map[string]int
}

func (p *topics) Publish(topic string, _ []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == nil {
		p.n = map[string]int{}
	}
	p.n[topic]++
}

func config(t *testing.T, dir string) Config {
	t.Helper()
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	return Config{DataDir: dir, Catalog: catalog.Default(), Profiles: profiles, Publisher: &topics{}}
}

// A run simulates, publishes, keeps its files under the data dir (the
// result with its series) and loads back after a restart; one still
// queued when the runs close comes back interrupted.
func TestRunLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := config(t, dir)
	m, err := OpenRuns(context.Background(), cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := scenarios.FS.ReadFile("seed-colocated.toml")
	r, err := m.Start("seed-colocated.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.State()
	if st.Status != StatusDone || r.Outcome() == nil || r.Outcome().Cost == nil {
		t.Fatalf("finished run: %s %q", st.Status, st.Error)
	}
	csv, err := r.SeriesCSV()
	if err != nil || !strings.HasPrefix(string(csv), "node,t_s,utilization,mfu,") {
		t.Errorf("series: %v %.40q", err, csv)
	}
	for _, f := range []string{metaFile, scenarioFile, stateFile, resultFile, seriesFile} {
		if _, err := os.Stat(filepath.Join(dir, "runs", st.ID, f)); err != nil {
			t.Errorf("run folder: %v", err)
		}
	}
	if n := cfg.Publisher.(*topics).n[RunTopic(st.ID)]; n < 10 {
		t.Errorf("%d states published", n)
	}
	// Two paced runs: one runs, one waits; closing interrupts both.
	a, _ := m.Start("seed-colocated.toml", data, 1)
	b, _ := m.Start("seed-colocated.toml", data, 1)
	if b.State().Status != StatusQueued || b.State().QueuePos != 1 {
		t.Errorf("second run: %s at %d", b.State().Status, b.State().QueuePos)
	}
	m.Close()
	if a.State().Status != StatusInterrupted || b.State().Status != StatusInterrupted {
		t.Errorf("after Close: %s, %s", a.State().Status, b.State().Status)
	}
	if _, err := m.Start("seed-colocated.toml", data, 0); err == nil {
		t.Error("a closed Runs started a run")
	}

	again, err := OpenRuns(context.Background(), cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	back, ok := again.Get(st.ID)
	if !ok || back.State().Status != StatusDone || back.Outcome() == nil {
		t.Fatalf("reloaded run: %v", ok)
	}
	if got, err := back.SeriesCSV(); err != nil || string(got) != string(csv) {
		t.Errorf("reloaded series: %v", err)
	}
	if q, _ := again.Get(b.State().ID); q.State().Status != StatusInterrupted || !strings.Contains(q.State().Error, "before it started") {
		t.Errorf("reloaded queued run: %+v", q.State().Meta)
	}
}

// A shipped scenario that names a trace (traces/mooncake.jsonl) starts and
// finishes: the trace is read from the shipped folder, not refused for
// want of one.
func TestShippedTraceRuns(t *testing.T) {
	m, err := OpenRuns(context.Background(), config(t, t.TempDir()), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	data, err := scenarios.FS.ReadFile("trace-mooncake.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Start("trace-mooncake.toml", data, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st := r.State()
	if st.Status != StatusDone || r.Outcome() == nil || len(r.Outcome().Models) == 0 || r.Outcome().Models[0].Completed == 0 {
		t.Fatalf("trace run: %s %q", st.Status, st.Error)
	}
}
