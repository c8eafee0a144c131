package twin

import (
	"context"
	"time"

	"github.com/fleettwin/fleettwin/engine"
)

// wallPacer holds a run to speed × real time from start: sim's Pacer for
// live displays (`simulate --pace`, the dashboard). It is here, not in
// sim, because it reads the wall clock and sim reads none.
type wallPacer struct {
	start time.Time
	speed float64 // simulated seconds per real second
}

// Wait returns once real time has caught up with simulated time now.
func (p *wallPacer) Wait(ctx context.Context, now engine.Time) error {
	due := p.start.Add(time.Duration(now.Seconds() / p.speed * float64(time.Second)))
	t := time.NewTimer(time.Until(due))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
