package jobs

import (
	"path/filepath"

	"github.com/fleettwin/fleettwin/calibrate"
	"github.com/fleettwin/fleettwin/perf"
)

// replayCache is one watched run's cache of replays.
//
// TODO(lead): once calibrate's ReplayCache and CompareWith are committed,
// this file becomes: newReplayCache returns calibrate.NewReplayCache(),
// and replay calls run.CompareWith(w.c.ctx, w.c.cfg.Catalog, prof, nil,
// calibrate.ReplayOptions{Cache: w.cache}) (no Dir: the dashboard writes
// no replay files), and the cache field's type is *calibrate.ReplayCache.
type replayCache struct{}

func newReplayCache() *replayCache { return &replayCache{} }

// replay compares what the run recorded with the twin on prof; until
// calibrate can replay in memory it writes the replays under
// <data>/calibration/<id>.
func (w *calWatcher) replay(run *calibrate.Run, prof perf.Profile) ([]calibrate.Comparison, error) {
	work := filepath.Join(w.c.cfg.DataDir, "calibration", w.id)
	return run.Compare(w.c.ctx, w.c.cfg.Catalog, prof, nil, work)
}
