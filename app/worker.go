package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// deliveryLease is how long a delivery worker holds a batch without
// renewing it; it renews every third of it while the run goes on.
const deliveryLease = 60 * time.Second

// workData is what a delivery keeps beyond the store's columns.
type workData struct {
	Repo   string `json:"repo"` // repository the event came from
	Sender string `json:"sender,omitempty"`
}

func encodeWorkData(w handlers.Work) []byte {
	b, _ := json.Marshal(workData{Repo: w.Repo, Sender: w.Sender})
	return b
}

func decodeWorkData(d store.Delivery) workData {
	var wd workData
	_ = json.Unmarshal(d.Data, &wd) // an older or empty record just lacks the detail
	return wd
}

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
			batch, err := a.db.ClaimDeliveries(ctx, worker, deliveryLease)
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
	wd := decodeWorkData(last)
	log := a.log.With().
		Str("github_delivery_id", last.ID).
		Str("github_event_type", last.Event).
		Str(LogKeyRepo, wd.Repo).
		Str(LogKeySHA, last.SHA).
		Str(LogKeyWork, last.Key).
		Int("coalesced", len(batch)).
		Logger()
	ctx = log.WithContext(ctx)

	// Keep the lease while the run goes on.
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
				if err := a.db.ExtendDeliveries(runCtx, batch, deliveryLease); err != nil {
					log.Warn().Err(err).Msg("extending delivery lease")
					if errors.Is(err, store.ErrLeaseLost) {
						cancel()
						return
					}
				}
			}
		}
	}()

	start := a.now()
	outcome, err := a.run(runCtx, batch)
	close(done)
	cancel()
	a.metrics.observeRun(kindOf(last.Key), outcome, err, a.now().Sub(start))

	// Record the outcome even if the run was cut short by shutdown.
	recordCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer stop()
	switch {
	case err == nil:
		log.Info().Str("outcome", outcome).Dur("took", a.now().Sub(start)).Msg("work done")
		if !strings.HasPrefix(outcome, "blocked") {
			a.setLastError(nil) // a blocked run already recorded why
		}
		if err := a.db.CompleteDeliveries(recordCtx, batch, outcome); err != nil {
			log.Error().Err(err).Msg("recording delivery outcome")
		}
	case ctx.Err() != nil:
		log.Info().Msg("shutting down: work released for the next start")
		if err := a.db.ReleaseDeliveries(recordCtx, batch); err != nil {
			log.Error().Err(err).Msg("releasing deliveries")
		}
	default:
		a.setLastError(fmt.Errorf("%s: %w", last.Key, err))
		delay := a.deliveryBackoff(last.Attempts, err)
		log.Error().Err(err).Int(LogKeyAttempt, last.Attempts).Dur("retry_in", delay).Msg("work failed")
		if err := a.db.RetryDeliveries(recordCtx, batch, err.Error(), a.now().Add(delay)); err != nil {
			log.Error().Err(err).Msg("recording delivery retry")
		}
	}
}

// deliveryBackoff is exponential with full jitter, capped; a wait GitHub
// or Harness asked for wins.
func (a *App) deliveryBackoff(attempt int, err error) time.Duration {
	if after, ok := retryAfterOf(err); ok && after > 0 {
		return after
	}
	if after, ok := harness.RetryAfter(err); ok {
		return after
	}
	ceiling := a.cfg.Workers.RetryBase << min(max(attempt-1, 0), 20)
	if ceiling > a.cfg.Workers.RetryMax || ceiling <= 0 {
		ceiling = a.cfg.Workers.RetryMax
	}
	return a.cfg.Workers.RetryBase/2 + time.Duration(rand.Float64()*float64(ceiling))
}

func kindOf(key string) string {
	kind, _, _ := strings.Cut(key, ":")
	return kind
}

// run dispatches a batch to its loop step and returns a short outcome.
func (a *App) run(ctx context.Context, batch []store.Delivery) (string, error) {
	last := batch[len(batch)-1]
	switch kindOf(last.Key) {
	case handlers.KindPreview:
		return a.preview(ctx, last)
	case handlers.KindPropose:
		return a.propose(ctx, triggersOf(batch))
	case handlers.KindApply:
		return a.apply(ctx, triggersOf(batch))
	case handlers.KindBotPR:
		return a.botPRClosed(ctx, last)
	case handlers.KindReconcile:
		return a.reconcile(ctx)
	}
	zerolog.Ctx(ctx).Warn().Str("key", last.Key).Msg("unknown work key")
	return "unknown work", nil
}

// trigger is one event behind a propose or apply run.
type trigger struct {
	Repo string // repository the event came from
	SHA  string
	PR   int // the pull request the event is about, if any (a label added to a merged bot PR)
}

func triggersOf(batch []store.Delivery) []trigger {
	seen := map[trigger]bool{}
	var out []trigger
	for _, d := range batch {
		t := trigger{Repo: decodeWorkData(d).Repo, SHA: d.SHA, PR: d.PRNumber}
		if t.SHA == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	return out
}

// Enqueue records work that did not come from a webhook (admin API,
// timers), as a delivery with a generated id, so it takes the same path.
func (a *App) Enqueue(ctx context.Context, key, lane, sha, why string) error {
	id := fmt.Sprintf("internal-%s-%d-%d", strings.ReplaceAll(key, ":", "-"), a.now().UnixNano(), rand.Uint32())
	_, err := a.db.RecordDelivery(ctx, store.Delivery{
		ID: id, Event: "internal", Action: why, Repo: lane, Key: key, SHA: sha, After: sha,
		Data: encodeWorkData(handlers.Work{Repo: lane, Sender: why}), ReceivedAt: a.now(),
	})
	if err != nil {
		return fmt.Errorf("recording %s work: %w", key, err)
	}
	a.kick()
	return nil
}
