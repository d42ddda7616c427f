package gh_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// TestNamesUsersRelyOn pins the names GitHub users see: branch protection
// rules require the check runs by name, filters and automations use the
// branch and the labels. Renaming one is a breaking change, and must show
// up here first.
func TestNamesUsersRelyOn(t *testing.T) {
	for _, n := range []struct{ got, want string }{
		{gh.CheckPlan, "pipeline-orchestrator/plan"},
		{gh.CheckSync, "pipeline-orchestrator/sync"},
		{gh.CheckHarness, "pipeline-orchestrator/harness"},
		{gh.CheckDrift, "pipeline-orchestrator/drift"},
		{gh.SyncBranch, "pipeline-orchestrator/sync"},
		{gh.BotLabel, "pipeline-orchestrator"},
		{gh.MassDeleteLabel, "pipeline-orchestrator/allow-mass-delete"},
	} {
		if n.got != n.want {
			t.Errorf("a contract name changed: %q, want %q", n.got, n.want)
		}
	}
}

func TestRepoIsComparesWithoutCase(t *testing.T) {
	r := gh.ParseRepo("company/platform-next")
	for full, want := range map[string]bool{
		"company/platform-next": true,
		"Company/Platform-Next": true,
		"company/platform":      false,
		"other/platform-next":   false,
		"":                      false,
	} {
		if got := r.Is(full); got != want {
			t.Errorf("Is(%q) = %v, want %v", full, got, want)
		}
	}
}

func TestBlobSHAIsGitsObjectID(t *testing.T) {
	// `printf 'hello\n' | git hash-object --stdin`
	if got := gh.BlobSHA([]byte("hello\n")); got != "ce013625030ba8dba906f756967f9e9ca394464a" {
		t.Errorf("BlobSHA = %s", got)
	}
}

// rateLimit is an adapter's rate limit error, as ghapi's is.
type rateLimit struct{ until time.Time }

func (r rateLimit) Error() string               { return "rate limited" }
func (r rateLimit) RetryAfter() time.Duration   { return time.Until(r.until) }
func (r rateLimit) RateLimitedUntil() time.Time { return r.until }

// transient is an adapter error worth retrying that is not a rate limit.
type transient struct{}

func (transient) Error() string             { return "502" }
func (transient) RetryAfter() time.Duration { return 0 }

func TestIsRateLimitTellsAWaitFromAFailure(t *testing.T) {
	until := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	wrapped := fmt.Errorf("reading branch main: %w", rateLimit{until})
	if got, ok := gh.IsRateLimit(wrapped); !ok || !got.Equal(until) {
		t.Errorf("IsRateLimit(rate limit) = %v, %v", got, ok)
	}
	if _, ok := gh.RetryAfterOf(wrapped); !ok {
		t.Errorf("a rate limit is not transient")
	}
	for _, err := range []error{transient{}, errors.New("boom"), nil} {
		if _, ok := gh.IsRateLimit(err); ok {
			t.Errorf("IsRateLimit(%v) = true", err)
		}
	}
}

func TestBotPRIsTheAppsOwnFromItsOwnRepository(t *testing.T) {
	repo := gh.ParseRepo("Acme/Pipelines")
	bot := gh.BotLogin("pipeline-orchestrator")
	pr := func(mutate func(*gh.PullRequest)) gh.PullRequest {
		p := gh.PullRequest{HeadRef: gh.SyncBranch, HeadRepo: "acme/pipelines", Author: bot, AuthorIsBot: true}
		mutate(&p)
		return p
	}
	tests := []struct {
		name     string
		pr       gh.PullRequest
		botLogin string
		want     bool
	}{
		{"the App's", pr(func(*gh.PullRequest) {}), bot, true},
		{"any bot when the App's login is unknown", pr(func(p *gh.PullRequest) { p.Author = "other[bot]" }), "", true},
		{"another App's bot", pr(func(p *gh.PullRequest) { p.Author = "other[bot]" }), bot, false},
		{"a fork's branch of the same name", pr(func(p *gh.PullRequest) { p.HeadRepo = "mallory/pipelines" }), bot, false},
		{"a deleted fork", pr(func(p *gh.PullRequest) { p.HeadRepo = "" }), bot, false},
		{"a person on the sync branch", pr(func(p *gh.PullRequest) { p.Author, p.AuthorIsBot = "alice", false }), "", false},
		{"another branch", pr(func(p *gh.PullRequest) { p.HeadRef = "feature" }), bot, false},
	}
	for _, tc := range tests {
		if got := tc.pr.IsBotPR(repo, tc.botLogin); got != tc.want {
			t.Errorf("%s: IsBotPR = %v, want %v", tc.name, got, tc.want)
		}
	}
	if bot != "pipeline-orchestrator[bot]" {
		t.Errorf("BotLogin = %q", bot)
	}
}

func TestUnreachableErrorSaysTheFix(t *testing.T) {
	repo := gh.ParseRepo("acme/pipelines")
	notInstalled := &gh.UnreachableError{Repo: repo, Reason: gh.NotInstalled, FixURL: "https://github.com/apps/po/installations/new"}
	notSelected := &gh.UnreachableError{Repo: repo, Reason: gh.NotSelected, InstallationID: 7, FixURL: "https://github.com/organizations/acme/settings/installations/7"}
	got := []string{notInstalled.Error(), notInstalled.Fix(), notSelected.Error(), notSelected.Fix()}
	want := []string{
		"the GitHub App is not installed on acme, so it cannot reach acme/pipelines",
		"Install the App on acme at https://github.com/apps/po/installations/new, with access to acme/pipelines.",
		"acme/pipelines is not among the repositories the GitHub App's installation on acme can access, or does not exist",
		`Add acme/pipelines to the installation's repositories under "Repository access" at https://github.com/organizations/acme/settings/installations/7, or check the repository's name.`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
