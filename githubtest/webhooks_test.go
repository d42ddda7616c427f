package githubtest_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

func TestWebhooksAreSignedAndDecodeWithGoGitHub(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	inst := s.AddInstallation("acme")
	initial := s.CreateRepo("acme", "platform", "main", map[string]string{"catalog/services.yaml": "services: []\n", "old.txt": "old\n"})
	const repo = "acme/platform"

	c1 := s.Commit(repo, "feature", "add a service", map[string]*string{
		"catalog/services.yaml": ptr("services:\n  - name: a\n"),
		"new.txt":               ptr("new\n"),
		"old.txt":               nil,
	})
	n := s.OpenPR(repo, "feature", "main", "Add a", "body")
	c2 := s.Commit(repo, "feature", "second", map[string]*string{"new.txt": ptr("newer\n")})
	s.AddLabel(repo, n, "catalog")
	merged, err := s.MergePR(repo, n, "merge")
	if err != nil {
		t.Fatal(err)
	}
	s.WaitIdle()

	want := []string{
		"push", "check_suite/requested", "pull_request/opened",
		"push", "check_suite/requested", "pull_request/synchronize",
		"pull_request/labeled",
		"push", "check_suite/requested", "pull_request/closed",
	}
	if diff := cmp.Diff(want, rc.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	got := rc.received()
	guids := map[string]bool{}
	for _, r := range got {
		guids[r.GUID] = true
		if r.Header.Get("X-GitHub-Hook-Installation-Target-Type") != "integration" ||
			!strings.HasPrefix(r.Header.Get("User-Agent"), "GitHub-Hookshot/") ||
			r.Header.Get("X-GitHub-Hook-ID") == "" ||
			r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s headers = %v", r.Event, r.Header)
		}
	}
	if len(guids) != len(got) {
		t.Errorf("%d distinct GUIDs for %d deliveries", len(guids), len(got))
	}

	push := got[0].Parsed.(*github.PushEvent)
	if push.GetRef() != "refs/heads/feature" || push.GetBefore() != strings.Repeat("0", 40) || push.GetAfter() != c1 ||
		!push.GetCreated() || push.GetDeleted() || push.GetForced() || push.GetInstallation().GetID() != inst ||
		push.GetRepo().GetFullName() != repo || push.GetRepo().GetDefaultBranch() != "main" || push.GetRepo().GetOwner().GetLogin() != "acme" ||
		push.GetSender().GetLogin() != "octocat" || push.GetPusher().GetName() != "octocat" || push.GetHeadCommit().GetID() != c1 {
		t.Errorf("push event = %s", got[0].Payload)
	}
	if len(push.Commits) != 1 {
		t.Fatalf("push commits = %d, want 1", len(push.Commits))
	}
	pc := push.Commits[0]
	if diff := cmp.Diff([]string{"new.txt"}, pc.Added); diff != "" {
		t.Errorf("added (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"old.txt"}, pc.Removed); diff != "" {
		t.Errorf("removed (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"catalog/services.yaml"}, pc.Modified); diff != "" {
		t.Errorf("modified (-want +got):\n%s", diff)
	}
	if !pc.GetDistinct() || pc.GetTreeID() == "" || pc.GetMessage() != "add a service" {
		t.Errorf("push commit = %+v", pc)
	}

	suite := got[1].Parsed.(*github.CheckSuiteEvent)
	if suite.GetCheckSuite().GetHeadSHA() != c1 || suite.GetCheckSuite().GetHeadBranch() != "feature" || suite.GetInstallation().GetID() != inst {
		t.Errorf("check_suite = %s", got[1].Payload)
	}
	opened := got[2].Parsed.(*github.PullRequestEvent)
	if opened.GetNumber() != n || opened.GetPullRequest().GetHead().GetSHA() != c1 || opened.GetPullRequest().GetBase().GetRef() != "main" ||
		opened.GetPullRequest().GetUser().GetLogin() != "octocat" || opened.GetRepo().GetFullName() != repo {
		t.Errorf("opened = %s", got[2].Payload)
	}
	sync := got[5].Parsed.(*github.PullRequestEvent)
	if sync.GetBefore() != c1 || sync.GetAfter() != c2 || sync.GetPullRequest().GetHead().GetSHA() != c2 {
		t.Errorf("synchronize before %s after %s", sync.GetBefore(), sync.GetAfter())
	}
	labeled := got[6].Parsed.(*github.PullRequestEvent)
	if labeled.GetLabel().GetName() != "catalog" {
		t.Errorf("labeled label = %v", labeled.GetLabel())
	}
	mainPush := got[7].Parsed.(*github.PushEvent)
	if mainPush.GetRef() != "refs/heads/main" || mainPush.GetBefore() != initial || mainPush.GetAfter() != merged || mainPush.GetCreated() {
		t.Errorf("main push = before %s after %s", mainPush.GetBefore(), mainPush.GetAfter())
	}
	closed := got[9].Parsed.(*github.PullRequestEvent)
	if !closed.GetPullRequest().GetMerged() || closed.GetPullRequest().GetMergeCommitSHA() != merged || closed.GetPullRequest().GetState() != "closed" {
		t.Errorf("closed = merged %v sha %s", closed.GetPullRequest().GetMerged(), closed.GetPullRequest().GetMergeCommitSHA())
	}
	for _, d := range s.Deliveries() {
		if !d.Delivered() || len(d.Attempts) != 1 || d.Attempts[0].Status != "OK" {
			t.Errorf("delivery %s %s: %+v", d.Event, d.Action, d.Attempts)
		}
	}
}

func TestCheckRunEventsAndRerequest(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	inst := s.AddInstallation("acme")
	head := s.CreateRepo("acme", "platform", "main", nil)
	c := installationClient(t, s, inst)
	ctx := context.Background()
	run, _, err := c.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{Name: "plan", HeadSHA: head, Status: ptr("in_progress")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Checks.UpdateCheckRun(ctx, "acme", "platform", run.GetID(), github.UpdateCheckRunOptions{Name: "plan", Conclusion: ptr("success")}); err != nil {
		t.Fatal(err)
	}
	s.RerequestCheckRun("acme/platform", run.GetID())
	if err := s.RerequestCheckSuite("acme/platform", head); err != nil {
		t.Fatal(err)
	}
	s.WaitIdle()
	want := []string{"check_run/created", "check_run/completed", "check_suite/completed", "check_run/rerequested", "check_suite/rerequested"}
	if diff := cmp.Diff(want, rc.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	got := rc.received()
	rerun := got[3].Parsed.(*github.CheckRunEvent)
	if rerun.GetCheckRun().GetID() != run.GetID() || rerun.GetCheckRun().GetHeadSHA() != head || rerun.GetCheckRun().GetCheckSuite().GetHeadBranch() != "main" || rerun.GetSender().GetLogin() != "octocat" {
		t.Errorf("rerequested = %s", got[3].Payload)
	}
	done := got[2].Parsed.(*github.CheckSuiteEvent)
	if done.GetCheckSuite().GetConclusion() != "success" {
		t.Errorf("suite conclusion = %q", done.GetCheckSuite().GetConclusion())
	}
}

type recordingHandler struct {
	mu  sync.Mutex
	got []string
}

func (h *recordingHandler) Handles() []string { return []string{"push", "pull_request", "check_suite"} }

func (h *recordingHandler) Handle(_ context.Context, eventType, deliveryID string, _ []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, eventType+" "+deliveryID)
	return nil
}

func TestGoGitHubAppDispatcherAcceptsDeliveries(t *testing.T) {
	h := &recordingHandler{}
	app := httptest.NewServer(githubapp.NewEventDispatcher([]githubapp.EventHandler{h}, testSecret))
	t.Cleanup(app.Close)
	s := newServer(t)
	s.SetWebhookURL(app.URL)
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.Commit("acme/platform", "main", "change", map[string]*string{"a": ptr("a\n")})
	s.WaitIdle()
	ds := s.Deliveries()
	if len(ds) != 2 {
		t.Fatalf("deliveries = %d, want 2", len(ds))
	}
	var want []string
	for _, d := range ds {
		if d.Attempts[0].StatusCode != http.StatusOK {
			t.Errorf("%s answered %d", d.Event, d.Attempts[0].StatusCode)
		}
		want = append(want, d.Event+" "+d.GUID)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if diff := cmp.Diff(want, h.got); diff != "" {
		t.Errorf("handled (-want +got):\n%s", diff)
	}
}

func TestNoWebhooksWithoutInstallation(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	s.CreateRepo("stranger", "repo", "main", nil)
	s.Commit("stranger/repo", "main", "x", map[string]*string{"a": ptr("a")})
	s.WaitIdle()
	if n := len(s.Deliveries()); n != 0 {
		t.Errorf("deliveries = %d, want 0", n)
	}
}

func TestManualDeliveryRedeliveryAndOrder(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) {
		o.WebhookURL = rc.URL()
		o.Delivery = githubtest.DeliverManually
	})
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	for i := 0; i < 4; i++ {
		s.Commit("acme/platform", "main", "change", map[string]*string{"f": ptr(strings.Repeat("x", i+1))})
	}
	created := s.Pending()
	if len(created) != 8 || len(rc.received()) != 0 {
		t.Fatalf("pending %d, received %d; want 8 queued and none sent", len(created), len(rc.received()))
	}

	s.ShufflePending(3)
	shuffled := s.Pending()
	var order, original []string
	for i := range shuffled {
		order = append(order, shuffled[i].GUID)
		original = append(original, created[i].GUID)
	}
	if cmp.Equal(order, original) {
		t.Fatalf("ShufflePending(3) kept the order")
	}
	attempts := s.DeliverAll()
	if len(attempts) != 8 || len(s.Pending()) != 0 {
		t.Fatalf("DeliverAll sent %d, %d left", len(attempts), len(s.Pending()))
	}
	var arrived []string
	for _, r := range rc.received() {
		arrived = append(arrived, r.GUID)
	}
	if diff := cmp.Diff(order, arrived); diff != "" {
		t.Errorf("arrival order (-want +got):\n%s", diff)
	}

	// A redelivery carries the same GUID and is marked as one.
	first := created[0]
	a, err := s.Redeliver(first.GUID)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Redelivery || a.StatusCode != http.StatusOK {
		t.Errorf("redelivery attempt = %+v", a)
	}
	last := rc.received()[len(rc.received())-1]
	if last.GUID != first.GUID || string(last.Payload) != string(first.Payload) {
		t.Errorf("redelivered GUID %s, want %s", last.GUID, first.GUID)
	}
	d, _ := s.Delivery(first.GUID)
	if len(d.Attempts) != 2 {
		t.Errorf("attempts = %d, want 2", len(d.Attempts))
	}

	// A failed delivery is recorded and not retried.
	rc.setStatus(http.StatusInternalServerError)
	s.Commit("acme/platform", "main", "one more", map[string]*string{"g": ptr("g")})
	pending := s.Pending()
	a, err = s.Deliver(pending[0].GUID)
	if err != nil {
		t.Fatal(err)
	}
	if a.StatusCode != 500 || a.Status != "Invalid HTTP Response: 500" {
		t.Errorf("failed attempt = %+v", a)
	}
	if _, err := s.Deliver(pending[0].GUID); err == nil {
		t.Errorf("Deliver of an already sent delivery succeeded")
	}

	// The App deliveries API lists attempts and redelivers by attempt id.
	app := appClient(t, s)
	ctx := context.Background()
	list, _, err := app.Apps.ListHookDeliveries(ctx, &github.ListCursorOptions{PerPage: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 5 || list[0].GetGUID() != pending[0].GUID || list[0].GetStatusCode() != 500 || list[0].GetStatus() != "Invalid HTTP Response: 500" {
		t.Fatalf("newest delivery = %+v", list[0])
	}
	_, _, err = app.Apps.RedeliverHookDelivery(ctx, list[0].GetID())
	var accepted *github.AcceptedError
	if !errors.As(err, &accepted) {
		t.Fatalf("RedeliverHookDelivery = %v, want 202 Accepted", err)
	}
	if p := s.Pending(); len(p) != 2 || p[1].GUID != pending[0].GUID {
		t.Errorf("pending after API redelivery = %d", len(p))
	}
}

// TestSlowReceiverTimesOut checks GitHub's delivery timeout: an answer
// that comes too late is a failed delivery, "timed out", never retried.
func TestSlowReceiverTimesOut(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	defer close(release)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = slow.URL; o.DeliveryTimeout = 50 * time.Millisecond })
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	s.Commit("acme/platform", "main", "x", map[string]*string{"x": ptr("x")})
	s.WaitIdle()
	for _, d := range s.Deliveries() {
		if len(d.Attempts) != 1 || d.Attempts[0].Status != "timed out" || d.Delivered() {
			t.Errorf("%s delivery attempts = %+v, want one that timed out", d.Event, d.Attempts)
		}
	}
}
