// Package app is the pipeline orchestrator itself: the level-triggered
// loop (preview, propose, apply, reconcile), its workers, and the HTTP
// surfaces. It owns the ports it needs (GitHub, Harness, the store) and is
// wired by cmd with real adapters, or by tests and the demo with in-process
// stand-ins that speak the same HTTP APIs.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// Harness is what the loop needs from Harness. *harness.Client implements
// it; In scopes it to the org and project a pipeline lives in.
type Harness interface {
	CreateOrUpdate(ctx context.Context, id string, yaml []byte) (harness.Action, error)
	DeleteIfExists(ctx context.Context, id string) (bool, error)
	GetPipeline(ctx context.Context, id string) (*harness.Pipeline, error)
	ListPipelines(ctx context.Context) ([]harness.PipelineSummary, error)
}

// HarnessScoper returns the Harness client for an org and project.
type HarnessScoper func(org, project string) Harness

// Deps are the app's collaborators. All are required except where noted.
type Deps struct {
	GitHub  GitHub
	Harness HarnessScoper
	Store   *store.DB
	// Forget drops cached installation ids of an account (optional).
	Forget func(owner string)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger is the base logger (default: zerolog's global logger).
	Logger *zerolog.Logger
	// Metrics receives the app's measurements (optional).
	Metrics *Metrics
}

// App runs the loop. Create it with New, serve Handler, and call Run.
type App struct {
	cfg     Config
	gh      GitHub
	harness HarnessScoper
	db      *store.DB
	now     func() time.Time
	log     zerolog.Logger
	metrics *Metrics
	forget  func(string)

	configRepo    Repo
	pipelinesRepo Repo

	runner   *outbox.Runner
	reporter *reporter

	branches branchCache
	schemas  schemaSource // Harness's schemas for renderings (schema.go)

	mu           sync.Mutex
	lastError    string // last loop error, for the status page
	wake         chan struct{}
	lastRecorded atomic.Int64 // when the last delivery was recorded (Unix ns)
}

// New checks the dependencies and builds the app. Nothing runs until Run.
func New(cfg Config, deps Deps) (*App, error) {
	if deps.GitHub == nil || deps.Harness == nil || deps.Store == nil {
		return nil, errors.New("app: GitHub, Harness and Store are required")
	}
	a := &App{
		cfg:           cfg,
		gh:            deps.GitHub,
		harness:       deps.Harness,
		db:            deps.Store,
		now:           deps.Now,
		metrics:       deps.Metrics,
		forget:        deps.Forget,
		configRepo:    ParseRepo(cfg.ConfigRepo.Repo),
		pipelinesRepo: ParseRepo(cfg.PipelinesRepo.Repo),
		wake:          make(chan struct{}, 1),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if deps.Logger != nil {
		a.log = *deps.Logger
	} else {
		a.log = zerolog.Nop()
	}
	if a.metrics == nil {
		a.metrics = NewMetrics(nil)
	}
	a.metrics.registerQueue(a.db, a.now)
	a.reporter = newReporter(a)
	opts := outbox.DefaultOptions()
	opts.Concurrency = cfg.Workers.Operations
	opts.CallTimeout = 4 * cfg.Harness.CallTimeout // the client retries inside one call
	opts.Backoff.MaxAttempts = cfg.Workers.MaxAttempts
	opts.Backoff.Base = cfg.Workers.RetryBase
	opts.Backoff.Max = cfg.Workers.RetryMax
	opts.Classify = func(err error) (bool, time.Duration) {
		after, _ := harness.RetryAfter(err)
		return harness.IsRetryable(err), after
	}
	opts.OnResult = a.onOperationResult
	a.runner = outbox.New(a.db, outbox.ExecutorFunc(a.execute), opts)
	return a, nil
}

// Handler returns the app's HTTP surface: the webhook endpoint, health,
// readiness, metrics, the status page and the admin API.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	repos := handlers.Repos{Config: a.configRepo.String(), Pipelines: a.pipelinesRepo.String()}
	dispatcher := githubapp.NewEventDispatcher(
		handlers.All(repos, recorder{a}, a.forgetInstallation),
		a.cfg.GitHub.WebhookSecret.Value(),
		// Synchronous: GitHub gets its 2xx only once the delivery is in
		// SQLite. The handlers only record, so this takes milliseconds.
		githubapp.WithScheduler(githubapp.DefaultScheduler()),
		githubapp.WithErrorCallback(a.webhookError),
		githubapp.WithResponseCallback(a.webhookResponse),
	)
	mux.Handle("POST "+githubapp.DefaultWebhookRoute, a.withLogger(a.guard(dispatcher)))
	a.routes(mux)
	return mux
}

// guard wraps handlers.Guard so that its refusals are counted too.
func (a *App) guard(next http.Handler) http.Handler {
	guarded := handlers.Guard(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		guarded.ServeHTTP(rec, r)
		if rec.status >= 400 && getWebhookOutcome(r.Context()) == "ignored" {
			// Refused by the guard itself (size, signature header);
			// webhookError marks and counts what the dispatcher refuses.
			a.metrics.webhook(r.Header.Get("X-GitHub-Event"), "rejected")
		}
	})
}

// withLogger puts the app's logger in the request context, where
// go-githubapp's dispatcher adds the event type and delivery id.
func (a *App) withLogger(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := withWebhookOutcome(a.log.WithContext(r.Context()))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *App) forgetInstallation(owner string) {
	if a.forget != nil {
		a.forget(owner)
	}
}

// recorder stores handler work as deliveries.
type recorder struct{ a *App }

// Record implements handlers.Recorder.
func (r recorder) Record(ctx context.Context, w handlers.Work) error {
	inserted, err := r.a.db.RecordDelivery(ctx, store.Delivery{
		ID: w.DeliveryID, Event: w.Event, Action: w.Action, Repo: w.Lane, Installation: w.Installation,
		Key: w.Key, Ref: w.Ref, SHA: w.SHA, Before: w.Before, After: w.SHA, PRNumber: w.PR,
		Data: encodeWorkData(w), ReceivedAt: r.a.now(),
	})
	if err != nil {
		return fmt.Errorf("recording delivery %s: %w", w.DeliveryID, err)
	}
	if inserted {
		setWebhookOutcome(ctx, "recorded")
		r.a.lastRecorded.Store(time.Now().UnixNano())
		r.a.kick()
	} else {
		setWebhookOutcome(ctx, "duplicate")
		zerolog.Ctx(ctx).Info().Msg("duplicate delivery ignored")
	}
	return nil
}

// kick wakes a delivery worker.
func (a *App) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run processes deliveries and operations until ctx ends, then stops the
// workers gracefully: work in progress finishes or is released.
func (a *App) Run(ctx context.Context) error {
	ctx = a.log.WithContext(ctx)
	a.takeOverDefunct(ctx)
	var wg sync.WaitGroup
	for i := 0; i < a.cfg.Workers.Deliveries; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a.deliveryWorker(ctx, fmt.Sprintf("%s/d%d", a.runner.Worker(), i))
		}(i)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.reporter.run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.janitor(ctx)
	}()
	if r, ok := a.gh.(Redeliverer); ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.redeliveryTimer(ctx, r)
		}()
	}
	if a.cfg.Reconcile.Interval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.reconcileTimer(ctx)
		}()
	}
	// Catch up on whatever happened while the app was down (webhooks
	// GitHub could not deliver, a crash mid-run): the loop is level-
	// triggered, so one propose and one apply converge from the heads.
	for _, key := range []string{handlers.KindPropose, handlers.KindApply} {
		if err := a.Enqueue(ctx, key, a.pipelinesRepo.String(), "", "startup"); err != nil {
			a.log.Error().Err(err).Str("work", key).Msg("scheduling startup catch-up")
		}
	}
	err := a.runner.Run(ctx)
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (a *App) setLastError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil {
		a.lastError = ""
		return
	}
	a.lastError = fmt.Sprintf("%s: %v", a.now().UTC().Format(time.RFC3339), err)
}

// LastError is the last error of a loop run, or "".
func (a *App) LastError() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastError
}
