package app

import (
	"context"
	"time"

	"github.com/rs/zerolog"
)

// keepHistory is how long the janitor keeps what only looks back:
// processed deliveries (for the status page and for investigating what
// happened), the ids of check runs the app created, and cached blobs no
// pipeline has needed since.
const keepHistory = 30 * 24 * time.Hour

// janitor prunes, hourly, what is older than keepHistory. Pending and
// running deliveries, the check runs of commits whose operations are still
// open, operations and the audit log are never pruned.
func (a *App) janitor(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.prune(ctx)
	}
}

// prune runs one round of the janitor.
func (a *App) prune(ctx context.Context) {
	cutoff := a.now().Add(-keepHistory)
	for _, p := range []struct {
		what string
		run  func(context.Context, time.Time) (int64, error)
	}{
		{"deliveries", a.db.PruneDeliveries},
		{"check run ids", func(ctx context.Context, t time.Time) (int64, error) {
			return a.db.PruneState(ctx, checkKeyPrefix, t)
		}},
		{"harness check runs", func(ctx context.Context, t time.Time) (int64, error) {
			return a.db.PruneCommitState(ctx, harnessChecksKeyPrefix, t)
		}},
		{"cached blobs", a.db.PruneBlobs},
	} {
		n, err := p.run(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			zerolog.Ctx(ctx).Warn().Err(err).Msg("pruning old " + p.what)
		case n > 0:
			zerolog.Ctx(ctx).Info().Int64("pruned", n).Msg("pruned old " + p.what)
		}
	}
}
