// Package wire builds the app's production collaborators from its
// configuration: the GitHub client (installation tokens through
// go-githubapp and ghinstallation) and the Harness client. `serve`, `demo`
// and the end-to-end tests all go through it, so they exercise the same
// code path.
package wire

import (
	"fmt"
	"net/http"
	"time"

	"github.com/palantir/go-githubapp/githubapp"
	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/ghapi"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
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
func Deps(cfg app.Config, db *store.DB, log *zerolog.Logger, metrics *app.Metrics, opts Options) (app.Deps, error) {
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
			metrics.GitHubMiddleware(),
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
		RateLimit:   cfg.Harness.RateLimit,
		Observe:     metrics.HarnessObserver,
		HTTPClient:  &http.Client{Transport: opts.Transport},
	})
	if err != nil {
		return app.Deps{}, fmt.Errorf("creating Harness client: %w", err)
	}
	return app.Deps{
		GitHub:  gh,
		Harness: func(org, project string) app.Harness { return hc.In(org, project) },
		Store:   db,
		Forget:  gh.Forget,
		Logger:  log,
		Metrics: metrics,
	}, nil
}
