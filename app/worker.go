package app

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/backoff"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// deliveryLease is how long a delivery worker holds a batch without
// renewing it; it renews every third of it while the run goes on.
const deliveryLease = 60 * time.Second

// While webhooks keep arriving, the workers wait for a pause before they
// claim: answering GitHub quickly matters more than starting a run a few
// milliseconds earlier, and a burst then coalesces into fewer runs.
const (
	intakeQuiet   = 50 * time.Millisecond // a pause this long ends the wait
	intakeMaxWait = 2 * time.Second       // a steady stream does not starve the workers
)

// waitForQuietIntake returns once no delivery was recorded for
// intakeQuiet, or after intakeMaxWait.
func (a *App) waitForQuietIntake(ctx context.Context) {
	deadline := time.Now().Add(intakeMaxWait)
	for {
		since := time.Since(time.Unix(0, a.lastRecorded.Load()))
		if since >= intakeQuiet || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(intakeQuiet - since):
		}
	}
}

// kick wakes a delivery worker.
func (a *App) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// deliveryWorker claims batches of deliveries (one repository lane at a
// time, same work key coalesced) and runs them until ctx ends.
func (a *App) deliveryWorker(ctx context.Context, worker string) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
		case <-poll.C:
		}
		a.waitForQuietIntake(ctx)
		for ctx.Err() == nil {
			batch, err := a.db.Deliveries.Claim(ctx, worker, deliveryLease)
			if err != nil {
				if ctx.Err() == nil {
					a.log.Error().Err(err).Msg("claiming deliveries")
				}
				break
			}
			if len(batch) == 0 {
				break
			}
			a.kick() // another lane may have work for another worker
			a.process(ctx, batch)
		}
		poll.Reset(time.Second)
	}
}

// takeOverDefunct ends the leases of workers of this host whose process
// has ended: a run of the app killed (SIGKILL, out of memory, a crash)
// before it could release its claims. Its deliveries and operations are
// then claimable at once, instead of blocking their repository's lane
// until the leases run out (a minute for deliveries). Failing to is
// logged: the leases still expire.
func (a *App) takeOverDefunct(ctx context.Context) {
	holders, err := a.db.LeaseHolders(ctx)
	if err != nil {
		a.log.Warn().Err(err).Msg("listing lease holders")
		return
	}
	var defunct []string
	for _, w := range holders {
		if a.runner.Defunct(w) {
			defunct = append(defunct, w)
		}
	}
	n, err := a.db.ExpireLeases(ctx, defunct)
	if err != nil {
		a.log.Warn().Err(err).Msg("taking over the claims of a killed run")
		return
	}
	if n > 0 {
		a.log.Info().Int("claims", n).Strs("workers", defunct).Msg("took over the claims of a killed run")
	}
}

// process runs one batch and records its outcome.
func (a *App) process(ctx context.Context, batch []store.Delivery) {
	last := batch[len(batch)-1]
	log := a.log.With().
		Str("github_delivery_id", last.ID).
		Str("github_event_type", last.Event).
		Str("github_repo", work.DecodeData(last.Data).Repo).
		Str(loop.LogKeySHA, last.SHA).
		Str("work", last.Key).
		Int("coalesced", len(batch)).
		Logger()
	ctx = log.WithContext(ctx)

	runCtx, release := a.keepLease(ctx, batch)
	start := a.now()
	kind := work.KindOf(last.Key)
	outcome, err := a.dispatch(runCtx, kind, batch)
	release()
	a.metrics.ObserveRun(kind, outcome, err, a.now().Sub(start))

	// Record the outcome even if the run was cut short by shutdown.
	recordCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer stop()
	switch {
	case err == nil:
		log.Info().Str("outcome", outcome.Text).Int64("took_ms", a.now().Sub(start).Milliseconds()).Msg("work done")
		if outcome.Result != work.Blocked {
			a.loop.SetLastError(nil) // a blocked run already recorded why
		}
		if err := a.db.Deliveries.Complete(recordCtx, batch, outcome.Text); err != nil {
			log.Error().Err(err).Msg("recording delivery outcome")
		}
	case ctx.Err() != nil:
		log.Info().Msg("shutting down: work released for the next start")
		if err := a.db.Deliveries.Release(recordCtx, batch); err != nil {
			log.Error().Err(err).Msg("releasing deliveries")
		}
	case isRateLimit(err):
		// Waiting out a rate limit is not a failed attempt: the work is
		// postponed until GitHub said, however long that is.
		until, _ := gh.IsRateLimit(err)
		log.Warn().Err(err).Time("until", until).Msg("rate limited: work postponed")
		if err := a.db.Deliveries.Postpone(recordCtx, batch, until, "rate limited until "+until.UTC().Format(time.RFC3339)); err != nil {
			log.Error().Err(err).Msg("postponing deliveries")
		}
	default:
		a.loop.SetLastError(fmt.Errorf("%s: %w", last.Key, err))
		now := a.now()
		notBefore := a.retryAt(batch, err, now)
		log.Error().Err(err).Int("delivery_attempt", last.Attempts).Int64("retry_in_ms", notBefore(last).Sub(now).Milliseconds()).Msg("work failed")
		if err := a.db.Deliveries.Retry(recordCtx, batch, err.Error(), notBefore); err != nil {
			log.Error().Err(err).Msg("recording delivery retry")
		}
	}
}

// keepLease extends the batch's lease while its run goes on, and cancels
// the returned context if another worker took the lease over. Calling
// release stops the extension.
func (a *App) keepLease(ctx context.Context, batch []store.Delivery) (context.Context, func()) {
	log := zerolog.Ctx(ctx)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(deliveryLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := a.db.Deliveries.Extend(runCtx, batch, deliveryLease); err != nil {
					log.Warn().Err(err).Msg("extending delivery lease")
					if errors.Is(err, store.ErrLeaseLost) {
						cancel()
						return
					}
				}
			}
		}
	}()
	return runCtx, func() { close(done); cancel() }
}

// isRateLimit reports whether err is GitHub asking the App to wait.
func isRateLimit(err error) bool {
	_, ok := gh.IsRateLimit(err)
	return ok
}

// exhausted is the back-off of a delivery that used up its attempts: it
// fails, visibly, and is tried again later (Deliveries.Revive), from ten
// minutes to six hours apart, never abandoned.
var exhausted = backoff.Exponential{Base: 10 * time.Minute, Max: 6 * time.Hour, Floor: 5 * time.Minute}

// retryAt is when each delivery of a batch whose run failed with err is
// tried again. Each backs off by its own attempts: one that used them up,
// coalesced with a newer one, must not get the newer's short wait.
func (a *App) retryAt(batch []store.Delivery, err error, now time.Time) func(store.Delivery) time.Time {
	at := make(map[string]time.Time, len(batch))
	for _, d := range batch {
		at[d.ID] = now.Add(a.deliveryBackoff(d.Attempts, err))
	}
	return func(d store.Delivery) time.Time { return at[d.ID] }
}

// deliveryBackoff is the wait before a failed run is tried again: a wait
// GitHub or Harness asked for wins; otherwise the app's one back-off, and
// the long one once the delivery used up its attempts.
func (a *App) deliveryBackoff(attempt int, err error) time.Duration {
	if after, ok := gh.RetryAfterOf(err); ok && after > 0 {
		return after
	}
	if after, ok := harness.RetryAfter(err); ok {
		return after
	}
	if over := attempt - a.cfg.Workers.MaxAttempts; over >= 0 {
		return exhausted.Delay(over+1, rand.Float64())
	}
	// A run is never retried at once: half the base is the shortest wait.
	b := backoff.Exponential{Base: a.cfg.Workers.RetryBase, Max: a.cfg.Workers.RetryMax, Floor: a.cfg.Workers.RetryBase / 2}
	return b.Delay(attempt, rand.Float64())
}

// dispatch runs a batch's work on the loop step that owns its kind.
func (a *App) dispatch(ctx context.Context, kind work.Kind, batch []store.Delivery) (work.Outcome, error) {
	last := batch[len(batch)-1]
	switch kind {
	case work.Preview:
		return a.loop.Preview(ctx, loop.PreviewRequest{Repo: previewRepo(last), SHA: last.SHA, Before: last.Before, BaseRef: last.Ref, Work: last.ID})
	case work.Propose:
		return a.loop.Propose(ctx, triggersOf(batch))
	case work.Apply:
		return a.loop.Apply(ctx, triggersOf(batch))
	case work.BotPR:
		return a.loop.BotPRClosed(ctx, last.PRNumber)
	case work.Reconcile:
		return a.loop.Reconcile(ctx)
	}
	zerolog.Ctx(ctx).Warn().Str("key", last.Key).Msg("unknown work key")
	return work.Outcome{Result: work.Unchanged, Text: "unknown work"}, nil
}

// previewRepo is the repository of the PR a preview delivery is about:
// where the event came from, or its lane.
func previewRepo(d store.Delivery) string {
	if repo := work.DecodeData(d.Data).Repo; repo != "" {
		return repo
	}
	return d.Repo
}

// triggersOf lists the events behind a batch, once each.
func triggersOf(batch []store.Delivery) []work.Trigger {
	seen := map[work.Trigger]bool{}
	var out []work.Trigger
	for _, d := range batch {
		t := work.Trigger{Repo: work.DecodeData(d.Data).Repo, SHA: d.SHA, PR: d.PRNumber}
		if t.SHA == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// Enqueue records work that did not come from a webhook (admin API,
// timers), as a delivery with a generated id in the pipelines repo's lane,
// so it takes the same path.
func (a *App) Enqueue(ctx context.Context, kind work.Kind, why string) error {
	key := work.Key(kind, "")
	lane := a.repos.Pipelines.String()
	id := fmt.Sprintf("internal-%s-%d-%d", strings.ReplaceAll(key, ":", "-"), a.now().UnixNano(), rand.Uint32())
	_, err := a.db.Deliveries.Record(ctx, store.Delivery{
		ID: id, Event: "internal", Action: why, Repo: lane, Key: key,
		Data: work.Data{Repo: lane, Sender: why}.Encode(), ReceivedAt: a.now(),
	})
	if err != nil {
		return fmt.Errorf("recording %s work: %w", key, err)
	}
	a.kick()
	return nil
}
