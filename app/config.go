package app

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable that overrides a
// configuration key: github.webhook_secret is read from
// PIPELINE_ORCHESTRATOR_GITHUB_WEBHOOK_SECRET.
const EnvPrefix = "PIPELINE_ORCHESTRATOR_"

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

// Config is the server's configuration: defaults, then the YAML file, then
// the environment, then Validate.
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
	// Address is where the server listens, e.g. ":8080".
	Address string `yaml:"address"`
	// PublicURL is how GitHub users reach the status page; check runs link to it.
	PublicURL string `yaml:"public_url"`
	// AdminToken protects /api/v1 (bearer token). Empty disables the admin API.
	AdminToken     Secret `yaml:"admin_token"`
	AdminTokenFile string `yaml:"admin_token_file"`
}

// GitHubConfig identifies the GitHub App. There is deliberately no field for
// a personal access token: every call uses an installation token.
type GitHubConfig struct {
	// APIURL is the REST API base, "https://api.github.com/" or
	// "https://HOST/api/v3/" for GitHub Enterprise Server.
	APIURL string `yaml:"api_url"`
	// WebURL is the web base used in links, "https://github.com".
	WebURL         string        `yaml:"web_url"`
	AppID          int64         `yaml:"app_id"`
	PrivateKey     Secret        `yaml:"private_key"`
	PrivateKeyFile string        `yaml:"private_key_file"`
	WebhookSecret  Secret        `yaml:"webhook_secret"`
	Timeout        time.Duration `yaml:"timeout"`
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
			APIURL:  "https://api.github.com/",
			WebURL:  "https://github.com",
			Timeout: 30 * time.Second,
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
// environment (lookup is os.LookupEnv in production), reads secret files and
// validates. Every problem is reported at once.
func LoadConfig(path string, lookup func(string) (string, bool)) (Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(path, src, lookup)
}

// ParseConfig is LoadConfig on bytes already read; name is used in messages.
func ParseConfig(name string, src []byte, lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("%s: %w", name, err)
	}
	var problems []error
	if lookup != nil {
		problems = append(problems, overlayEnv(reflect.ValueOf(&cfg).Elem(), EnvPrefix, lookup)...)
	}
	problems = append(problems, cfg.readSecretFiles()...)
	if err := cfg.Validate(); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return Config{}, fmt.Errorf("%s: invalid configuration:\n%w", name, errors.Join(problems...))
	}
	return cfg, nil
}

// overlayEnv sets every leaf field whose environment variable is present.
// The variable name is the prefix plus the field's YAML path in upper case,
// joined by "_". Values that do not parse are errors, never ignored.
func overlayEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) []error {
	var errs []error
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		name := prefix + strings.ToUpper(key)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			errs = append(errs, overlayEnv(fv, name+"_", lookup)...)
			continue
		}
		raw, ok := lookup(name)
		if !ok {
			continue
		}
		if err := setFromString(fv, raw); err != nil {
			errs = append(errs, fmt.Errorf("environment variable %s: %w", name, err))
		}
	}
	return errs
}

var durationType = reflect.TypeOf(time.Duration(0))

func setFromString(fv reflect.Value, raw string) error {
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration (e.g. 30s, 10m)", raw)
		}
		fv.SetInt(int64(d))
	case fv.Kind() == reflect.String:
		fv.SetString(raw)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		fv.SetFloat(x)
	default:
		return fmt.Errorf("unsupported type %s", fv.Type())
	}
	return nil
}

// readSecretFiles loads each *_file key into its secret; setting both the
// value and the file is an error, so it is never unclear which one wins.
func (c *Config) readSecretFiles() []error {
	var errs []error
	load := func(field string, dst *Secret, path string) {
		if path == "" {
			return
		}
		if *dst != "" {
			errs = append(errs, fmt.Errorf("%s and %s_file are both set; keep one", field, field))
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s_file: %w", field, err))
			return
		}
		*dst = Secret(strings.TrimRight(string(b), "\r\n"))
	}
	load("github.private_key", &c.GitHub.PrivateKey, c.GitHub.PrivateKeyFile)
	load("harness.api_key", &c.Harness.APIKey, c.Harness.APIKeyFile)
	load("server.admin_token", &c.Server.AdminToken, c.Server.AdminTokenFile)
	return errs
}

// Validate returns every problem in the configuration, each naming its key.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Server.Address == "" {
		add("server.address", "is required (e.g. \":8080\")")
	}
	if c.Server.PublicURL != "" {
		if err := checkURL(c.Server.PublicURL); err != nil {
			add("server.public_url", "%v", err)
		}
	}
	if err := checkURL(c.GitHub.APIURL); err != nil {
		add("github.api_url", "%v", err)
	}
	if err := checkURL(c.GitHub.WebURL); err != nil {
		add("github.web_url", "%v", err)
	}
	if c.GitHub.AppID <= 0 {
		add("github.app_id", "is required: the GitHub App's numeric id")
	}
	if c.GitHub.PrivateKey == "" {
		add("github.private_key", "is required (or github.private_key_file): the App's PEM private key")
	} else if !strings.Contains(c.GitHub.PrivateKey.Value(), "PRIVATE KEY-----") {
		add("github.private_key", "is not a PEM private key")
	}
	if c.GitHub.WebhookSecret == "" {
		// go-github accepts unsigned requests when the secret is empty.
		add("github.webhook_secret", "is required: without it webhook signatures are not checked")
	}
	if c.GitHub.Timeout <= 0 {
		add("github.timeout", "must be positive")
	}
	if err := checkRepo(c.ConfigRepo.Repo); err != nil {
		add("config_repo.repo", "%v", err)
	}
	if p := c.ConfigRepo.CatalogPath; p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "..") {
		add("config_repo.catalog_path", "must be a relative path inside the repository, got %q", p)
	}
	if err := checkRepo(c.PipelinesRepo.Repo); err != nil {
		add("pipelines_repo.repo", "%v", err)
	}
	if c.ConfigRepo.Repo != "" && strings.EqualFold(c.ConfigRepo.Repo, c.PipelinesRepo.Repo) {
		add("pipelines_repo.repo", "must differ from config_repo.repo")
	}
	if err := checkURL(c.Harness.BaseURL); err != nil {
		add("harness.base_url", "%v", err)
	}
	if c.Harness.AccountID == "" {
		add("harness.account_id", "is required")
	}
	if c.Harness.APIKey == "" {
		add("harness.api_key", "is required (or harness.api_key_file)")
	}
	if c.Harness.CallTimeout <= 0 {
		add("harness.call_timeout", "must be positive")
	}
	if c.Harness.RateLimit < 0 {
		add("harness.rate_limit", "must not be negative")
	}
	if c.Store.Path == "" {
		add("store.path", "is required")
	}
	if c.Workers.Deliveries < 1 {
		add("workers.deliveries", "must be at least 1")
	}
	if c.Workers.Operations < 1 {
		add("workers.operations", "must be at least 1")
	}
	if c.Workers.MaxAttempts < 1 {
		add("workers.max_attempts", "must be at least 1")
	}
	if c.Workers.RetryBase <= 0 || c.Workers.RetryMax < c.Workers.RetryBase {
		add("workers.retry_base", "must be positive and at most workers.retry_max")
	}
	if c.Reconcile.Interval < 0 {
		add("reconcile.interval", "must not be negative (0 disables it)")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "console":
	default:
		add("log.format", "must be json or console, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL, got %q", s)
	}
	return nil
}

func checkRepo(s string) error {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("must be owner/name, got %q", s)
	}
	return nil
}

// SplitRepo splits "owner/name".
func SplitRepo(full string) (owner, name string) {
	owner, name, _ = strings.Cut(full, "/")
	return owner, name
}
