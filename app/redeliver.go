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
	// redeliveryWindow is how far back the first sweep looks; GitHub keeps
	// deliveries for three days.
	redeliveryWindow = 24 * time.Hour
	// maxRedeliveries bounds the redeliveries the app asks for one
	// delivery (one GUID), counted across sweeps and restarts, so one the
	// app keeps refusing (a changed webhook secret) is not redelivered
	// forever.
	maxRedeliveries         = 3
	maxRedeliveriesPerSweep = 100
)

// redelivery is one delivery to redeliver: the id of its latest attempt.
type redelivery struct {
	ID   int64
	GUID string
}

// toRedeliver picks, among attempts, the deliveries whose latest attempt
// failed and whose redelivery was asked fewer than maxRedeliveries times
// (requested, by GUID), and returns each one's latest attempt, oldest
// delivery first.
func toRedeliver(attempts []gh.WebhookAttempt, requested map[string]int) []redelivery {
	latest := map[string]gh.WebhookAttempt{}
	for _, a := range attempts {
		l, ok := latest[a.GUID]
		if !ok || a.At.After(l.At) || (a.At.Equal(l.At) && a.ID > l.ID) {
			latest[a.GUID] = a
		}
	}
	var failed []gh.WebhookAttempt
	for guid, l := range latest {
		ok := l.StatusCode >= 200 && l.StatusCode < 300
		if !ok && requested[guid] < maxRedeliveries {
			failed = append(failed, l)
		}
	}
	sort.Slice(failed, func(i, j int) bool { return failed[i].At.Before(failed[j].At) })
	out := make([]redelivery, 0, len(failed))
	for _, a := range failed[:min(len(failed), maxRedeliveriesPerSweep)] {
		out = append(out, redelivery{ID: a.ID, GUID: a.GUID})
	}
	return out
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
		// Overlap the last sweep: attempts land late, and GitHub's
		// delivered_at has whole seconds. Seeing an attempt twice is
		// harmless, the redeliveries of a GUID being counted.
		since = checked.Add(-a.cfg.GitHub.RedeliveryInterval - time.Second)
	}
	attempts, err := r.RecentDeliveries(ctx, since, 2000)
	if err != nil {
		return 0, err
	}
	guids := make([]string, 0, len(attempts))
	for _, at := range attempts {
		guids = append(guids, at.GUID)
	}
	requested, err := a.db.Deliveries.Redeliveries(ctx, guids)
	if err != nil {
		return 0, err
	}
	todo := toRedeliver(attempts, requested)
	for _, d := range todo {
		// Counted first: a crash between the two asks once less, never
		// once more, than the cap.
		if err := a.db.Deliveries.CountRedelivery(ctx, d.GUID); err != nil {
			return 0, err
		}
		if err := r.Redeliver(ctx, d.ID); err != nil {
			return 0, fmt.Errorf("redelivering: %w", err)
		}
	}
	if len(todo) > 0 {
		if err := a.db.Audit.Append(ctx, store.AuditEntry{Actor: "pipeline-orchestrator", Action: "redeliver", Subject: "webhooks",
			Detail: fmt.Sprintf("%d failed deliveries redelivered", len(todo))}); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
		}
	}
	return len(todo), a.db.State.SetRedeliveryChecked(ctx, start)
}
