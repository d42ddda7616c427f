package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// TestPrivateAddressKeepsEverythingButTheWebhookOffThePublicListener
// starts the server with server.private_address: the public listener
// answers only POST /api/github/hook (GitHub's deliveries still get
// through), and the status page, admin API, metrics and health live on
// the private one.
func TestPrivateAddressKeepsEverythingButTheWebhookOffThePublicListener(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(cfg *app.Config) { cfg.Server.PrivateAddress = "127.0.0.1:0" })
	if w.App.URL == w.App.PrivateURL {
		t.Fatal("one listener for both sides")
	}
	token := w.App.Config.Server.AdminToken.Value()
	get := func(base, path string, auth bool) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/", "/metrics", "/healthz", "/readyz", "/api/v1/pipelines", "/api/v1/audit"} {
		if code := get(w.App.URL, path, true); code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			t.Errorf("public GET %s = %d, want it not served", path, code)
		}
		if code := get(w.App.PrivateURL, path, true); code != http.StatusOK {
			t.Errorf("private GET %s = %d, want 200", path, code)
		}
	}
	// GitHub still reaches the webhook on the public listener.
	pr, head := w.catalogPR("onboard", oneService)
	if c := w.check(w.ConfigRepo, head, gh.CheckPlan); c.Conclusion != "success" {
		t.Errorf("PR #%d's plan = %s %q: the webhook did not get through", pr, c.Conclusion, c.Title)
	}
	if resp, err := http.Post(w.App.URL+"/api/github/hook", "application/json", strings.NewReader("{}")); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned POST to the public webhook = %v, %v; want 401", resp.StatusCode, err)
	}
}

// TestStatusPageCanRequireAToken serves everything on one address with
// server.status_requires_token: the page asks a browser for a token, and
// shows with one.
func TestStatusPageCanRequireAToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(cfg *app.Config) { cfg.Server.StatusRequiresToken = true })
	resp, err := http.Get(w.App.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("GET / without a token = %d %q, want 401 asking for Basic credentials", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, w.App.URL+"/", nil)
	req.SetBasicAuth("operator", w.App.Config.Server.AdminToken.Value())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET / with the token = %d, want 200", resp.StatusCode)
	}
}
