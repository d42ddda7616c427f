package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/web"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

const (
	opsToken = "ops-0123456789abcdef0123456789abcdef"
	ciToken  = "ci-0123456789abcdef0123456789abcdef0"
)

// authServer serves the surfaces with two named tokens, logging JSON to
// log.
func authServer(s *fixedStore, log *bytes.Buffer, statusRequiresToken bool) http.Handler {
	mux := http.NewServeMux()
	web.New(web.Options{
		Store: s, Loop: fixedLoop{}, Enqueue: func(context.Context, work.Kind, string) error { return nil },
		Metrics:    http.NotFoundHandler(),
		ConfigRepo: gh.ParseRepo("company/platform-next"), PipelinesRepo: gh.ParseRepo("company-harness/harness-pipelines"),
		Links: present.Links{Web: "https://github.com"}, Now: func() time.Time { return now },
		Tokens:              []web.Token{{Name: "admin_token", Value: opsToken}, {Name: "ci", Value: ciToken}},
		StatusRequiresToken: statusRequiresToken,
		Log:                 zerolog.New(log),
	}).Routes(mux)
	return mux
}

func logLines(t *testing.T, log *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// TestAdminRequestsAreLoggedAndAuditedByTokenName checks who did what is
// on record: a request with the ci token is logged at info with the
// client's address and the token's name (never the token), its action
// enters the audit log under that name, and a refused request is logged
// at warn.
func TestAdminRequestsAreLoggedAndAuditedByTokenName(t *testing.T) {
	var log bytes.Buffer
	s := &fixedStore{}
	h := authServer(s, &log, false)
	call := func(token string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/reconcile", nil)
		req.RemoteAddr = "198.51.100.7:51000"
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := call(ciToken); code != http.StatusAccepted {
		t.Fatalf("POST /api/v1/reconcile with the ci token = %d", code)
	}
	if code := call("not-a-token-of-this-server-at-all"); code != http.StatusUnauthorized {
		t.Fatalf("POST with a wrong token = %d, want 401", code)
	}
	lines := logLines(t, &log)
	var served, refused map[string]any
	for _, l := range lines {
		switch l["message"] {
		case "admin request":
			served = l
		case "admin request refused":
			refused = l
		}
	}
	if served == nil || served["level"] != "info" || served["token"] != "ci" || served["client_address"] != "198.51.100.7:51000" || served["status"] != float64(202) {
		t.Errorf("served request logged as %v", served)
	}
	if refused == nil || refused["level"] != "warn" || refused["client_address"] != "198.51.100.7:51000" || refused["token"] != nil {
		t.Errorf("refused request logged as %v", refused)
	}
	if strings.Contains(log.String(), ciToken) || strings.Contains(log.String(), "not-a-token-of-this-server") {
		t.Error("a token reached the log")
	}
	if len(s.audited) != 1 || s.audited[0].Actor != "admin-api:ci" || !strings.Contains(s.audited[0].Detail, "198.51.100.7") {
		t.Errorf("audit log = %+v, want the reconcile under admin-api:ci from 198.51.100.7", s.audited)
	}
}

func TestStatusPageAsksABrowserForAToken(t *testing.T) {
	var log bytes.Buffer
	h := authServer(&fixedStore{}, &log, true)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("GET / without a token = %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	for _, auth := range []func(*http.Request){
		func(r *http.Request) { r.SetBasicAuth("anyone", opsToken) },
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+ciToken) },
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		auth(req)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET / with a token = %d, want 200", rec.Code)
		}
	}
}
