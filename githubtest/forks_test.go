package githubtest_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// prIdentity is what tells a pull request's origin apart.
type prIdentity struct {
	HeadRepo, HeadRef, HeadLabel string
	Fork                         bool
	User, UserType               string
}

func identityOf(p *github.PullRequest) prIdentity {
	return prIdentity{
		HeadRepo: p.GetHead().GetRepo().GetFullName(), HeadRef: p.GetHead().GetRef(), HeadLabel: p.GetHead().GetLabel(),
		Fork: p.GetHead().GetRepo().GetFork(), User: p.GetUser().GetLogin(), UserType: p.GetUser().GetType(),
	}
}

// TestForkPRFromTheBotBranchName checks that a pull request from a fork's
// branch named like the App's sync branch shows where it comes from and
// who opened it, and that the App's own pull request shows its bot user.
func TestForkPRFromTheBotBranchName(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "pipelines", "main", map[string]string{"a.yaml": "a\n"})
	const repo, branch = "acme/pipelines", "pipeline-orchestrator/sync"
	ctx := context.Background()
	c := installationClient(t, s, inst)

	// Someone forks the repository.
	fork := s.Fork(repo, "mallory")

	// The App's pull request, from its own branch.
	s.Commit(repo, branch, "sync", map[string]*string{"a.yaml": ptr("bot\n")})
	bot, _, err := c.PullRequests.Create(ctx, "acme", "pipelines", &github.NewPullRequest{
		Title: ptr("Sync"), Head: ptr(branch), Base: ptr("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's, from a branch of the same name in their fork.
	s.Commit(fork, branch, "not the bot", map[string]*string{"a.yaml": ptr("mallory\n")})
	n := s.OpenForkPR(repo, "mallory:"+branch, "main", "Looks like the bot", "")

	other, _, err := c.PullRequests.Get(ctx, "acme", "pipelines", n)
	if err != nil {
		t.Fatal(err)
	}
	want := []prIdentity{
		{HeadRepo: "acme/pipelines", HeadRef: branch, HeadLabel: "acme:" + branch, User: "pipeline-orchestrator[bot]", UserType: "Bot"},
		{HeadRepo: "mallory/pipelines", HeadRef: branch, HeadLabel: "mallory:" + branch, Fork: true, User: "mallory", UserType: "User"},
	}
	if diff := cmp.Diff(want, []prIdentity{identityOf(bot), identityOf(other)}); diff != "" {
		t.Errorf("pull requests (-want +got):\n%s", diff)
	}
	if pr, _ := s.PR(repo, n); pr.HeadRepo != "mallory/pipelines" || pr.User != "mallory" {
		t.Errorf("PR snapshot = head repo %s user %s", pr.HeadRepo, pr.User)
	}

	// Listing by "owner:branch" finds only the App's.
	list, _, err := c.PullRequests.List(ctx, "acme", "pipelines", &github.PullRequestListOptions{Head: "acme:" + branch})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].GetNumber() != bot.GetNumber() {
		t.Errorf("PRs from acme:%s = %d, want only #%d", branch, len(list), bot.GetNumber())
	}

	// A push to the fork's branch synchronizes the fork's PR in the
	// upstream repository, and is merged like any other.
	head := s.Commit(fork, branch, "more", map[string]*string{"b.yaml": ptr("b\n")})
	s.WaitIdle()
	var synced *github.PullRequestEvent
	for _, r := range rc.received() {
		if e, ok := r.Parsed.(*github.PullRequestEvent); ok && e.GetAction() == "synchronize" {
			synced = e
		}
	}
	if synced == nil || synced.GetNumber() != n || synced.GetPullRequest().GetHead().GetSHA() != head ||
		synced.GetPullRequest().GetHead().GetRepo().GetFullName() != "mallory/pipelines" || synced.GetRepo().GetFullName() != repo {
		t.Fatalf("synchronize event = %+v", synced)
	}
	if _, err := s.MergePR(repo, bot.GetNumber(), "merge"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MergePR(repo, n, "merge"); err == nil {
		t.Errorf("merging the conflicting fork PR succeeded")
	}
}

func TestChangingAPullRequestsBase(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	const repo = "acme/platform"
	release := s.Commit(repo, "release", "release", map[string]*string{"r": ptr("r\n")})
	s.Commit(repo, "feature", "f", map[string]*string{"f": ptr("f\n")})
	n := s.OpenPR(repo, "feature", "main", "Feature", "")
	oldBase := s.Head(repo, "main")
	if err := s.ChangePRBase(repo, n, "release"); err != nil {
		t.Fatal(err)
	}
	s.WaitIdle()
	got := rc.received()
	edited, ok := got[len(got)-1].Parsed.(*github.PullRequestEvent)
	if !ok || edited.GetAction() != "edited" {
		t.Fatalf("last event = %s", got[len(got)-1].Event)
	}
	ch := edited.GetChanges().GetBase()
	wantChange := []string{"main", oldBase, "release", release}
	gotChange := []string{ch.GetRef().GetFrom(), ch.GetSHA().GetFrom(), edited.GetPullRequest().GetBase().GetRef(), edited.GetPullRequest().GetBase().GetSHA()}
	if diff := cmp.Diff(wantChange, gotChange); diff != "" {
		t.Errorf("changes.base from, then the new base (-want +got):\n%s", diff)
	}

	// A second PR from the same branch into that base is refused.
	m := s.OpenPR(repo, "feature", "main", "Feature again", "")
	if err := s.ChangePRBase(repo, m, "release"); err == nil {
		t.Errorf("two open PRs from feature into release")
	}
}
