// Package app is the composition root: it builds the loop (package loop)
// and its collaborators from the configuration and the adapters it is
// given, serves the webhook endpoint and the other HTTP surfaces (package
// web), and runs the workers: delivery workers that dispatch recorded
// work to the loop's steps, the outbox runner that applies operations to
// Harness, and the periodic jobs (reconcile, redelivery, janitor).
//
// cmd wires it with real adapters (package wire); the demo and the
// end-to-end tests wire it with in-process stand-ins that speak the same
// HTTP APIs.
package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/checkrun"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/metrics"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/outbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Deps are the app's collaborators. All are required except where noted.
type Deps struct {
	GitHub  gh.GitHub
	Harness loop.HarnessScoper
	Store   *store.DB
	// Forget drops cached installation ids of an account (optional).
	Forget func(owner string)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger is the base logger (default: discard).
	Logger *zerolog.Logger
	// Metrics receives the app's measurements (optional).
	Metrics *metrics.Metrics
}

// App runs the loop. Create it with New, serve Handler, and call Run.
type App struct {
	cfg     Config
	gh      gh.GitHub
	db      *store.DB
	now     func() time.Time
	log     zerolog.Logger
	metrics *metrics.Metrics
	forget  func(string)
	repos   snapshot.Repos

	loop   *loop.Loop
	checks *checkrun.Reporter
	runner *outbox.Runner
	web    *web.Server

	reach        *reachability
	wake         chan struct{}
	lastRecorded atomic.Int64 // when the last delivery was recorded (Unix ns)
}

// New checks the dependencies and builds the app. Nothing runs until Run.
func New(cfg Config, deps Deps) (*App, error) {
	if deps.GitHub == nil || deps.Harness == nil || deps.Store == nil {
		return nil, errors.New("app: GitHub, Harness and Store are required")
	}
	a := &App{
		cfg: cfg, gh: deps.GitHub, db: deps.Store, now: deps.Now, metrics: deps.Metrics, forget: deps.Forget,
		repos: snapshot.Repos{Config: gh.ParseRepo(cfg.ConfigRepo.Repo), Pipelines: gh.ParseRepo(cfg.PipelinesRepo.Repo),
			CatalogPath: cfg.ConfigRepo.CatalogPath},
		reach: newReachability(),
		wake:  make(chan struct{}, 1),
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.log = zerolog.Nop()
	if deps.Logger != nil {
		a.log = *deps.Logger
	}
	if a.metrics == nil {
		a.metrics = metrics.New(nil)
	}
	a.metrics.RegisterQueue(a.db, a.now)
	detailsURL := ""
	if cfg.Server.PublicURL != "" {
		detailsURL = strings.TrimRight(cfg.Server.PublicURL, "/") + "/"
	}
	a.checks = checkrun.New(a.gh, a.db.State, a.db.Operations, detailsURL)
	links := present.Links{Web: cfg.GitHub.WebURL}
	a.loop = loop.New(loop.Deps{
		GitHub: a.gh, Harness: deps.Harness, Store: a.db,
		Reader: snapshot.New(a.gh, a.db.Blobs, a.repos, a.now), Checks: a.checks, Metrics: a.metrics,
		Notify: func() { a.runner.Notify() }, Now: a.now, Links: links, Connector: connectorSource(cfg, a.gh),
	})
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
	opts.OnResult = a.loop.OnResult
	a.runner = outbox.New(a.db, outbox.ExecutorFunc(a.loop.Execute), opts)
	a.web = web.New(web.Options{
		Store: readModel{a.db}, Loop: a.loop, Enqueue: a.Enqueue, Metrics: a.metrics.Handler(),
		ConfigRepo: a.repos.Config, PipelinesRepo: a.repos.Pipelines, Links: links,
		Tokens: webTokens(cfg.Server.Tokens()), StatusRequiresToken: cfg.Server.StatusRequiresToken, Log: a.log, Now: a.now,
		Reachability: a.problems,
	})
	return a, nil
}

// connectorSource is how the loop manages the cross-org GitHub connector:
// as this App, whose installations the GitHub adapter finds; nil (no
// connector) when the adapter cannot find them.
func connectorSource(cfg Config, g gh.GitHub) *loop.ConnectorSource {
	finder, ok := g.(gh.InstallationFinder)
	if !ok || cfg.GitHub.AppID <= 0 {
		return nil
	}
	return &loop.ConnectorSource{AppID: cfg.GitHub.AppID, WebURL: cfg.GitHub.WebURL, Installations: finder}
}

// problems lists what keeps the App from the repositories it needs: the
// two it serves, and the one Harness reads the manifests from through
// the connector.
func (a *App) problems() []web.RepoProblem {
	out := a.reach.Problems()
	if p, ok := a.loop.ConnectorProblem(); ok {
		out = append(out, web.RepoProblem{Repo: p.Repo.String(), Problem: p.Problem, Fix: p.Fix})
	}
	return out
}

// webTokens hands the configured admin tokens to the surfaces.
func webTokens(tokens []NamedToken) []web.Token {
	out := make([]web.Token, len(tokens))
	for i, t := range tokens {
		out[i] = web.Token{Name: t.Name, Value: t.Token.Value()}
	}
	return out
}

// Handler returns the app's whole HTTP surface: the webhook endpoint, and
// the surfaces of package web (health, readiness, metrics, the status page
// and the admin API).
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	a.webhookRoute(mux)
	a.web.Routes(mux)
	return mux
}

// PublicHandler serves the webhook endpoint alone: the one path GitHub
// must reach, for a deployment whose other surfaces are on a private
// address (server.private_address). Every other path is 404.
func (a *App) PublicHandler() http.Handler {
	mux := http.NewServeMux()
	a.webhookRoute(mux)
	return mux
}

// webhookRoute mounts POST /api/github/hook on mux.
func (a *App) webhookRoute(mux *http.ServeMux) {
	repos := handlers.Repos{Config: a.repos.Config.String(), Pipelines: a.repos.Pipelines.String()}
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
}

// Run processes deliveries and operations until ctx ends, then stops the
// workers gracefully: work in progress finishes or is released.
func (a *App) Run(ctx context.Context) error {
	ctx = a.log.WithContext(ctx)
	a.takeOverDefunct(ctx)
	var wg sync.WaitGroup
	start := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	for i := 0; i < a.cfg.Workers.Deliveries; i++ {
		worker := fmt.Sprintf("%s/d%d", a.runner.Worker(), i)
		start(func() { a.deliveryWorker(ctx, worker) })
	}
	start(func() { a.checks.Run(ctx) })
	start(func() { every(ctx, time.Hour, time.Hour, nil, a.prune) })
	if r, ok := a.gh.(gh.Redeliverer); ok && a.cfg.GitHub.RedeliveryInterval > 0 {
		// A first sweep once the server listens, then periodically.
		start(func() {
			every(ctx, time.Second, a.cfg.GitHub.RedeliveryInterval, nil, func(ctx context.Context) { a.redeliverFailed(ctx, r) })
		})
	}
	if inst, ok := a.gh.(gh.Installations); ok {
		start(func() {
			every(ctx, 0, reachInterval, a.reach.recheck, func(ctx context.Context) { a.checkReach(ctx, inst) })
		})
	}
	if iv := a.cfg.Reconcile.Interval; iv > 0 {
		start(func() { every(ctx, iv, iv, nil, a.converge) })
	}
	start(func() { every(ctx, time.Minute, time.Minute, nil, a.revive) })
	// Catch up on whatever happened while the app was down (webhooks
	// GitHub could not deliver, a crash mid-run): the loop is level-
	// triggered, so one propose and one apply converge from the heads.
	for _, kind := range []work.Kind{work.Propose, work.Apply} {
		if err := a.Enqueue(ctx, kind, "startup"); err != nil {
			a.log.Error().Err(err).Str("work", string(kind)).Msg("scheduling startup catch-up")
		}
	}
	err := a.runner.Run(ctx)
	wg.Wait()
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Executing returns how many operations this process is still executing,
// their results included: the store can already say an operation is done
// while its OnResult (a drift repair's record, a service's state) runs.
func (a *App) Executing() int { return a.runner.Executing() }

// Flush updates every pending check run now (tests and shutdown).
func (a *App) Flush(ctx context.Context) { a.checks.Flush(ctx) }

// every runs fn first after first, then every interval, and at once
// whenever wake receives (a nil wake never does), until ctx ends. It is
// the one loop behind the app's periodic jobs.
func every(ctx context.Context, first, interval time.Duration, wake <-chan struct{}, fn func(context.Context)) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		fn(ctx)
		t.Reset(interval)
	}
}

// converge is the reconcile timer's job: a propose from the current heads
// of both repositories (so a propose whose delivery failed converges
// without a new event), and a reconcile of Harness with Git.
func (a *App) converge(ctx context.Context) {
	for _, kind := range []work.Kind{work.Propose, work.Reconcile} {
		if err := a.Enqueue(ctx, kind, "timer"); err != nil {
			zerolog.Ctx(ctx).Error().Err(err).Str("work", string(kind)).Msg("scheduling periodic work")
		}
	}
}

// reviveWindow is how old a failed delivery may be and still be tried
// again: a week covers any outage worth waiting out; the periodic propose
// and reconcile converge the rest.
const reviveWindow = 7 * 24 * time.Hour

// revive makes the failed deliveries whose long back-off passed pending
// again (see deliveryBackoff).
func (a *App) revive(ctx context.Context) {
	n, err := a.db.Deliveries.Revive(ctx, a.now().Add(-reviveWindow))
	switch {
	case err != nil && ctx.Err() == nil:
		zerolog.Ctx(ctx).Warn().Err(err).Msg("reviving failed deliveries")
	case n > 0:
		zerolog.Ctx(ctx).Info().Int("deliveries", n).Msg("trying failed deliveries again")
		a.kick()
	}
}

// keepHistory is how long the janitor keeps what only looks back (see
// store.PruneHistory).
const keepHistory = 30 * 24 * time.Hour

// prune runs one round of the janitor.
func (a *App) prune(ctx context.Context) {
	pruned, err := a.db.PruneHistory(ctx, a.now().Add(-keepHistory))
	if err != nil && ctx.Err() == nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("pruning old history")
	}
	for what, n := range pruned {
		zerolog.Ctx(ctx).Info().Int64("pruned", n).Msg("pruned old " + what)
	}
}
