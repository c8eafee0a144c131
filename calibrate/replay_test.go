package calibrate

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fleettwin/fleettwin/perf"
	"github.com/fleettwin/fleettwin/scenario"
	"github.com/fleettwin/fleettwin/sim"
)

var update = flag.Bool("update", false, "rewrite testdata/recorded-run-compare.json")

// goldenCompare is the recorded run's comparisons with its fitted profile
// and with the cpu-host/ollama prior at interference 0.37, as the replay
// gave them when it wrote its scenarios and traces to disk and parsed
// them back: the in-memory replay must give the same floats.
const goldenCompare = "testdata/recorded-run-compare.json"

type golden struct {
	FittedInterference float64      `json:"fitted_interference"`
	Fitted             []Comparison `json:"fitted"`
	Prior              []Comparison `json:"prior_interference_0.37"`
}

func loadRecorded(t testing.TB) *Run {
	t.Helper()
	r, err := LoadRun(recordedRun, ciCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func priorAt(interference float64) perf.Profile {
	p := perf.Prior("cpu-host", "ollama")
	p.Interference = interference
	return p
}

func TestCompareMatchesGolden(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	ctx := context.Background()
	p, _, err := r.Fit(ctx, cat, FitOptions{Work: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var got golden
	got.FittedInterference = p.Interference
	if got.Fitted, err = r.Compare(ctx, cat, p, nil, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if got.Prior, err = r.Compare(ctx, cat, priorAt(0.37), nil, ReplayOptions{}); err != nil {
		t.Fatal(err)
	}
	if *update {
		data, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenCompare, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(goldenCompare)
	if err != nil {
		t.Fatal(err)
	}
	var want golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("comparisons differ from %s (rerun with -update only for an intended change of the twin)", goldenCompare)
	}
}

// TestCompareMatchesWrittenFiles replays the recorded run in memory
// and from the files Compare wrote, parsed as `fleettwin simulate`
// would parse them: the same scenarios, the same comparisons.
func TestCompareMatchesWrittenFiles(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	ctx := context.Background()
	p := priorAt(0.37)
	dir := t.TempDir()
	mem, err := r.Compare(ctx, cat, p, nil, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	written, err := r.Compare(ctx, cat, p, nil, ReplayOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(mem, written) {
		t.Error("writing the replay files changed the comparisons")
	}
	profiles, err := perf.DefaultProfiles()
	if err != nil {
		t.Fatal(err)
	}
	profiles.Add(p)
	traces := 0
	fromFiles, err := r.compare(nil, func(e Experiment) (map[string]*Measured, error) {
		in, err := r.replayInput(e, p.Interference)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, fileName(e.ID)+".toml")
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		f, _, err := scenario.Decode(path, data)
		if err != nil {
			return nil, err
		}
		if !reflect.DeepEqual(f, in.file) {
			t.Errorf("%s: the written scenario decodes to\n%+v\nnot the one replayed in memory\n%+v", e.ID, f, in.file)
		}
		for name, tf := range in.traces {
			disk, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(disk) != string(tf.Data) {
				t.Errorf("%s: trace %s on disk differs from the one in memory (%v)", e.ID, name, err)
			}
			traces++
		}
		sc, err := scenario.Load(path, cat, profiles)
		if err != nil {
			return nil, err
		}
		return summarizeReplay(ctx, sc)
	})
	if err != nil {
		t.Fatal(err)
	}
	if traces == 0 {
		t.Error("no rate experiment replayed a trace")
	}
	if !reflect.DeepEqual(mem, fromFiles) {
		t.Error("the in-memory replay and the replay of the written files differ")
	}
}

// countSimulations counts the replays simulated until the test ends.
func countSimulations(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	orig := simulate
	simulate = func(ctx context.Context, sc *scenario.Scenario, opt sim.Options) (*sim.Result, error) {
		n.Add(1)
		return orig(ctx, sc, opt)
	}
	t.Cleanup(func() { simulate = orig })
	return &n
}

func TestReplayCache(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	ctx := context.Background()
	sims := countSimulations(t)
	cache := NewReplayCache()
	opt := ReplayOptions{Cache: cache}
	compare := func(r *Run, p perf.Profile) ([]Comparison, int64) {
		t.Helper()
		before := sims.Load()
		cs, err := r.Compare(ctx, cat, p, nil, opt)
		if err != nil {
			t.Fatal(err)
		}
		return cs, sims.Load() - before
	}
	p := priorAt(0.37)
	first, n := compare(r, p)
	if n == 0 {
		t.Fatal("nothing simulated")
	}
	experiments := n
	if again, n := compare(r, p); n != 0 || !reflect.DeepEqual(again, first) {
		t.Errorf("unchanged: %d simulations, same comparisons %v", n, reflect.DeepEqual(again, first))
	}
	uncached, err := r.Compare(ctx, cat, p, nil, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(uncached, first) {
		t.Error("the cache changed the comparisons")
	}

	q := p
	q.Interference = 0.38
	if _, n := compare(r, q); n != experiments {
		t.Errorf("interference changed: %d of %d experiments simulated", n, experiments)
	}
	q = p
	q.Coefficients.DecodeComputeEff *= 1.01
	if _, n := compare(r, q); n != experiments {
		t.Errorf("a coefficient changed: %d of %d experiments simulated", n, experiments)
	}
	if _, n := compare(r, p); n != experiments {
		t.Errorf("back to the first profile: %d of %d simulated (one entry per experiment)", n, experiments)
	}

	// A run reloaded with one measured arrival moved: only its experiment
	// is replayed again.
	moved := loadRecorded(t)
	var rate *Measured
	for _, e := range moved.Experiments {
		if e.Kind == Rate && moved.Measured[e.ID] != nil {
			rate = moved.Measured[e.ID][e.Models[0]]
			break
		}
	}
	if rate == nil || len(rate.Arrivals) < 2 {
		t.Fatal("no rate experiment with arrivals")
	}
	rate.Arrivals[1] += 1e-3
	if _, n := compare(moved, p); n != 1 {
		t.Errorf("one arrival moved: %d experiments simulated, want 1", n)
	}

	other := ciCatalog(t)
	hw := other.Hardware["cpu-host"]
	hw.MemoryBandwidthGBs *= 1.01
	other.Hardware["cpu-host"] = hw
	before := sims.Load()
	if _, err := r.Compare(ctx, other, p, nil, opt); err != nil || sims.Load()-before != experiments {
		t.Errorf("catalog changed: %d of %d experiments simulated (%v)", sims.Load()-before, experiments, err)
	}
}

func TestReplayCacheConcurrent(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	cache := NewReplayCache()
	want, err := r.Compare(context.Background(), cat, priorAt(0.2), nil, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			got, err := r.Compare(context.Background(), cat, priorAt(0.2), nil, ReplayOptions{Cache: cache})
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("concurrent compare: %v, same %v", err, reflect.DeepEqual(got, want))
			}
		})
	}
	wg.Wait()
}

// TestFitWritesOneReplay: the interference search replays in memory, and
// writes the scenarios of its last replay only, under Work.
func TestFitWritesOneReplay(t *testing.T) {
	cat := ciCatalog(t)
	r := loadRecorded(t)
	work := t.TempDir()
	if _, _, err := r.Fit(context.Background(), cat, FitOptions{Work: work}); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(work)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range r.Experiments {
		if e.Kind == Together && !e.HeldOut && r.Measured[e.ID] != nil {
			want = append(want, fileName(e.ID)+".toml")
		}
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if len(want) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("fit wrote %v, want %v", got, want)
	}
}
