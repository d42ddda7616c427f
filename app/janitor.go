package app

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// keepDeliveries is how long processed deliveries stay in the store, for
// the status page and for investigating what happened.
const keepDeliveries = 30 * 24 * time.Hour

// janitor prunes processed deliveries older than keepDeliveries, hourly.
// Pending and running ones are never pruned; operations and the audit log
// are kept.
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.db.PruneDeliveries(ctx, a.now().Add(-keepDeliveries))
		if err != nil && ctx.Err() == nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("pruning old deliveries")
		} else if n > 0 {
			zerolog.Ctx(ctx).Info().Int64("pruned", n).Msg("pruned old deliveries")
		}
	}
}
