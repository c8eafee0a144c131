package sim

import (
	"context"
	"time"

	"github.com/fleettwin/fleettwin/engine"
)

// WallPacer holds a run to Speed × real time from Start: the pacer for
// live displays (`simulate --pace`, the dashboard).
type WallPacer struct {
	Start time.Time
	Speed float64 // simulated seconds per real second
}

// Wait returns once real time has caught up with simulated time now.
func (p *WallPacer) Wait(ctx context.Context, now engine.Time) error {
	due := p.Start.Add(time.Duration(now.Seconds() / p.Speed * float64(time.Second)))
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
