package app

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"
)

// GitHub does not retry a webhook it failed to deliver (the app was down,
// or answered 5xx); it only offers redelivery through its API
// (docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).
// The app asks for it itself, at start and then periodically.

// WebhookAttempt is one attempt GitHub made to deliver a webhook.
type WebhookAttempt struct {
	ID         int64
	GUID       string // X-GitHub-Delivery, shared by every attempt of a delivery
	Event      string
	At         time.Time
	StatusCode int // 0 when GitHub could not connect
	Redelivery bool
}

// Redeliverer lists and redelivers the App's webhook deliveries. The
// GitHub adapter implements it; without it, the app does not redeliver.
type Redeliverer interface {
	RecentDeliveries(ctx context.Context, since time.Time, max int) ([]WebhookAttempt, error)
	Redeliver(ctx context.Context, id int64) error
}

const (
	keyRedeliveryChecked = "redelivery.checked"
	redeliveryInterval   = 5 * time.Minute
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
func toRedeliver(attempts []WebhookAttempt) []int64 {
	type guidState struct {
		latest WebhookAttempt
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
	var failed []WebhookAttempt
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

// redeliverFailed asks GitHub to redeliver what failed since the last sweep.
func (a *App) redeliverFailed(ctx context.Context, r Redeliverer) (int, error) {
	start := a.now()
	since := start.Add(-redeliveryWindow)
	if v, err := a.db.GetState(ctx, keyRedeliveryChecked); err == nil {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			since = t.Add(-redeliveryInterval) // overlap: attempts land late
		}
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
		a.audit(ctx, "redeliver", "webhooks", fmt.Sprintf("%d failed deliveries redelivered", len(ids)), "")
	}
	return len(ids), a.db.SetState(ctx, keyRedeliveryChecked, start.UTC().Format(time.RFC3339Nano))
}

// redeliveryTimer sweeps at start and every redeliveryInterval.
func (a *App) redeliveryTimer(ctx context.Context, r Redeliverer) {
	log := zerolog.Ctx(ctx)
	t := time.NewTimer(time.Second) // let the server start listening first
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.redeliverFailed(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn().Err(err).Msg("redelivering failed webhooks")
		case n > 0:
			log.Info().Int("redelivered", n).Msg("asked GitHub to redeliver failed webhooks")
		}
		t.Reset(redeliveryInterval)
	}
}
