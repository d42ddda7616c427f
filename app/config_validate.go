package app

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// keyProblem is a problem with the value of one dotted key.
type keyProblem struct {
	key string
	msg string
}

// problems lists every problem in the configuration in the order of the
// keys in Config. Messages never include a secret's value.
func (c Config) problems() []keyProblem {
	var p problemList
	for _, section := range []func(*problemList){c.serverProblems, c.adminTokenProblems, c.githubProblems,
		c.repoProblems, c.harnessProblems, c.runtimeProblems} {
		section(&p)
	}
	return p
}

// problemList collects the problems of the configuration.
type problemList []keyProblem

func (p *problemList) add(key, format string, args ...any) {
	*p = append(*p, keyProblem{key: key, msg: fmt.Sprintf(format, args...)})
}

func (c Config) serverProblems(p *problemList) {
	add := p.add
	if c.Server.Address == "" {
		add("server.address", "is required (e.g. \":8080\")")
	} else if err := checkListenAddress(c.Server.Address); err != nil {
		add("server.address", "%v", err)
	}
	if c.Server.PrivateAddress != "" {
		if err := checkListenAddress(c.Server.PrivateAddress); err != nil {
			add("server.private_address", "%v", err)
		} else if sameListener(c.Server.Address, c.Server.PrivateAddress) {
			add("server.private_address", "%q would listen on the same port as server.address (%q): the private side needs its own port",
				c.Server.PrivateAddress, c.Server.Address)
		}
	}
	if c.Server.PublicURL != "" {
		if err := checkURL(c.Server.PublicURL); err != nil {
			add("server.public_url", "%v", err)
		}
	}
	if c.Server.StatusRequiresToken && len(c.Server.Tokens()) == 0 {
		add("server.status_requires_token", "is true but no admin token is set (server.admin_token or server.admin_tokens)")
	}
}

func (c Config) adminTokenProblems(p *problemList) {
	add := p.add
	if c.Server.AdminToken != "" {
		if msg := checkAdminToken(c.Server.AdminToken); msg != "" {
			add("server.admin_token", "%s", msg)
		}
	}
	names := make([]string, 0, len(c.Server.AdminTokens))
	for name := range c.Server.AdminTokens {
		names = append(names, name)
	}
	sort.Strings(names)
	firstKey := map[Secret]string{}
	if c.Server.AdminToken != "" {
		firstKey[c.Server.AdminToken] = "server.admin_token"
	}
	for _, name := range names {
		key := "server.admin_tokens." + name
		tok := c.Server.AdminTokens[name]
		switch {
		case !tokenName.MatchString(name):
			add(key, "%q is not a valid name: use lower-case letters, digits, - and _ (at most 63, starting with a letter or digit)", name)
		case name == DefaultAdminTokenName && c.Server.AdminToken != "":
			add(key, "the name %s is taken by server.admin_token; pick another", name)
		}
		if tok == "" {
			add(key, "is empty: give the token, or remove the entry")
			continue
		}
		if msg := checkAdminToken(tok); msg != "" {
			add(key, "%s", msg)
			continue
		}
		if other, dup := firstKey[tok]; dup {
			add(key, "is the same token as %s: give each client its own token, so the logs can tell them apart", other)
			continue
		}
		firstKey[tok] = key
	}
	for name := range c.Server.AdminTokenFiles {
		if _, ok := c.Server.AdminTokens[name]; !ok && !tokenName.MatchString(name) {
			add("server.admin_token_files."+name, "%q is not a valid name: use lower-case letters, digits, - and _", name)
		}
	}
}

func (c Config) githubProblems(p *problemList) {
	add := p.add
	if err := checkAPIURL(c.GitHub.APIURL); err != nil {
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
	switch n := utf8.RuneCountInString(c.GitHub.WebhookSecret.Value()); {
	case n == 0:
		// go-github accepts unsigned requests when the secret is empty.
		add("github.webhook_secret", "is required: without it webhook signatures are not checked")
	case n < MinWebhookSecretLength:
		add("github.webhook_secret", "is %d characters: use at least %d random ones (e.g. `openssl rand -hex 32`) and set the same secret in the GitHub App's settings",
			n, MinWebhookSecretLength)
	}
	if c.GitHub.Timeout <= 0 {
		add("github.timeout", "must be positive")
	}
	if c.GitHub.RedeliveryInterval < 0 {
		add("github.redelivery_interval", "must not be negative (0 disables the redelivery sweep)")
	}
}

func (c Config) repoProblems(p *problemList) {
	add := p.add
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
}

func (c Config) harnessProblems(p *problemList) {
	add := p.add
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
}

// runtimeProblems checks the store, workers, reconcile and log sections.
func (c Config) runtimeProblems(p *problemList) {
	add := p.add
	if err := checkStorePath(c.Store.Path); err != nil {
		add("store.path", "%v", err)
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
}

// tokenName is the form of an admin token's name: a slug, as it appears in
// logs and in the variable PIPELINE_ORCHESTRATOR_SERVER_ADMIN_TOKENS_<NAME>
// (upper-cased there, so "-" only works from the file).
var tokenName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// checkAdminToken returns what is wrong with an admin token, never quoting it.
func checkAdminToken(tok Secret) string {
	s := tok.Value()
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		// The admin API reads the token from "Authorization: Bearer
		// <token>", trimmed: one with spaces could never match.
		return "contains spaces or control characters: a bearer token cannot"
	}
	if n := utf8.RuneCountInString(s); n < MinAdminTokenLength {
		return fmt.Sprintf("is %d characters: use at least %d random ones (e.g. `openssl rand -hex 32`)", n, MinAdminTokenLength)
	}
	return ""
}

// checkListenAddress checks a host:port as net.Listen takes it, with a
// numeric port (0 picks a free one).
func checkListenAddress(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. \":8080\" or \"127.0.0.1:9090\")", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: the port must be a number from 0 to 65535", s)
	}
	return nil
}

// sameListener reports whether two valid listen addresses would take the
// same port: same port and same host, or either on every interface. Port 0
// picks a free port each time, so it never collides.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	everywhere := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return strings.EqualFold(ha, hb) || everywhere(ha) || everywhere(hb)
}

// checkStorePath checks the database file's path, and that its directory
// exists: the server does not create it.
func checkStorePath(path string) error {
	if path == "" {
		return errors.New("is required")
	}
	if path == ":memory:" || strings.ContainsAny(path, "?#") {
		// store.Open refuses these: the queue must survive a restart.
		return fmt.Errorf("must be a plain file path, got %q", path)
	}
	dir := filepath.Dir(path)
	shown := dir
	if abs, err := filepath.Abs(dir); err == nil && abs != dir {
		shown = fmt.Sprintf("%s (%s)", dir, abs)
	}
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist: create it, or fix the path (the server does not create it)", shown)
	case err != nil:
		return fmt.Errorf("directory %s: %v", shown, err)
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory", shown)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL, got %q", s)
	}
	return nil
}

// checkAPIURL checks the GitHub REST API base. go-githubapp (v0.26.0,
// githubapp/client_creator.go: NewClientCreator and newClient) only adds a
// trailing slash and then sets go-github's Client.BaseURL to the URL as
// given, and the installation-token exchange posts to the same base plus
// /app/installations/{id}/access_tokens. go-github v62's
// WithEnterpriseURLs, which would append api/v3/, is never called. So a
// GitHub Enterprise Server URL without /api/v3/ would only fail at the
// first call; it is refused here with the fix. Hosts named api.* (github.com
// and GitHub Enterprise Cloud with data residency, api.SUBDOMAIN.ghe.com)
// serve the API at the root, the same rule WithEnterpriseURLs applies;
// loopback hosts are stand-ins and proxies, which serve it where they
// like.
func checkAPIURL(s string) error {
	if err := checkURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	host := strings.ToLower(u.Hostname())
	path := u.Path
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	switch {
	case host == "github.com" || host == "www.github.com":
		return fmt.Errorf("%q is GitHub's web address, not its API: use \"https://api.github.com/\"", s)
	case host == "api.github.com" && path != "/":
		return fmt.Errorf("%q: GitHub's API is at the root, use \"https://api.github.com/\"", s)
	case strings.HasSuffix(path, "/api/v3/"), strings.HasPrefix(host, "api."), strings.Contains(host, ".api."), isLoopback(host):
		return nil
	}
	// A URL that already ends in /api or another API version gets it
	// replaced, not a second /api.
	base := apiSuffix.ReplaceAllString(strings.TrimSuffix(path, "/"), "")
	fix := u.Scheme + "://" + u.Host + base + "/api/v3/"
	return fmt.Errorf("%q is a GitHub Enterprise Server URL without /api/v3/: use %q", s, fix)
}

// apiSuffix is a trailing /api, /api/v or /api/vN of a URL path.
var apiSuffix = regexp.MustCompile(`/api(/v\d*)?$`)

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withTrailingSlash adds the trailing slash go-github requires of a base
// URL ("BaseURL must have a trailing slash").
func withTrailingSlash(s string) string {
	u, err := url.Parse(s)
	if err != nil || strings.HasSuffix(u.Path, "/") {
		return s
	}
	u.Path += "/"
	return u.String()
}

func checkRepo(s string) error {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("must be owner/name, got %q", s)
	}
	return nil
}
