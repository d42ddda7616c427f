package githubtest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

const (
	testAppID     = 4242
	testSecret    = "webhook-secret"
	testUserToken = "ghp_humanuser"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// appKey returns the App's private key, generated once per test binary.
func appKey(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func keyPEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// newServer starts a stand-in with orgs "acme" (config repo) and
// "acme-pipelines" (pipelines repo), both with the App installed.
func newServer(tb testing.TB, mutate ...func(*githubtest.Options)) *githubtest.Server {
	tb.Helper()
	opts := githubtest.Options{
		AppID:         testAppID,
		AppPublicKey:  &appKey(tb).PublicKey,
		AppSlug:       "pipeline-orchestrator",
		WebhookSecret: testSecret,
		UserToken:     testUserToken,
	}
	for _, m := range mutate {
		m(&opts)
	}
	s := githubtest.New(opts)
	tb.Cleanup(s.Close)
	return s
}

func clientFor(tb testing.TB, s *githubtest.Server, rt http.RoundTripper) *github.Client {
	tb.Helper()
	c := github.NewClient(&http.Client{Transport: rt, Timeout: 10 * time.Second})
	u, err := url.Parse(s.URL)
	if err != nil {
		tb.Fatal(err)
	}
	c.BaseURL = u
	return c
}

// appClient authenticates as the App with a JWT, through ghinstallation.
func appClient(tb testing.TB, s *githubtest.Server) *github.Client {
	tb.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, testAppID, keyPEM(appKey(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	atr.BaseURL = strings.TrimSuffix(s.URL, "/")
	return clientFor(tb, s, atr)
}

// installationClient authenticates with installation tokens that
// ghinstallation exchanges the App JWT for.
func installationClient(tb testing.TB, s *githubtest.Server, id int64) *github.Client {
	tb.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, testAppID, id, keyPEM(appKey(tb)))
	if err != nil {
		tb.Fatal(err)
	}
	itr.BaseURL = strings.TrimSuffix(s.URL, "/")
	return clientFor(tb, s, itr)
}

type tokenTransport struct{ token string }

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "token "+t.token)
	return http.DefaultTransport.RoundTrip(r)
}

// userClient authenticates as the human user with the static token.
func userClient(tb testing.TB, s *githubtest.Server) *github.Client {
	tb.Helper()
	return clientFor(tb, s, tokenTransport{testUserToken})
}

func ptr[T any](v T) *T { return &v }

// statusOf returns the HTTP status of a go-github error.
func statusOf(tb testing.TB, err error) int {
	tb.Helper()
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Response.StatusCode
	}
	var rl *github.RateLimitError
	if errors.As(err, &rl) {
		return rl.Response.StatusCode
	}
	var ab *github.AbuseRateLimitError
	if errors.As(err, &ab) {
		return ab.Response.StatusCode
	}
	tb.Fatalf("not an API error: %v", err)
	return 0
}

// rawRequest sends one request with an Authorization header and returns
// status and body.
func rawRequest(tb testing.TB, method, u, auth, body string) (int, http.Header, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func TestInstallationTokensAreScopedToTheirInstallation(t *testing.T) {
	s := newServer(t)
	instA := s.AddInstallation("acme")
	instB := s.AddInstallation("acme-pipelines")
	s.CreateRepo("acme", "platform", "main", map[string]string{"catalog/services.yaml": "services: []\n"})
	s.CreateRepo("acme-pipelines", "harness-pipelines", "main", map[string]string{"README.md": "pipelines\n"})
	ctx := context.Background()

	app := appClient(t, s)
	inst, _, err := app.Apps.FindRepositoryInstallation(ctx, "acme-pipelines", "harness-pipelines")
	if err != nil {
		t.Fatal(err)
	}
	if inst.GetID() != instB {
		t.Errorf("repository installation = %d, want %d", inst.GetID(), instB)
	}

	clientA := installationClient(t, s, instA)
	repo, _, err := clientA.Repositories.Get(ctx, "acme", "platform")
	if err != nil {
		t.Fatal(err)
	}
	if repo.GetFullName() != "acme/platform" || repo.GetDefaultBranch() != "main" || repo.GetOwner().GetLogin() != "acme" {
		t.Errorf("repository = %s default %s owner %s", repo.GetFullName(), repo.GetDefaultBranch(), repo.GetOwner().GetLogin())
	}
	// Installation A's token cannot see org B's repository: GitHub answers 404.
	_, _, err = clientA.Repositories.Get(ctx, "acme-pipelines", "harness-pipelines")
	if got := statusOf(t, err); got != http.StatusNotFound {
		t.Errorf("cross-installation status = %d, want 404", got)
	}
	clientB := installationClient(t, s, instB)
	if _, _, err := clientB.Repositories.Get(ctx, "acme-pipelines", "harness-pipelines"); err != nil {
		t.Errorf("installation B on its own repository: %v", err)
	}
	// The human token works everywhere.
	user := userClient(t, s)
	for _, full := range []string{"acme/platform", "acme-pipelines/harness-pipelines"} {
		o, r, _ := strings.Cut(full, "/")
		if _, _, err := user.Repositories.Get(ctx, o, r); err != nil {
			t.Errorf("user token on %s: %v", full, err)
		}
	}
	if n := s.Calls()["POST /app/installations/{installation_id}/access_tokens"]; n != 2 {
		t.Errorf("token exchanges = %d, want 2 (one per installation, then cached)", n)
	}
}

func TestGoGitHubAppCrossOrgPattern(t *testing.T) {
	s := newServer(t)
	s.AddInstallation("acme")
	instB := s.AddInstallation("acme-pipelines")
	s.CreateRepo("acme-pipelines", "harness-pipelines", "main", map[string]string{"README.md": "x\n"})
	var cfg githubapp.Config
	cfg.V3APIURL = s.URL
	cfg.App.IntegrationID = testAppID
	cfg.App.WebhookSecret = testSecret
	cfg.App.PrivateKey = string(keyPEM(appKey(t)))
	cc, err := githubapp.NewDefaultCachingClientCreator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appClient, err := cc.NewAppClient()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := githubapp.NewInstallationsService(appClient).GetByRepository(ctx, "acme-pipelines", "harness-pipelines")
	if err != nil {
		t.Fatal(err)
	}
	if inst.ID != instB {
		t.Fatalf("installation = %d, want %d", inst.ID, instB)
	}
	owner, err := githubapp.NewInstallationsService(appClient).GetByOwner(ctx, "acme")
	if err != nil || owner.Owner != "acme" {
		t.Fatalf("GetByOwner = %+v, %v", owner, err)
	}
	client, err := cc.NewInstallationClient(inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	fc, _, _, err := client.Repositories.GetContents(ctx, "acme-pipelines", "harness-pipelines", "README.md", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := fc.GetContent(); got != "x\n" {
		t.Errorf("README = %q", got)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *rsa.PrivateKey, iss string, iat, exp time.Time) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: iss, IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp),
		}).SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	tokenURL := s.URL + "app/installations/" + itoa(inst) + "/access_tokens"
	tests := []struct {
		name, method, url, auth string
		want                    int
	}{
		{"valid jwt", "POST", tokenURL, "Bearer " + sign(appKey(t), itoa(testAppID), now.Add(-30*time.Second), now.Add(2*time.Minute)), 201},
		{"wrong key", "POST", tokenURL, "Bearer " + sign(other, itoa(testAppID), now, now.Add(time.Minute)), 401},
		{"wrong issuer", "POST", tokenURL, "Bearer " + sign(appKey(t), "1", now, now.Add(time.Minute)), 401},
		{"expired", "POST", tokenURL, "Bearer " + sign(appKey(t), itoa(testAppID), now.Add(-5*time.Minute), now.Add(-time.Minute)), 401},
		{"exp too far ahead", "POST", tokenURL, "Bearer " + sign(appKey(t), itoa(testAppID), now, now.Add(time.Hour)), 401},
		{"user token on app route", "POST", tokenURL, "token " + testUserToken, 401},
		{"no credentials", "GET", s.URL + "repos/acme/platform", "", 401},
		{"unknown token", "GET", s.URL + "repos/acme/platform", "token ghs_nope", 401},
		{"unknown repository", "GET", s.URL + "repos/acme/nope", "token " + testUserToken, 404},
		{"unknown installation", "POST", s.URL + "app/installations/999/access_tokens", "Bearer " + sign(appKey(t), itoa(testAppID), now, now.Add(time.Minute)), 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := rawRequest(t, tc.method, tc.url, tc.auth, "")
			if status != tc.want {
				t.Fatalf("status = %d, want %d; body %s", status, tc.want, body)
			}
			if status == 401 {
				var e struct {
					Message          string `json:"message"`
					DocumentationURL string `json:"documentation_url"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Message == "" || e.DocumentationURL == "" {
					t.Errorf("401 body = %s, want GitHub's {message, documentation_url}", body)
				}
			}
		})
	}
}

func TestTokenResponseShapeAndExpiry(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newServer(t, func(o *githubtest.Options) { o.Now = clock })
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	jwtTok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: itoa(testAppID), IssuedAt: jwt.NewNumericDate(now.Add(-30 * time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Minute)),
	}).SignedString(appKey(t))
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := rawRequest(t, "POST", s.URL+"app/installations/"+itoa(inst)+"/access_tokens", "Bearer "+jwtTok, `{"repositories":["platform"]}`)
	if status != 201 {
		t.Fatalf("status %d: %s", status, body)
	}
	var tok struct {
		Token               string            `json:"token"`
		ExpiresAt           time.Time         `json:"expires_at"`
		Permissions         map[string]string `json:"permissions"`
		RepositorySelection string            `json:"repository_selection"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Token, "ghs_") || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || tok.RepositorySelection != "selected" || tok.Permissions["contents"] != "write" {
		t.Errorf("token response = %+v", tok)
	}
	if status, _, _ := rawRequest(t, "GET", s.URL+"repos/acme/platform", "Bearer "+tok.Token, ""); status != 200 {
		t.Errorf("fresh token status = %d, want 200", status)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if status, _, _ := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+tok.Token, ""); status != 401 {
		t.Errorf("expired token status = %d, want 401", status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// receiver is a webhook endpoint that checks signatures the way
// go-githubapp's dispatcher does and decodes payloads with go-github.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

type received struct {
	Event   string
	GUID    string
	Header  http.Header
	Payload []byte
	Parsed  any
}

func newReceiver(tb testing.TB) *receiver {
	tb.Helper()
	rc := &receiver{status: http.StatusOK}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload, err := github.ValidatePayload(r, []byte(testSecret))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		parsed, err := github.ParseWebHook(github.WebHookType(r), payload)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{Event: github.WebHookType(r), GUID: github.DeliveryID(r), Header: r.Header.Clone(), Payload: payload, Parsed: parsed})
		status := rc.status
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	tb.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) URL() string { return rc.srv.URL + "/api/github/hook" }

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) setStatus(code int) {
	rc.mu.Lock()
	rc.status = code
	rc.mu.Unlock()
}

// events lists "event/action" of what arrived, in order.
func (rc *receiver) events() []string {
	var out []string
	for _, r := range rc.received() {
		var a struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(r.Payload, &a)
		name := r.Event
		if a.Action != "" {
			name += "/" + a.Action
		}
		out = append(out, name)
	}
	return out
}

func TestInstallationPermissions(t *testing.T) {
	ctx := context.Background()
	workflowCommit := func(t *testing.T, c *github.Client, s *githubtest.Server) error {
		head := s.Head("acme/platform", "main")
		base, _ := s.CommitOf("acme/platform", head)
		tree, _, err := c.Git.CreateTree(ctx, "acme", "platform", base.Tree, []*github.TreeEntry{
			{Path: ptr(".github/workflows/ci.yml"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("on: push\n")},
		})
		if err != nil {
			t.Fatal(err)
		}
		commit, _, err := c.Git.CreateCommit(ctx, "acme", "platform", &github.Commit{Message: ptr("ci"), Tree: tree, Parents: []*github.Commit{{SHA: &head}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Git.CreateRef(ctx, "acme", "platform", &github.Reference{Ref: ptr("refs/heads/ci"), Object: &github.GitObject{SHA: commit.SHA}})
		return err
	}
	t.Run("workflow files need the workflows permission", func(t *testing.T) {
		s := newServer(t)
		inst := s.AddInstallation("acme")
		s.CreateRepo("acme", "platform", "main", nil)
		err := workflowCommit(t, installationClient(t, s, inst), s)
		er, ok := err.(*github.ErrorResponse)
		if !ok || er.Response.StatusCode != 422 || !strings.Contains(er.Message, "without `workflows` permission") {
			t.Fatalf("err = %v, want 422 refusing to allow a GitHub App", err)
		}
		if s.Head("acme/platform", "ci") != "" {
			t.Errorf("the branch was created")
		}
	})
	t.Run("granted workflows permission", func(t *testing.T) {
		s := newServer(t, func(o *githubtest.Options) {
			o.Permissions = map[string]string{"contents": "write", "metadata": "read", "workflows": "write"}
		})
		inst := s.AddInstallation("acme")
		s.CreateRepo("acme", "platform", "main", nil)
		if err := workflowCommit(t, installationClient(t, s, inst), s); err != nil {
			t.Fatal(err)
		}
		// Without pull_requests permission the pulls API is closed.
		_, _, err := installationClient(t, s, inst).PullRequests.List(ctx, "acme", "platform", nil)
		if got := statusOf(t, err); got != http.StatusForbidden {
			t.Errorf("pulls without permission: %d, want 403", got)
		}
	})
	t.Run("a read-only token cannot write", func(t *testing.T) {
		s := newServer(t)
		inst := s.AddInstallation("acme")
		s.CreateRepo("acme", "platform", "main", nil)
		now := time.Now()
		jwtTok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
			Issuer: itoa(testAppID), IssuedAt: jwt.NewNumericDate(now.Add(-30 * time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}).SignedString(appKey(t))
		if err != nil {
			t.Fatal(err)
		}
		status, _, body := rawRequest(t, "POST", s.URL+"app/installations/"+itoa(inst)+"/access_tokens", "Bearer "+jwtTok, `{"permissions":{"contents":"read"}}`)
		var tok struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(body, &tok); status != 201 || err != nil {
			t.Fatalf("token exchange: %d %s", status, body)
		}
		c := clientFor(t, s, tokenTransport{tok.Token})
		if _, _, err := c.Repositories.Get(ctx, "acme", "platform"); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.Git.CreateTree(ctx, "acme", "platform", "", []*github.TreeEntry{{Path: ptr("x"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("x")}})
		if got := statusOf(t, err); got != http.StatusForbidden {
			t.Errorf("write with a read token: %d, want 403", got)
		}
	})
}

// appJWT signs a JWT for the App, valid for a minute by the real clock.
func appJWT(tb testing.TB) string {
	tb.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: itoa(testAppID), IssuedAt: jwt.NewNumericDate(now.Add(-30 * time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}).SignedString(appKey(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
