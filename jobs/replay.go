package jobs

import (
	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/perf"
)

// newReplayCache is one watched run's cache of replays: a file change
// replays only the experiments whose records (or the profile) changed,
// not every finished one again.
func newReplayCache() *calibrate.ReplayCache { return calibrate.NewReplayCache() }

// replay compares what the run recorded with the twin on prof, in
// memory: the dashboard writes no replay files.
func (w *calWatcher) replay(run *calibrate.Run, prof perf.Profile) ([]calibrate.Comparison, error) {
	return run.Compare(w.c.ctx, w.c.cfg.Catalog, prof, nil, calibrate.ReplayOptions{Cache: w.cache})
}
