package app

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable that overrides a
// configuration key: github.webhook_secret is read from
// PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET. A variable with this prefix
// that names no key is an error.
const EnvPrefix = "PIPELINE_ORCHESTRATOR_"

// Variables with EnvPrefix that are not configuration: the offline
// commands' schema files, and the test suite's switches. The server
// ignores them, so that one shell can run both the server and the CLI.
const (
	EnvPipelineSchema = EnvPrefix + "PIPELINE_SCHEMA" // --schema of validate, plan and render
	EnvTriggerSchema  = EnvPrefix + "TRIGGER_SCHEMA"  // --trigger-schema
)

// notConfigVariables are the variables overlayEnv leaves alone.
var notConfigVariables = map[string]bool{
	EnvPipelineSchema: true, EnvTriggerSchema: true,
	EnvPrefix + "SHARED_DIR": true, EnvPrefix + "BROWSER_TEST": true, EnvPrefix + "SCREENSHOTS": true,
}

// Secret is a configuration value that must never be printed. It formats as
// "[redacted]" in logs, errors, JSON and YAML.
type Secret string

// Value returns the secret itself, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts the secret in %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Minimum lengths of the secrets this app chooses itself (the App's private
// key and the Harness API key are issued by GitHub and Harness).
const (
	// MinWebhookSecretLength: the webhook secret is the HMAC-SHA256 key
	// of every delivery's signature. Whoever knows it can send deliveries
	// the app trusts, and one signed delivery (a proxy log, a captured
	// request) is enough to test guesses offline at any speed. GitHub asks
	// for "a random string of text with high entropy"
	// (https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
	// A length cannot measure randomness, so this is a floor that rules out
	// words and short strings, not a guarantee: 16 random characters are
	// beyond an offline search, `openssl rand -hex 32` is better.
	MinWebhookSecretLength = 16
	// MinAdminTokenLength: an admin token is a bearer token that lets
	// whoever holds it queue syncs and reconciles, accepted from anywhere
	// that reaches the admin API. 32 characters is what `openssl rand -hex
	// 16` prints (128 random bits); a token is never typed, so there is no
	// reason to accept less.
	MinAdminTokenLength = 32
)

// DefaultAdminTokenName is the name under which Tokens lists
// server.admin_token, the single unnamed token.
const DefaultAdminTokenName = "admin_token"

// Config is the server's configuration: defaults, then the YAML file, then
// the environment, then secret files, then Validate.
type Config struct {
	Server        ServerConfig        `yaml:"server"`
	GitHub        GitHubConfig        `yaml:"github"`
	ConfigRepo    ConfigRepoConfig    `yaml:"config_repo"`
	PipelinesRepo PipelinesRepoConfig `yaml:"pipelines_repo"`
	Harness       HarnessConfig       `yaml:"harness"`
	Store         StoreConfig         `yaml:"store"`
	Workers       WorkersConfig       `yaml:"workers"`
	Reconcile     ReconcileConfig     `yaml:"reconcile"`
	Log           LogConfig           `yaml:"log"`
}

// ServerConfig is the HTTP side of the app.
type ServerConfig struct {
	// Address is where the server listens, e.g. ":8080". Without
	// PrivateAddress everything is served here.
	Address string `yaml:"address"`
	// PrivateAddress, when set, is a second listen address for the status
	// page, the admin API and the metrics; Address then serves only the
	// webhook (POST /api/github/hook), the one path GitHub must reach.
	PrivateAddress string `yaml:"private_address"`
	// PublicURL is how GitHub users reach the status page; check runs link to it.
	PublicURL string `yaml:"public_url"`
	// StatusRequiresToken makes the status page ask for an admin token, for
	// a deployment that serves everything on one public address.
	StatusRequiresToken bool `yaml:"status_requires_token"`
	// AdminToken is a bearer token of the admin API, listed by Tokens under
	// the name DefaultAdminTokenName. With no token at all the admin API is
	// disabled.
	AdminToken     Secret `yaml:"admin_token"`
	AdminTokenFile string `yaml:"admin_token_file"`
	// AdminTokens are named bearer tokens of the admin API (name → token),
	// so that logs can say which client acted. Names are slugs.
	AdminTokens map[string]Secret `yaml:"admin_tokens"`
	// AdminTokenFiles reads named tokens from files (name → path).
	AdminTokenFiles map[string]string `yaml:"admin_token_files"`
}

// NamedToken is an admin token and the name the configuration gives it.
type NamedToken struct {
	Name  string
	Token Secret
}

// Tokens returns every admin token: server.admin_token first (named
// DefaultAdminTokenName), then server.admin_tokens by name. Empty tokens
// are left out, so no token means the admin API is disabled.
func (c ServerConfig) Tokens() []NamedToken {
	var tokens []NamedToken
	if c.AdminToken != "" {
		tokens = append(tokens, NamedToken{Name: DefaultAdminTokenName, Token: c.AdminToken})
	}
	names := make([]string, 0, len(c.AdminTokens))
	for name := range c.AdminTokens {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if tok := c.AdminTokens[name]; tok != "" {
			tokens = append(tokens, NamedToken{Name: name, Token: tok})
		}
	}
	return tokens
}

// GitHubConfig identifies the GitHub App. There is deliberately no field for
// a personal access token: every call uses an installation token.
type GitHubConfig struct {
	// APIURL is the REST API base, "https://api.github.com/" or
	// "https://HOST/api/v3/" for GitHub Enterprise Server. LoadConfig adds
	// a missing trailing slash.
	APIURL string `yaml:"api_url"`
	// WebURL is the web base used in links, "https://github.com".
	WebURL         string        `yaml:"web_url"`
	AppID          int64         `yaml:"app_id"`
	PrivateKey     Secret        `yaml:"private_key"`
	PrivateKeyFile string        `yaml:"private_key_file"`
	WebhookSecret  Secret        `yaml:"webhook_secret"`
	Timeout        time.Duration `yaml:"timeout"`
	// RedeliveryInterval is how often the app asks GitHub to redeliver the
	// webhooks it failed to receive; 0 disables the sweep.
	RedeliveryInterval time.Duration `yaml:"redelivery_interval"`
}

// ConfigRepoConfig is the repository holding the service catalog.
type ConfigRepoConfig struct {
	Repo        string `yaml:"repo"`         // owner/name
	CatalogPath string `yaml:"catalog_path"` // path of the catalog file
}

// PipelinesRepoConfig is the repository holding templates, settings and the
// rendered pipelines.
type PipelinesRepoConfig struct {
	Repo string `yaml:"repo"` // owner/name
}

// HarnessConfig is the Harness NG account the pipelines live in.
type HarnessConfig struct {
	BaseURL     string        `yaml:"base_url"`
	AccountID   string        `yaml:"account_id"`
	APIKey      Secret        `yaml:"api_key"`
	APIKeyFile  string        `yaml:"api_key_file"`
	CallTimeout time.Duration `yaml:"call_timeout"`
	// RateLimit caps requests per second to Harness (0: no client-side limit).
	RateLimit float64 `yaml:"rate_limit"`
}

// StoreConfig is the SQLite database.
type StoreConfig struct {
	// Path is the database file. Its directory must exist: the server does
	// not create it, so that a mistyped path fails at start instead of
	// filling a new directory nobody backs up.
	Path string `yaml:"path"`
}

// WorkersConfig bounds the background work.
type WorkersConfig struct {
	// Deliveries is the number of delivery workers (one repo at a time each).
	Deliveries int `yaml:"deliveries"`
	// Operations is the number of Harness operations run at once.
	Operations int `yaml:"operations"`
	// MaxAttempts is how often a retryable Harness failure is retried before
	// the operation is marked failed, and how often a delivery's run is
	// tried before the delivery is marked failed.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBase and RetryMax bound the exponential back-off (with jitter)
	// between attempts, for Harness operations and for deliveries.
	RetryBase time.Duration `yaml:"retry_base"`
	RetryMax  time.Duration `yaml:"retry_max"`
}

// ReconcileConfig is the drift check between Git and Harness.
type ReconcileConfig struct {
	// Interval between reconcile runs; 0 disables the timer.
	Interval time.Duration `yaml:"interval"`
}

// LogConfig shapes the logs.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // json | console
}

// DefaultConfig returns every default in one place.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{Address: ":8080"},
		GitHub: GitHubConfig{
			APIURL:             "https://api.github.com/",
			WebURL:             "https://github.com",
			Timeout:            30 * time.Second,
			RedeliveryInterval: 5 * time.Minute,
		},
		ConfigRepo: ConfigRepoConfig{CatalogPath: "catalog/services.yaml"},
		Harness: HarnessConfig{
			BaseURL:     "https://app.harness.io/gateway",
			CallTimeout: 30 * time.Second,
		},
		Store:     StoreConfig{Path: "data/pipeline-orchestrator.db"},
		Workers:   WorkersConfig{Deliveries: 2, Operations: 4, MaxAttempts: 10, RetryBase: time.Second, RetryMax: 5 * time.Minute},
		Reconcile: ReconcileConfig{Interval: 10 * time.Minute},
		Log:       LogConfig{Level: "info", Format: "json"},
	}
}

// LoadConfig reads the YAML file at path over the defaults, overlays the
// environment, reads secret files and validates. environ is the process
// environment as os.Environ returns it ("NAME=value" entries); only the
// PIPELINE_ORCHESTRATOR_* entries are read, and one that names no key is an
// error. Every problem is reported at once, each naming where the value
// came from (file:line:column or the variable) and its dotted key.
func LoadConfig(path string, environ []string) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(path, src, environ)
}

// ParseConfig is LoadConfig on bytes already read; name is the file's name
// in messages.
func ParseConfig(name string, src []byte, environ []string) (Config, error) {
	cfg := DefaultConfig()
	l := newConfigLoader(name)
	fileOK := l.decodeYAML(src, &cfg)
	l.overlayEnv(environ, &cfg)
	if !fileOK {
		// Validating the defaults left by an unreadable file would bury
		// its one problem under a complaint per required key.
		return Config{}, l.err()
	}
	l.readSecretFiles(&cfg)
	for _, p := range cfg.problems() {
		l.report(p.key, p.msg)
	}
	if err := l.err(); err != nil {
		return Config{}, err
	}
	cfg.GitHub.APIURL = withTrailingSlash(cfg.GitHub.APIURL)
	return cfg, nil
}

// Validate returns every problem in the configuration, each naming its
// dotted key. It reads the file system once, to check that the store's
// directory exists. LoadConfig calls it and adds where each value came
// from; call it directly on a Config built in code.
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, fmt.Errorf("%s: %s", p.key, p.msg))
	}
	return errors.Join(errs...)
}

// SplitRepo splits "owner/name".
func SplitRepo(full string) (owner, name string) {
	owner, name, _ = strings.Cut(full, "/")
	return owner, name
}
