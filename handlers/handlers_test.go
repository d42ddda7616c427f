package handlers_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
)

const secret = "test-webhook-secret"

// fakeRecorder keeps recorded work in memory, deduplicated like the store.
type fakeRecorder struct {
	mu   sync.Mutex
	work []handlers.Work
	seen map[string]bool
	err  error
}

func (f *fakeRecorder) Record(_ context.Context, w handlers.Work) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if k := w.DeliveryID + "/" + w.Event; !f.seen[k] {
		f.seen[k] = true
		f.work = append(f.work, w)
	}
	return nil
}

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "github-webhooks", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// edit decodes a payload, lets fn change it and encodes it again.
func edit(tb testing.TB, payload []byte, fn func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		tb.Fatal(err)
	}
	fn(m)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

type delivery struct {
	event   string
	id      string
	body    []byte
	headers map[string]string // overrides; "" deletes
}

func send(tb testing.TB, h http.Handler, d delivery) int {
	tb.Helper()
	req := httptest.NewRequest(http.MethodPost, githubapp.DefaultWebhookRoute, bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", d.event)
	id := d.id
	if id == "" {
		id = "delivery-" + d.event
	}
	req.Header.Set("X-GitHub-Delivery", id)
	req.Header.Set("X-Hub-Signature-256", sign(d.body))
	for k, v := range d.headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

const (
	configRepo    = "Codertocat/Hello-World"
	pipelinesRepo = "company-harness/harness-pipelines"
)

func newDispatcher(rec handlers.Recorder, onInstall func(string)) http.Handler {
	repos := handlers.Repos{Config: configRepo, Pipelines: pipelinesRepo}
	return handlers.Guard(githubapp.NewEventDispatcher(
		handlers.All(repos, rec, onInstall), secret,
		githubapp.WithScheduler(githubapp.DefaultScheduler()),
		githubapp.WithErrorCallback(handlers.ErrorCallback),
	))
}

// asPipelinesRepo moves a payload to the pipelines repository.
func asPipelinesRepo(m map[string]any) {
	obj(m, "repository")["full_name"] = pipelinesRepo
}

func TestHandlersRouteEveryFixture(t *testing.T) {
	headSHA := "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	tests := []struct {
		name      string
		event     string
		body      []byte
		wantCode  int
		want      []handlers.Work
		wantOwner string
	}{{
		name: "push to the config repo's default branch proposes", event: "push",
		body: fixture(t, "push.json"), wantCode: 200,
		want: []handlers.Work{{Event: "push", Lane: pipelinesRepo, Key: "propose", Repo: configRepo, Installation: 1,
			Ref: "master", SHA: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", Before: "0000000000000000000000000000000000000000", Sender: "Codertocat"}},
	}, {
		name: "push to the pipelines repo's default branch applies", event: "push",
		body: edit(t, fixture(t, "push.json"), asPipelinesRepo), wantCode: 200,
		want: []handlers.Work{{Event: "push", Lane: pipelinesRepo, Key: "apply", Repo: pipelinesRepo, Installation: 1,
			Ref: "master", SHA: "6113728f27ae82c7b1a177c8d03f9e96e0adf246", Before: "0000000000000000000000000000000000000000", Sender: "Codertocat"}},
	}, {
		name: "push of a tag is ignored", event: "push",
		body: fixture(t, "push.deleted-tag.json"), wantCode: 200,
	}, {
		name: "push to another branch is ignored", event: "push",
		body: edit(t, fixture(t, "push.json"), func(m map[string]any) { m["ref"] = "refs/heads/feature" }), wantCode: 200,
	}, {
		name: "push to an unconfigured repository is ignored", event: "push",
		body: edit(t, fixture(t, "push.json"), func(m map[string]any) { obj(m, "repository")["full_name"] = "someone/else" }), wantCode: 200,
	}, {
		name: "opened config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.opened.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "opened", Lane: configRepo, Key: "preview:" + headSHA, Repo: configRepo,
			Installation: 1, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "synchronized config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.synchronize.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "synchronize", Lane: configRepo, Key: "preview:" + headSHA, Repo: configRepo,
			Installation: 1, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "reopened config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.reopened.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "reopened", Lane: configRepo, Key: "preview:" + headSHA, Repo: configRepo,
			Installation: 1, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "closed config PR needs nothing", event: "pull_request",
		body: fixture(t, "pull_request.closed.json"), wantCode: 200,
	}, {
		name: "merged config PR needs nothing (its push does)", event: "pull_request",
		body: fixture(t, "pull_request.closed-merged.derived.json"), wantCode: 200,
	}, {
		name: "template PR on the pipelines repo is previewed", event: "pull_request",
		body: edit(t, fixture(t, "pull_request.opened.json"), asPipelinesRepo), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "opened", Lane: pipelinesRepo, Key: "preview:" + headSHA, Repo: pipelinesRepo,
			Installation: 1, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "the bot PR's own synchronize is ignored", event: "pull_request",
		body: edit(t, fixture(t, "pull_request.synchronize.json"), func(m map[string]any) {
			asPipelinesRepo(m)
			obj(m, "pull_request", "head")["ref"] = "pipeline-orchestrator/sync"
		}), wantCode: 200,
	}, {
		name: "the bot PR merged is recorded", event: "pull_request",
		body: edit(t, fixture(t, "pull_request.closed-merged.derived.json"), func(m map[string]any) {
			asPipelinesRepo(m)
			obj(m, "pull_request", "head")["ref"] = "pipeline-orchestrator/sync"
		}), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "closed", Lane: pipelinesRepo, Key: "botpr", Repo: pipelinesRepo,
			Installation: 1, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "mass-delete label on the merged bot PR re-runs apply", event: "pull_request",
		body: edit(t, fixture(t, "pull_request.closed-merged.derived.json"), func(m map[string]any) {
			asPipelinesRepo(m)
			m["action"] = "labeled"
			obj(m, "pull_request", "head")["ref"] = "pipeline-orchestrator/sync"
		}), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "labeled", Lane: pipelinesRepo, Key: "apply", Repo: pipelinesRepo,
			Installation: 1, Ref: "master", SHA: "c4295bd74fb0f4fda03689c3df3f2803b658fd85", Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "Codertocat"}},
	}, {
		name: "automatic check suite is ignored", event: "check_suite",
		body: fixture(t, "check_suite.requested.json"), wantCode: 200,
	}, {
		name: "re-requested check suite is previewed", event: "check_suite",
		body: fixture(t, "check_suite.rerequested.json"), wantCode: 200,
		want: []handlers.Work{{Event: "check_suite", Action: "rerequested", Lane: configRepo, Key: "preview:" + headSHA, Repo: configRepo,
			Installation: 957387, Ref: "master", SHA: headSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e", PR: 2, Sender: "octocoders-linter[bot]"}},
	}, {
		name: "re-run of another app's check run is ignored (verbatim payload)", event: "check_run",
		body: fixture(t, "check_run.rerequested.json"), wantCode: 200,
	}, {
		name: "re-run of the plan check run is previewed", event: "check_run",
		body: edit(t, fixture(t, "check_run.rerequested.normalized.json"), func(m map[string]any) {
			obj(m, "check_run")["name"] = "pipeline-orchestrator/plan"
			obj(m, "repository")["full_name"] = configRepo
		}), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: configRepo, Key: "preview:d6fde92930d4715a2b49857d24b940956b26d2d3",
			Repo: configRepo, Installation: 1, Ref: "master", SHA: "d6fde92930d4715a2b49857d24b940956b26d2d3", Sender: "octocat"}},
	}, {
		name: "re-run of the harness check run applies", event: "check_run",
		body: edit(t, fixture(t, "check_run.rerequested.normalized.json"), func(m map[string]any) {
			obj(m, "check_run")["name"] = "pipeline-orchestrator/harness"
			asPipelinesRepo(m)
		}), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: pipelinesRepo, Key: "apply",
			Repo: pipelinesRepo, Installation: 1, Ref: "master", SHA: "d6fde92930d4715a2b49857d24b940956b26d2d3", Sender: "octocat"}},
	}, {
		name: "a requested action is ignored (the app offers none)", event: "check_run",
		body: fixture(t, "check_run.requested_action.json"), wantCode: 200,
	}, {
		name: "installation created refreshes the cache", event: "installation",
		body: fixture(t, "installation.created.json"), wantCode: 200, wantOwner: "Codertocat",
	}, {
		name: "installation deleted refreshes the cache", event: "installation",
		body: fixture(t, "installation.deleted.json"), wantCode: 200, wantOwner: "octocat",
	}, {
		name: "repositories added refresh the cache", event: "installation_repositories",
		body: fixture(t, "installation_repositories.added.json"), wantCode: 200, wantOwner: "Codertocat",
	}, {
		name: "repositories removed refresh the cache", event: "installation_repositories",
		body: fixture(t, "installation_repositories.removed.json"), wantCode: 200, wantOwner: "octocat",
	}, {
		name: "ping is answered", event: "ping", body: []byte(`{"zen":"Keep it logically awesome."}`), wantCode: 200,
	}, {
		name: "an event the app does not subscribe to is accepted and dropped", event: "issues",
		body: []byte(`{"action":"opened"}`), wantCode: 202,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &fakeRecorder{}
			var owner string
			h := newDispatcher(rec, func(o string) { owner = o })
			if code := send(t, h, delivery{event: tc.event, id: "d-1", body: tc.body}); code != tc.wantCode {
				t.Fatalf("status = %d, want %d", code, tc.wantCode)
			}
			for i := range tc.want {
				tc.want[i].DeliveryID = "d-1"
			}
			if diff := cmp.Diff(tc.want, rec.work); diff != "" {
				t.Errorf("recorded work (-want +got):\n%s", diff)
			}
			if owner != tc.wantOwner {
				t.Errorf("installation change for %q, want %q", owner, tc.wantOwner)
			}
		})
	}
}

func TestWebhookRejections(t *testing.T) {
	body := fixture(t, "push.json")
	sha1sig := func(b []byte) string {
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write(b)
		return "sha1=" + hex.EncodeToString(mac.Sum(nil))
	}
	tests := map[string]struct {
		d        delivery
		wantCode int
	}{
		"wrong signature":   {delivery{event: "push", body: body, headers: map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64)}}, 401},
		"missing signature": {delivery{event: "push", body: body, headers: map[string]string{"X-Hub-Signature-256": ""}}, 401},
		"legacy SHA-1 signature only": {delivery{event: "push", body: body, headers: map[string]string{
			"X-Hub-Signature-256": "", "X-Hub-Signature": sha1sig(body)}}, 401},
		"signature of another body": {delivery{event: "push", body: body, headers: map[string]string{"X-Hub-Signature-256": sign([]byte("{}"))}}, 401},
		"missing event header":      {delivery{event: "", body: body}, 400},
		"missing delivery id":       {delivery{event: "push", body: body, headers: map[string]string{"X-GitHub-Delivery": ""}}, 400},
		"unsupported content type":  {delivery{event: "push", body: body, headers: map[string]string{"Content-Type": "text/plain"}}, 400},
		"malformed JSON":            {delivery{event: "push", body: []byte(`{"ref": `)}, 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &fakeRecorder{}
			if code := send(t, newDispatcher(rec, nil), tc.d); code != tc.wantCode {
				t.Errorf("status = %d, want %d", code, tc.wantCode)
			}
			if len(rec.work) != 0 {
				t.Errorf("recorded %d work items, want none", len(rec.work))
			}
		})
	}
}

func TestOversizedBodyIsRefusedUnread(t *testing.T) {
	rec := &fakeRecorder{}
	h := newDispatcher(rec, nil)
	big := bytes.Repeat([]byte(" "), handlers.MaxPayloadBytes+1)
	if code := send(t, h, delivery{event: "push", body: big}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413", code)
	}
	// Without a Content-Length the limit applies while reading.
	req := httptest.NewRequest(http.MethodPost, githubapp.DefaultWebhookRoute, struct{ *bytes.Reader }{bytes.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "big")
	req.Header.Set("X-Hub-Signature-256", sign(big))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("streamed status = %d, want 413", w.Code)
	}
	if len(rec.work) != 0 {
		t.Errorf("recorded %d work items, want none", len(rec.work))
	}
}

func TestRecordingFailureIs500(t *testing.T) {
	rec := &fakeRecorder{err: errors.New("disk full")}
	if code := send(t, newDispatcher(rec, nil), delivery{event: "push", body: fixture(t, "push.json")}); code != 500 {
		t.Errorf("status = %d, want 500 so GitHub marks the delivery failed", code)
	}
}
