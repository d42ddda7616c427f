// Package sandbox runs the whole app on one machine: in-process stand-ins
// for GitHub and Harness that speak their real HTTP APIs (signed webhooks,
// JWT → installation token exchange, Harness's envelopes and codes), and
// the real server wired exactly as `serve` wires it, listening on loopback
// with a real SQLite file. The demo, the end-to-end tests and the
// reliability suite are built on it.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/app/wire"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
)

// Defaults of the sandbox's world.
const (
	DefaultConfigRepo    = "company/platform-next"
	DefaultPipelinesRepo = "company-harness/harness-pipelines"
	AppID                = 424242
	AppSlug              = "pipeline-orchestrator"
	DefaultBranch        = "main"
)

// StandInOptions shape the stand-ins and the repositories they start with.
type StandInOptions struct {
	ConfigRepo, PipelinesRepo string
	// ConfigFiles and PipelinesFiles are the repositories' first commits.
	ConfigFiles, PipelinesFiles map[string]string
	// Delivery is the GitHub stand-in's webhook delivery mode.
	Delivery githubtest.DeliveryMode
	// Logf receives the GitHub stand-in's request log (optional).
	Logf func(string, ...any)
	// ServeWeb makes the GitHub stand-in serve minimal web pages for the
	// links the app shows (repositories, pull requests, commits), and
	// points the app's github.web_url at them.
	ServeWeb bool
	// WithoutSchemas makes the Harness stand-in serve no YAML schema, as
	// Harness does when it cannot produce one. By default it serves
	// Harness's schemas from ../shared/schemas when they are there (see
	// SharedSchemas).
	WithoutSchemas bool
	// HarnessTimeScale compresses the time the Harness stand-in's runs
	// wait in Wait steps (harnesstest.Options.TimeScale); default
	// DefaultHarnessTimeScale.
	HarnessTimeScale float64
}

// DefaultHarnessTimeScale makes an hour's Wait step take a tenth of a
// second in the Harness stand-in's runs.
const DefaultHarnessTimeScale = 36000

// SharedSchemas reads Harness's pipeline and trigger JSON Schemas from the
// shared folder beside the checkout (../shared/schemas, or where
// $PIPELINE_ORCHESTRATOR_SHARED_DIR says). A schema that is not there is
// nil. They are Harness's and never part of this repository.
func SharedSchemas() (pipeline, trigger []byte, err error) {
	read := func(name string) ([]byte, error) {
		p, ok := sharedfiles.Path("schemas", name)
		if !ok {
			return nil, nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading the Harness schema: %w", err)
		}
		return b, nil
	}
	if pipeline, err = read("harness-pipeline-v0.json"); err != nil {
		return nil, nil, err
	}
	if trigger, err = read("harness-trigger-v0.json"); err != nil {
		return nil, nil, err
	}
	return pipeline, trigger, nil
}

// StandIns are the GitHub and Harness stand-ins and the secrets the app
// needs to talk to them.
type StandIns struct {
	GitHub        *githubtest.Server
	Harness       *harnesstest.Server
	ConfigRepo    string
	PipelinesRepo string
	// UserToken lets a person (or curl) act on the GitHub stand-in.
	UserToken     string
	WebhookSecret string
	privateKeyPEM string
	key           *rsa.PrivateKey
	// ci is the config repository's CI, once started (StartConfigCI).
	ci *configCI
}

// StartStandIns starts both stand-ins and creates the two repositories in
// two orgs, each with the App installed. The Harness stand-in runs
// pipelines for real: it reads manifests from the GitHub stand-in as the
// App, with the App's key stored as the Harness secret the pipelines
// repository's settings name, and holds the registry and cluster
// connectors those settings name (see seedHarness).
func StartStandIns(opts StandInOptions) (*StandIns, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating the App key: %w", err)
	}
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	s := &StandIns{
		ConfigRepo:    orDefault(opts.ConfigRepo, DefaultConfigRepo),
		PipelinesRepo: orDefault(opts.PipelinesRepo, DefaultPipelinesRepo),
		UserToken:     "ghp_" + randomHex(18),
		WebhookSecret: randomHex(20),
		privateKeyPEM: pemKey,
		key:           key,
	}
	s.GitHub = githubtest.New(githubtest.Options{
		AppID: AppID, AppPublicKey: &key.PublicKey, AppSlug: AppSlug,
		WebhookSecret: s.WebhookSecret, UserToken: s.UserToken, Delivery: opts.Delivery, Logf: opts.Logf,
		Events:    []string{"push", "pull_request", "check_suite", "check_run"},
		RateLimit: -1, ServeWeb: opts.ServeWeb,
	})
	hopts := harnesstest.Options{GitHubAPIURL: s.GitHub.URL, GitHubWebURL: s.GitHub.WebURL, TimeScale: opts.HarnessTimeScale}
	if hopts.TimeScale == 0 {
		hopts.TimeScale = DefaultHarnessTimeScale
	}
	if !opts.WithoutSchemas {
		if hopts.PipelineSchema, hopts.TriggerSchema, err = SharedSchemas(); err != nil {
			s.GitHub.Close()
			return nil, err
		}
	}
	s.Harness = harnesstest.New(hopts)
	for _, r := range []struct {
		full  string
		files map[string]string
	}{{s.ConfigRepo, opts.ConfigFiles}, {s.PipelinesRepo, opts.PipelinesFiles}} {
		owner, name := app.SplitRepo(r.full)
		s.GitHub.AddInstallation(owner)
		files := r.files
		if len(files) == 0 {
			files = map[string]string{"README.md": "# " + name + "\n"}
		}
		s.GitHub.CreateRepo(owner, name, DefaultBranch, files)
	}
	if err := s.seedHarness(settingsOf(opts.PipelinesFiles)); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the config repository's CI and both stand-ins.
func (s *StandIns) Close() {
	if s.ci != nil {
		s.ci.close()
	}
	s.GitHub.Close()
	s.Harness.Close()
}

// Config returns a valid app configuration pointing at the stand-ins,
// with its SQLite file in dir.
func (s *StandIns) Config(dir string) app.Config {
	cfg := app.DefaultConfig()
	cfg.Server.Address = "127.0.0.1:0"
	cfg.Server.AdminToken = app.Secret("admin-" + randomHex(16))
	cfg.GitHub.APIURL = s.GitHub.URL
	cfg.GitHub.WebURL = strings.TrimSuffix(s.GitHub.WebURL, "/")
	cfg.GitHub.AppID = AppID
	cfg.GitHub.PrivateKey = app.Secret(s.privateKeyPEM)
	cfg.GitHub.WebhookSecret = app.Secret(s.WebhookSecret)
	cfg.GitHub.Timeout = 10 * time.Second
	cfg.ConfigRepo.Repo = s.ConfigRepo
	cfg.PipelinesRepo.Repo = s.PipelinesRepo
	cfg.Harness.BaseURL = s.Harness.URL
	cfg.Harness.AccountID = s.Harness.AccountID()
	cfg.Harness.APIKey = app.Secret(s.Harness.APIKey())
	cfg.Harness.CallTimeout = 5 * time.Second
	cfg.Store.Path = filepath.Join(dir, "pipeline-orchestrator.db")
	cfg.Workers.RetryBase = 100 * time.Millisecond
	cfg.Workers.RetryMax = 2 * time.Second
	cfg.Reconcile.Interval = 0
	return cfg
}

// Env is stand-ins plus the app, in one process.
type Env struct {
	*StandIns
	App *wire.Server
	Dir string
	log *zerolog.Logger
}

// Options configure Start.
type Options struct {
	StandInOptions
	// Dir holds the SQLite file; a new temporary directory when empty.
	Dir string
	// Logger receives the app's logs (nil: discarded).
	Logger *zerolog.Logger
	// Tune adjusts the configuration before the app starts.
	Tune func(*app.Config)
	// ConfigCI starts the config repository's CI (StartConfigCI) before
	// the app, so that the Harness stand-in's runs find the generated
	// manifests. Without it the config repository holds only what the
	// test commits.
	ConfigCI bool
}

// Start starts the stand-ins and the app, and points GitHub's webhooks at
// the app.
func Start(ctx context.Context, opts Options) (*Env, error) {
	dir := opts.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "pipeline-orchestrator-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	log := opts.Logger
	if log == nil {
		nop := zerolog.Nop()
		log = &nop
	}
	si, err := StartStandIns(opts.StandInOptions)
	if err != nil {
		return nil, err
	}
	e := &Env{StandIns: si, Dir: dir, log: log}
	cfg := si.Config(dir)
	if opts.Tune != nil {
		opts.Tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		si.Close()
		return nil, fmt.Errorf("sandbox configuration: %w", err)
	}
	if opts.ConfigCI {
		if err := si.StartConfigCI(); err != nil {
			si.Close()
			return nil, err
		}
	}
	if err := e.startApp(ctx, cfg); err != nil {
		si.Close()
		return nil, err
	}
	return e, nil
}

func (e *Env) startApp(ctx context.Context, cfg app.Config) error {
	r, err := wire.Start(ctx, cfg, e.log)
	if err != nil {
		return err
	}
	e.App = r
	e.GitHub.SetWebhookURL(r.HookURL())
	return nil
}

// Restart stops the app and starts a new one on the same data directory
// and configuration, as after a deploy or a crash.
func (e *Env) Restart(ctx context.Context) error {
	if err := e.Down(); err != nil {
		return err
	}
	return e.Up(ctx)
}

// Down stops the app; GitHub's webhooks fail until Up, as during an outage.
func (e *Env) Down() error {
	return e.App.Stop()
}

// Up starts the app again on the same data directory and configuration.
func (e *Env) Up(ctx context.Context) error {
	return e.startApp(ctx, e.App.Config)
}

// Close stops the app and the stand-ins.
func (e *Env) Close() error {
	err := e.App.Stop()
	e.StandIns.Close()
	return err
}

// Settle waits until the config repository's CI has caught up, GitHub
// has sent every webhook and the app has no delivery or operation left to
// process (retries waiting included, and the results of those done), then
// refreshes the check runs. It
// fails when timeout passes first, or when the CI failed.
func (e *Env) Settle(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	quiet := 0
	for {
		ci, err := e.ConfigCIBusy()
		if err != nil {
			return err
		}
		e.GitHub.WaitIdle()
		busy, err := e.App.DB.Unfinished(ctx)
		if err != nil {
			return err
		}
		if ci {
			busy = "the config repository's CI"
		}
		if busy == "" && e.App.App.Executing() > 0 {
			busy = "operations finishing"
		}
		if busy == "" {
			quiet++
			if quiet >= 3 { // stable across a few looks: nothing in flight between them
				e.App.App.Flush(ctx)
				return nil
			}
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled after %s: %s", timeout, busy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}
