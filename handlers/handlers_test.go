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
	"io"
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
	if k := w.DeliveryID + "/" + w.Event + "/" + w.Key; !f.seen[k] {
		f.seen[k] = true
		f.work = append(f.work, w)
	}
	return nil
}

func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(webhooksDir, name))
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
	configRepo    = "acme/platform-config"
	pipelinesRepo = "acme-harness/harness-pipelines"
)

func newDispatcher(rec handlers.Recorder, onInstall func(string)) http.Handler {
	return newDispatcherFor(handlers.Repos{Config: configRepo, Pipelines: pipelinesRepo}, rec, onInstall)
}

// newDispatcherFor is the app's webhook stack for the given repositories.
func newDispatcherFor(repos handlers.Repos, rec handlers.Recorder, onInstall func(string)) http.Handler {
	return handlers.Guard(githubapp.NewEventDispatcher(
		handlers.All(repos, rec, onInstall), secret,
		githubapp.WithScheduler(githubapp.DefaultScheduler()),
		githubapp.WithErrorCallback(handlers.ErrorCallback),
	))
}

func TestHandlersRouteEveryFixture(t *testing.T) {
	// Commits of the captured scenario (see capturePayloads).
	const (
		configMain    = "71f35ade6ac80a5ca6c0ee3fdd453c73fb1a07b3" // config main after the direct push
		configBefore  = "9bf24a95e5ed69a51ec50ed4767673e7db1a2270" // config main before it
		prFirstHead   = "544ead043ff0e985cda845c6fd9ebf054a930ead" // config PR #1 when opened
		prHead        = "7fefd9e84700502142dc8224737bf96dddf7f513" // config PR #1 after its second commit
		pipelinesMain = "cfa7a5e39e26de188b2704c04065fae427a25095" // pipelines main before the bot PR merged
		templateHead  = "28ba0e59a3352b45bbb14bd9b031e3eed6031450" // template PR #1 on the pipelines repo
		botHead       = "f29d8a5a0f5b685dccac4978f46f58907b2f4665" // bot PR #2 when merged
		botMerge      = "4b7f654ef878fc1c6665340cd3a9ed5d115c0445" // its merge commit, pipelines main after
		release       = "50071e638706e479789597de4672c21357d938ba" // the config repo's release branch
		forkHead      = "5cda8ef343aa74d62644968e8a6d4bf0adbc1047" // a fork's pipeline-orchestrator/sync branch
		configInst    = 1004
		pipelinesInst = 1006
	)
	tests := []struct {
		name      string
		event     string
		body      []byte
		wantCode  int
		want      []handlers.Work
		wantOwner string
	}{{
		name: "push to the config repo's default branch proposes", event: "push",
		body: fixture(t, "push.config-default-branch.json"), wantCode: 200,
		want: []handlers.Work{{Event: "push", Lane: pipelinesRepo, Key: "propose", Repo: configRepo, Installation: configInst,
			Ref: "main", SHA: configMain, Before: configBefore, Sender: "alice"}},
	}, {
		name: "push to the pipelines repo's default branch applies", event: "push",
		body: fixture(t, "push.pipelines-default-branch.json"), wantCode: 200,
		want: []handlers.Work{{Event: "push", Lane: pipelinesRepo, Key: "apply", Repo: pipelinesRepo, Installation: pipelinesInst,
			Ref: "main", SHA: botMerge, Before: pipelinesMain, Sender: "alice"}},
	}, {
		name: "push of a tag is ignored", event: "push",
		body: fixture(t, "push.config-tag.json"), wantCode: 200,
	}, {
		name: "push to another branch is ignored", event: "push",
		body: fixture(t, "push.config-other-branch.json"), wantCode: 200,
	}, {
		name: "deleting another branch is ignored", event: "push",
		body: fixture(t, "push.config-branch-deleted.json"), wantCode: 200,
	}, {
		name: "a deleted default branch is ignored", event: "push",
		body: edit(t, fixture(t, "push.config-branch-deleted.json"), func(m map[string]any) { m["ref"] = "refs/heads/main" }), wantCode: 200,
	}, {
		name: "push to an unconfigured repository is ignored", event: "push",
		body: fixture(t, "push.other-repo.json"), wantCode: 200,
	}, {
		name: "opened config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.opened.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "opened", Lane: configRepo, Key: "preview:" + prFirstHead, Repo: configRepo,
			Installation: configInst, Ref: "main", SHA: prFirstHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "synchronized config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.synchronize.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "synchronize", Lane: configRepo, Key: "preview:" + prHead, Repo: configRepo,
			Installation: configInst, Ref: "main", SHA: prHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "reopened config PR is previewed", event: "pull_request",
		body: fixture(t, "pull_request.reopened.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "reopened", Lane: configRepo, Key: "preview:" + prHead, Repo: configRepo,
			Installation: configInst, Ref: "main", SHA: prHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "closed config PR needs nothing", event: "pull_request",
		body: fixture(t, "pull_request.closed.json"), wantCode: 200,
	}, {
		name: "merged config PR needs nothing (its push does)", event: "pull_request",
		body: fixture(t, "pull_request.closed-merged.json"), wantCode: 200,
	}, {
		name: "template PR on the pipelines repo is previewed", event: "pull_request",
		body: fixture(t, "pull_request.opened-template.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "opened", Lane: pipelinesRepo, Key: "preview:" + templateHead, Repo: pipelinesRepo,
			Installation: pipelinesInst, Ref: "main", SHA: templateHead, Before: pipelinesMain, PR: 1, Sender: "alice"}},
	}, {
		name: "the bot PR's own opening is ignored", event: "pull_request",
		body: fixture(t, "pull_request.opened-bot.json"), wantCode: 200,
	}, {
		name: "the bot PR's own synchronize is ignored", event: "pull_request",
		body: fixture(t, "pull_request.synchronize-bot.json"), wantCode: 200,
	}, {
		name: "a label on the open bot PR is ignored until it merges", event: "pull_request",
		body: fixture(t, "pull_request.labeled-open-bot.json"), wantCode: 200,
	}, {
		name: "the bot PR merged is recorded", event: "pull_request",
		body: fixture(t, "pull_request.closed-merged-bot.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "closed", Lane: pipelinesRepo, Key: "botpr", Repo: pipelinesRepo,
			Installation: pipelinesInst, Ref: "main", SHA: botHead, Before: pipelinesMain, PR: 2, Sender: "alice"}},
	}, {
		name: "mass-delete label on the merged bot PR re-runs apply", event: "pull_request",
		body: fixture(t, "pull_request.labeled-merged-bot.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "labeled", Lane: pipelinesRepo, Key: "apply", Repo: pipelinesRepo,
			Installation: pipelinesInst, Ref: "main", SHA: botMerge, Before: pipelinesMain, PR: 2, Sender: "alice"}},
	}, {
		name: "automatic check suite is ignored", event: "check_suite",
		body: fixture(t, "check_suite.requested.json"), wantCode: 200,
	}, {
		name: "re-requested check suite is previewed", event: "check_suite",
		body: fixture(t, "check_suite.rerequested.json"), wantCode: 200,
		want: []handlers.Work{{Event: "check_suite", Action: "rerequested", Lane: configRepo, Key: "preview:" + prHead, Repo: configRepo,
			Installation: configInst, Ref: "main", SHA: prHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "re-run of all checks on the config repo's default branch proposes", event: "check_suite",
		body: fixture(t, "check_suite.rerequested-default-branch.json"), wantCode: 200,
		want: []handlers.Work{{Event: "check_suite", Action: "rerequested", Lane: pipelinesRepo, Key: "propose", Repo: configRepo,
			Installation: configInst, Ref: "main", SHA: configMain, Before: configBefore, Sender: "alice"}},
	}, {
		name: "re-run of all checks on the pipelines repo's default branch applies and reconciles", event: "check_suite",
		body: fixture(t, "check_suite.rerequested-pipelines-default-branch.json"), wantCode: 200,
		want: []handlers.Work{
			{Event: "check_suite", Action: "rerequested", Lane: pipelinesRepo, Key: "apply", Repo: pipelinesRepo,
				Installation: pipelinesInst, Ref: "main", SHA: botMerge, Before: pipelinesMain, Sender: "alice"},
			{Event: "check_suite", Action: "rerequested", Lane: pipelinesRepo, Key: "reconcile", Repo: pipelinesRepo,
				Installation: pipelinesInst, Ref: "main", SHA: botMerge, Before: pipelinesMain, Sender: "alice"}},
	}, {
		name: "a PR whose base changed is previewed again", event: "pull_request",
		body: fixture(t, "pull_request.edited-base.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "edited", Lane: configRepo, Key: "preview:" + prHead, Repo: configRepo,
			Installation: configInst, Ref: "release", SHA: prHead, Before: release, PR: 1, Sender: "alice"}},
	}, {
		name: "a PR edited without a new base is ignored", event: "pull_request",
		body: edit(t, fixture(t, "pull_request.edited-base.json"), func(m map[string]any) {
			delete(m, "changes")
		}), wantCode: 200,
	}, {
		name: "a fork's PR from a branch named like the sync branch is not the bot PR", event: "pull_request",
		body: fixture(t, "pull_request.opened-fork-sync.json"), wantCode: 200,
		want: []handlers.Work{{Event: "pull_request", Action: "opened", Lane: pipelinesRepo, Key: "preview:" + forkHead, Repo: pipelinesRepo,
			Installation: pipelinesInst, Ref: "main", SHA: forkHead, Before: botMerge, PR: 3, Sender: "mallory"}},
	}, {
		name: "re-run of a check run the app does not name is ignored", event: "check_run",
		body: edit(t, fixture(t, "check_run.rerequested.json"), func(m map[string]any) {
			obj(m, "check_run")["name"] = "ci/lint"
		}), wantCode: 200,
	}, {
		name: "re-run of the plan check run is previewed", event: "check_run",
		body: fixture(t, "check_run.rerequested.json"), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: configRepo, Key: "preview:" + prHead,
			Repo: configRepo, Installation: configInst, Ref: "main", SHA: prHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "re-run of the sync check run on the config repo proposes in the pipelines lane", event: "check_run",
		body: edit(t, fixture(t, "check_run.rerequested.json"), func(m map[string]any) {
			obj(m, "check_run")["name"] = "pipeline-orchestrator/sync"
		}), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: pipelinesRepo, Key: "propose",
			Repo: configRepo, Installation: configInst, Ref: "main", SHA: prHead, Before: configMain, PR: 1, Sender: "alice"}},
	}, {
		name: "re-run of the harness check run applies", event: "check_run",
		body: fixture(t, "check_run.rerequested-harness.json"), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: pipelinesRepo, Key: "apply",
			Repo: pipelinesRepo, Installation: pipelinesInst, Ref: "main", SHA: pipelinesMain, Sender: "alice"}},
	}, {
		name: "re-run of the drift check run reconciles", event: "check_run",
		body: edit(t, fixture(t, "check_run.rerequested-harness.json"), func(m map[string]any) {
			obj(m, "check_run")["name"] = "pipeline-orchestrator/drift"
		}), wantCode: 200,
		want: []handlers.Work{{Event: "check_run", Action: "rerequested", Lane: pipelinesRepo, Key: "reconcile",
			Repo: pipelinesRepo, Installation: pipelinesInst, Ref: "main", SHA: pipelinesMain, Sender: "alice"}},
	}, {
		name: "a requested action is ignored (the app offers none)", event: "check_run",
		body: fixture(t, "check_run.requested_action.json"), wantCode: 200,
	}, {
		name: "installing the App on the config repo's owner catches up", event: "installation",
		body: fixture(t, "installation.created.json"), wantCode: 200, wantOwner: "acme",
		want: []handlers.Work{
			{Event: "installation", Action: "created", Lane: pipelinesRepo, Key: "propose", Repo: configRepo, Installation: configInst, Sender: "alice"},
			{Event: "installation", Action: "created", Lane: pipelinesRepo, Key: "apply", Repo: configRepo, Installation: configInst, Sender: "alice"}},
	}, {
		name: "installing the App on another owner only refreshes the cache", event: "installation",
		body: edit(t, fixture(t, "installation.created.json"), func(m map[string]any) {
			obj(m, "installation", "account")["login"] = "someone-else"
		}), wantCode: 200, wantOwner: "someone-else",
	}, {
		name: "installation deleted refreshes the cache", event: "installation",
		body: fixture(t, "installation.deleted.json"), wantCode: 200, wantOwner: "acme-harness",
	}, {
		name: "a repository the App does not serve added refreshes the cache", event: "installation_repositories",
		body: fixture(t, "installation_repositories.added.json"), wantCode: 200, wantOwner: "acme",
	}, {
		name: "the config repo added to an installation catches up", event: "installation_repositories",
		body: edit(t, fixture(t, "installation_repositories.added.json"), func(m map[string]any) {
			added := m["repositories_added"].([]any)
			added[0].(map[string]any)["full_name"] = configRepo
		}), wantCode: 200, wantOwner: "acme",
		want: []handlers.Work{
			{Event: "installation_repositories", Action: "added", Lane: pipelinesRepo, Key: "propose", Repo: configRepo, Installation: configInst, Sender: "alice"},
			{Event: "installation_repositories", Action: "added", Lane: pipelinesRepo, Key: "apply", Repo: configRepo, Installation: configInst, Sender: "alice"}},
	}, {
		name: "repositories removed refresh the cache", event: "installation_repositories",
		body: fixture(t, "installation_repositories.removed.json"), wantCode: 200, wantOwner: "acme-harness",
	}, {
		name: "ping is answered", event: "ping", body: []byte(`{"zen":"Record, then answer.","hook_id":1}`), wantCode: 200,
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
	body := fixture(t, "push.config-default-branch.json")
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

// spaces is a request body of n JSON spaces, made as it is read, that
// counts how many bytes were read.
type spaces struct {
	left, read int64
}

func (b *spaces) Read(p []byte) (int, error) {
	if b.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), b.left)
	for i := range p[:n] {
		p[i] = ' '
	}
	b.left -= n
	b.read += n
	return int(n), nil
}

// bigRequest is a signed push delivery whose body is n spaces. A
// contentLength of -1 sends it without a Content-Length.
func bigRequest(tb testing.TB, body *spaces, contentLength int64) *http.Request {
	tb.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	if _, err := io.Copy(mac, &spaces{left: body.left}); err != nil {
		tb.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, githubapp.DefaultWebhookRoute, body)
	req.ContentLength = contentLength
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "big")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

func TestOversizedBodyIsRefusedUnread(t *testing.T) {
	tests := map[string]struct {
		size, contentLength int64
		maxRead             int64
	}{
		// A Content-Length over the cap is answered before the body is read.
		"announced by Content-Length": {size: handlers.MaxPayloadBytes + 1, contentLength: handlers.MaxPayloadBytes + 1, maxRead: 0},
		// Without one, reading stops just past the cap (MaxBytesReader
		// asks for one byte more to see that the body goes on).
		"streamed without Content-Length": {size: 2 * handlers.MaxPayloadBytes, contentLength: -1, maxRead: handlers.MaxPayloadBytes + 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := &fakeRecorder{}
			body := &spaces{left: tc.size}
			w := httptest.NewRecorder()
			newDispatcher(rec, nil).ServeHTTP(w, bigRequest(t, body, tc.contentLength))
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413", w.Code)
			}
			if body.read > tc.maxRead {
				t.Errorf("read %d bytes of a %d-byte body, want at most %d", body.read, tc.size, tc.maxRead)
			}
			if len(rec.work) != 0 {
				t.Errorf("recorded %d work items, want none", len(rec.work))
			}
		})
	}
}

func TestRecordingFailureIs500(t *testing.T) {
	rec := &fakeRecorder{err: errors.New("disk full")}
	if code := send(t, newDispatcher(rec, nil), delivery{event: "push", body: fixture(t, "push.config-default-branch.json")}); code != 500 {
		t.Errorf("status = %d, want 500 so GitHub marks the delivery failed", code)
	}
}

// TestOverlongDeliveryIDIsRefused keeps an unbounded value out of every
// log line of a run: GitHub's delivery ids are GUIDs.
func TestOverlongDeliveryIDIsRefused(t *testing.T) {
	rec := &fakeRecorder{}
	h := newDispatcher(rec, nil)
	body := fixture(t, "push.config-default-branch.json")
	if code := send(t, h, delivery{event: "push", id: strings.Repeat("a", handlers.MaxDeliveryIDBytes+1), body: body}); code != http.StatusBadRequest {
		t.Errorf("status = %d, want 400", code)
	}
	if code := send(t, h, delivery{event: "push", id: "72d3162e-cc78-11e3-81ab-4c9367dc0958", body: body}); code != http.StatusOK {
		t.Errorf("a GUID delivery id: status = %d, want 200", code)
	}
	if len(rec.work) != 1 {
		t.Errorf("recorded %d work items, want only the GUID one", len(rec.work))
	}
}
