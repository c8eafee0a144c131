package calibrate

import (
	"context"
	"path/filepath"
	"testing"
)

// recordedRun is the run cmd/fleettwin's tests fit and check: a real
// calibration of two random-weight models on the CI CPU, with together
// experiments for the interference fit to replay.
var recordedRun = filepath.Join("..", "cmd", "fleettwin", "testdata", "calibrate-run")

// BenchmarkFitReplays measures a fit of the recorded run, whose cost is
// the interference search's ~22 replays of the together experiments.
func BenchmarkFitReplays(b *testing.B) {
	cat := ciCatalog(b)
	r, err := LoadRun(recordedRun, cat)
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.Fit(context.Background(), cat, FitOptions{Work: work}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompare measures one check of the recorded run: replays in
// memory, replays written to a folder (calibrate check), and replays
// answered by a ReplayCache (the dashboard after a file change).
func BenchmarkCompare(b *testing.B) {
	cat := ciCatalog(b)
	r, err := LoadRun(recordedRun, cat)
	if err != nil {
		b.Fatal(err)
	}
	p := priorAt(0.37)
	for _, bc := range []struct {
		name string
		opt  ReplayOptions
	}{
		{"memory", ReplayOptions{}},
		{"files", ReplayOptions{Dir: b.TempDir()}},
		{"cached", ReplayOptions{Cache: NewReplayCache()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Compare(context.Background(), cat, p, nil, bc.opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
