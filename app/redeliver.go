package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// GitHub does not retry a webhook it failed to deliver (the app was down,
// or answered 5xx); it only offers redelivery through its API
// (docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).
// The app asks for it itself, at start and then periodically.
const (
	redeliveryInterval = 5 * time.Minute
	// redeliveryWindow is how far back the first sweep looks; GitHub keeps
	// deliveries for three days.
	redeliveryWindow = 24 * time.Hour
	// maxRedeliveryAttempts bounds the attempts of one delivery, so one
	// the app keeps refusing is not redelivered forever.
	maxRedeliveryAttempts   = 3
	maxRedeliveriesPerSweep = 100
)

// toRedeliver picks, among attempts, the deliveries whose latest attempt
// failed and that were tried fewer than maxRedeliveryAttempts times, and
// returns the id of each one's latest attempt, oldest delivery first.
func toRedeliver(attempts []gh.WebhookAttempt) []int64 {
	type guidState struct {
		latest gh.WebhookAttempt
		tries  int
	}
	byGUID := map[string]*guidState{}
	for _, a := range attempts {
		s := byGUID[a.GUID]
		if s == nil {
			s = &guidState{latest: a}
			byGUID[a.GUID] = s
		}
		s.tries++
		if a.At.After(s.latest.At) || (a.At.Equal(s.latest.At) && a.ID > s.latest.ID) {
			s.latest = a
		}
	}
	var failed []gh.WebhookAttempt
	for _, s := range byGUID {
		ok := s.latest.StatusCode >= 200 && s.latest.StatusCode < 300
		if !ok && s.tries < maxRedeliveryAttempts {
			failed = append(failed, s.latest)
		}
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].At.Before(failed[j].At) })
	ids := make([]int64, 0, len(failed))
	for _, a := range failed {
		ids = append(ids, a.ID)
	}
	if len(ids) > maxRedeliveriesPerSweep {
		ids = ids[:maxRedeliveriesPerSweep]
	}
	return ids
}

// redeliverFailed asks GitHub to redeliver what failed since the last
// sweep. Failing to is logged: the next sweep looks again.
func (a *App) redeliverFailed(ctx context.Context, r gh.Redeliverer) {
	log := zerolog.Ctx(ctx)
	n, err := a.redeliver(ctx, r)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn().Err(err).Msg("redelivering failed webhooks")
	case n > 0:
		log.Info().Int("redelivered", n).Msg("asked GitHub to redeliver failed webhooks")
	}
}

func (a *App) redeliver(ctx context.Context, r gh.Redeliverer) (int, error) {
	start := a.now()
	since := start.Add(-redeliveryWindow)
	checked, err := a.db.State.RedeliveryChecked(ctx)
	if err != nil {
		return 0, err
	}
	if !checked.IsZero() {
		since = checked.Add(-redeliveryInterval) // overlap: attempts land late
	}
	attempts, err := r.RecentDeliveries(ctx, since, 2000)
	if err != nil {
		return 0, err
	}
	ids := toRedeliver(attempts)
	for _, id := range ids {
		if err := r.Redeliver(ctx, id); err != nil {
			return 0, fmt.Errorf("redelivering: %w", err)
		}
	}
	if len(ids) > 0 {
		if err := a.db.Audit.Append(ctx, store.AuditEntry{Actor: "pipeline-orchestrator", Action: "redeliver", Subject: "webhooks",
			Detail: fmt.Sprintf("%d failed deliveries redelivered", len(ids))}); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
		}
	}
	return len(ids), a.db.State.SetRedeliveryChecked(ctx, start)
}
