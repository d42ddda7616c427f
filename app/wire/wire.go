// Package wire builds the app's production collaborators from its
// configuration: the GitHub client (installation tokens through
// go-githubapp and ghinstallation) and the Harness client. `serve`, `demo`
// and the end-to-end tests all go through it, so they exercise the same
// code path.
package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/ghapi"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/loop"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/metrics"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// UserAgent identifies the app to GitHub and Harness.
const UserAgent = "pipeline-orchestrator"

// installationTTL is how long a repository's installation id is trusted
// before it is looked up again (installation events also clear it).
const installationTTL = 10 * time.Minute

// Options tune the wiring beyond the configuration.
type Options struct {
	// Transport is the base HTTP transport (nil: http.DefaultTransport).
	Transport http.RoundTripper
}

// Deps returns the app's dependencies for cfg.
func Deps(cfg app.Config, db *store.DB, log *zerolog.Logger, m *metrics.Metrics, opts Options) (app.Deps, error) {
	ghCfg := githubapp.Config{V3APIURL: cfg.GitHub.APIURL, WebURL: cfg.GitHub.WebURL}
	ghCfg.App.IntegrationID = cfg.GitHub.AppID
	ghCfg.App.PrivateKey = cfg.GitHub.PrivateKey.Value()
	ghCfg.App.WebhookSecret = cfg.GitHub.WebhookSecret.Value()
	clientOpts := []githubapp.ClientOption{
		githubapp.WithClientUserAgent(UserAgent),
		githubapp.WithClientTimeout(cfg.GitHub.Timeout),
		// One call: each WithClientMiddleware replaces the previous list.
		githubapp.WithClientMiddleware(
			githubapp.ClientLogging(zerolog.DebugLevel),
			m.GitHubMiddleware(),
		),
	}
	if opts.Transport != nil {
		clientOpts = append(clientOpts, githubapp.WithTransport(opts.Transport))
	}
	cc, err := githubapp.NewDefaultCachingClientCreator(ghCfg, clientOpts...)
	if err != nil {
		return app.Deps{}, fmt.Errorf("creating GitHub client creator: %w", err)
	}
	gh := ghapi.New(cc, installationTTL)

	hc, err := harness.New(harness.Config{
		BaseURL:     cfg.Harness.BaseURL,
		AccountID:   cfg.Harness.AccountID,
		APIKey:      cfg.Harness.APIKey.Value(),
		CallTimeout: cfg.Harness.CallTimeout,
		// A few quick retries inside a call; the outbox retries the
		// operation later, with its own longer back-off.
		Retry:      harness.RetryPolicy{MaxAttempts: 3, BaseDelay: cfg.Workers.RetryBase, MaxDelay: cfg.Workers.RetryMax},
		RateLimit:  cfg.Harness.RateLimit,
		Observe:    m.HarnessObserver,
		HTTPClient: &http.Client{Transport: opts.Transport},
		// Entities without the tag are not the app's: never overwritten,
		// never deleted.
		ManagedTag: harness.Tag{Key: render.ManagedByTag, Value: render.ManagedByValue},
	})
	if err != nil {
		return app.Deps{}, fmt.Errorf("creating Harness client: %w", err)
	}
	return app.Deps{
		GitHub:  gh,
		Harness: func(org, project string) loop.Harness { return hc.In(org, project) },
		Store:   db,
		Forget:  gh.Forget,
		Logger:  log,
		Metrics: m,
	}, nil
}

// Server is the app serving HTTP and running its workers.
type Server struct {
	App     *app.App
	DB      *store.DB
	Config  app.Config
	Metrics *metrics.Metrics
	// URL is the app's base URL, e.g. http://127.0.0.1:41234: the public
	// listener (server.address).
	URL string
	// PrivateURL is the base URL of the private listener
	// (server.private_address): the status page, the admin API and the
	// metrics. Without one, it is URL.
	PrivateURL string

	servers []*http.Server
	cancel  context.CancelFunc
	done    chan error
	once    sync.Once
}

// Start opens the store, wires the app, listens on cfg.Server.Address (and
// cfg.Server.PrivateAddress when set) and runs the workers until Stop. `serve`, `demo` and the tests all start the
// app this way.
func Start(ctx context.Context, cfg app.Config, log *zerolog.Logger) (*Server, error) {
	// Deliveries get as many attempts as Harness operations: a run that
	// gave up for good would leave its push unproposed or unapplied until
	// the next event.
	db, err := store.Open(ctx, cfg.Store.Path, store.WithMaxDeliveryAttempts(cfg.Workers.MaxAttempts))
	if err != nil {
		return nil, err
	}
	m := metrics.New(nil)
	deps, err := Deps(cfg, db, log, m, Options{})
	if err != nil {
		db.Close()
		return nil, err
	}
	a, err := app.New(cfg, deps)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Without a private address everything is served on the public one;
	// with one, the public address serves only the webhook.
	listeners := []struct {
		addr    string
		handler http.Handler
	}{{cfg.Server.Address, a.Handler()}}
	if cfg.Server.PrivateAddress != "" {
		listeners = []struct {
			addr    string
			handler http.Handler
		}{{cfg.Server.Address, a.PublicHandler()}, {cfg.Server.PrivateAddress, a.Handler()}}
	}
	var lns []net.Listener
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, open := range lns {
				open.Close()
			}
			db.Close()
			return nil, fmt.Errorf("listening on %s: %w", l.addr, err)
		}
		lns = append(lns, ln)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Server{
		App: a, DB: db, Config: cfg, Metrics: m,
		URL:    "http://" + lns[0].Addr().String(),
		cancel: cancel,
		done:   make(chan error, 1),
	}
	r.PrivateURL = "http://" + lns[len(lns)-1].Addr().String()
	for i, ln := range lns {
		srv := &http.Server{
			Handler:           listeners[i].handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		}
		r.servers = append(r.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
				log.Error().Err(err).Msg("serving")
			}
		}()
	}
	go func() { r.done <- a.Run(runCtx) }()
	return r, nil
}

// Stop shuts the server down gracefully: no new requests, work in
// progress finished or released for the next start, the store closed.
func (r *Server) Stop() error {
	var err error
	r.once.Do(func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, srv := range r.servers {
			if shutErr := srv.Shutdown(shutdownCtx); shutErr != nil && err == nil {
				err = shutErr
			}
		}
		r.cancel()
		if runErr := <-r.done; runErr != nil && err == nil {
			err = runErr
		}
		if closeErr := r.DB.Close(); closeErr != nil && err == nil {
			err = closeErr
		}
	})
	return err
}

// HookURL is the app's webhook endpoint.
func (r *Server) HookURL() string { return r.URL + "/api/github/hook" }
