// Package gh is the loop's vocabulary for GitHub: which repository, which
// commit, the bot pull request, check runs, and the small ports through
// which the loop reads and writes them. It also holds the names GitHub
// users see and rely on (check runs, the bot branch, labels): changing one
// of those is a breaking change for branch protection rules and filters.
//
// ghapi implements the ports with go-github and installation tokens;
// githubtest stands in for GitHub in tests and the demo. Nothing here
// imports a GitHub client.
package gh

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Names that GitHub users see. They are contracts: branch protection rules
// and people's filters refer to them.
const (
	// CheckPlan previews a catalog or template PR.
	CheckPlan = "pipeline-orchestrator/plan"
	// CheckSync reports, on a config commit, the bot PR it led to.
	CheckSync = "pipeline-orchestrator/sync"
	// CheckHarness reports what was applied to Harness for a commit.
	CheckHarness = "pipeline-orchestrator/harness"
	// CheckDrift reports, on the pipelines repo's head, what reconcile found.
	CheckDrift = "pipeline-orchestrator/drift"

	// SyncBranch is the rolling branch of the bot PR.
	SyncBranch = "pipeline-orchestrator/sync"
	// BotLabel marks the bot PR.
	BotLabel = "pipeline-orchestrator"
	// MassDeleteLabel lets a flagged bot PR's deletes reach Harness.
	MassDeleteLabel = "pipeline-orchestrator/allow-mass-delete"
)

// Check-run statuses and conclusions
// (docs.github.com/en/rest/checks/runs#create-a-check-run).
const (
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"

	ConclusionSuccess        = "success"
	ConclusionFailure        = "failure"
	ConclusionNeutral        = "neutral"
	ConclusionActionRequired = "action_required"
)

// ErrNotFound is returned by the ports when a ref, file or PR does not
// exist.
var ErrNotFound = errors.New("not found")

// Transient is implemented by adapter errors worth retrying later (rate
// limits, 5xx, transport errors). RetryAfter is the wait the server asked
// for, 0 when it did not say.
type Transient interface {
	error
	RetryAfter() time.Duration
}

// RetryAfterOf returns the wait a transient error asks for, and whether err
// is transient at all.
func RetryAfterOf(err error) (time.Duration, bool) {
	var t Transient
	if errors.As(err, &t) {
		return t.RetryAfter(), true
	}
	return 0, false
}

// RateLimited is implemented by adapter errors that mean GitHub asked the
// App to wait: a primary rate limit (the installation's hourly quota is
// used up) or a secondary one. Waiting one out is not a failed attempt:
// the work is to be tried again from RateLimitedUntil on, its attempts
// left as they were. RetryAfter is the wait from now.
type RateLimited interface {
	Transient
	RateLimitedUntil() time.Time
}

// IsRateLimit reports whether err is a rate limit, and until when GitHub
// asked to wait.
func IsRateLimit(err error) (until time.Time, ok bool) {
	var rl RateLimited
	if errors.As(err, &rl) {
		return rl.RateLimitedUntil(), true
	}
	return time.Time{}, false
}

// Repo names a GitHub repository. GitHub compares owner and repository
// names without regard to case, and so does Is.
type Repo struct {
	Owner string
	Name  string
}

// ParseRepo reads "owner/name".
func ParseRepo(full string) Repo {
	o, n, _ := strings.Cut(full, "/")
	return Repo{Owner: o, Name: n}
}

// String returns "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// Is reports whether full ("owner/name") names this repository, as GitHub
// compares names: without regard to case.
func (r Repo) Is(full string) bool { return strings.EqualFold(full, r.String()) }

// Commit is a commit and its root tree.
type Commit struct {
	SHA     string
	TreeSHA string
}

// ShortSHA is the first seven characters of a commit id, as GitHub shows it.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// RepoReader reads a repository's content. Implementations use the
// installation token of the repository's org and are safe for concurrent use.
type RepoReader interface {
	// DefaultBranch returns the repository's default branch name.
	DefaultBranch(ctx context.Context, repo Repo) (string, error)
	// Branch returns the head commit of a branch; ErrNotFound if absent.
	Branch(ctx context.Context, repo Repo, branch string) (Commit, error)
	// Resolve returns the commit for a SHA; ErrNotFound if absent.
	Resolve(ctx context.Context, repo Repo, sha string) (Commit, error)
	// Tree lists every file below dir ("" for the whole tree) in the tree
	// treeSHA, path → git blob SHA. Contents are not downloaded.
	Tree(ctx context.Context, repo Repo, treeSHA, dir string) (map[string]string, error)
	// Blobs downloads the blobs with the given SHAs.
	Blobs(ctx context.Context, repo Repo, shas []string) (map[string][]byte, error)
	// File returns a file's content at ref; ErrNotFound if absent.
	File(ctx context.Context, repo Repo, ref, path string) ([]byte, error)
}

// BranchWriter writes commits with the Git Data API: a constant number of
// calls whatever the number of files.
type BranchWriter interface {
	// CommitFiles makes one commit whose parent is parent and whose tree is
	// parent's tree with files applied (nil content deletes the path).
	CommitFiles(ctx context.Context, repo Repo, parent Commit, message string, files map[string][]byte) (Commit, error)
	// SetBranch points branch at sha, creating it or force-updating it.
	SetBranch(ctx context.Context, repo Repo, branch, sha string) error
}

// PullRequest is the part of a GitHub pull request the loop reads.
type PullRequest struct {
	Number  int
	State   string // open | closed
	Merged  bool
	Title   string
	Body    string
	HeadRef string
	HeadSHA string
	// HeadRepo is the full name ("owner/name") of the repository holding
	// the head branch: the pull request's own repository, or a fork of it;
	// "" when that fork was deleted.
	HeadRepo string
	// Author is the login of the account that opened the pull request; an
	// App's bot user is "<slug>[bot]" (BotLogin).
	Author string
	// AuthorIsBot is true when that account is a bot, such as an App's.
	AuthorIsBot bool
	BaseRef     string
	BaseSHA     string
	Labels      []string
	HTMLURL     string
	MergeSHA    string
	UpdatedAt   time.Time
}

// HasLabel reports whether the PR carries label.
func (p PullRequest) HasLabel(label string) bool {
	for _, l := range p.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// BotLogin is the login of an App's bot user, the author of what the App
// does with its installation token: "<slug>[bot]".
func BotLogin(appSlug string) string { return appSlug + "[bot]" }

// FromBranchOf reports whether the PR's head is branch of repo itself, not
// a branch of the same name in a fork.
func (p PullRequest) FromBranchOf(repo Repo, branch string) bool {
	return p.HeadRef == branch && p.HeadRepo != "" && repo.Is(p.HeadRepo)
}

// IsBotPR reports whether p is the App's bot PR in repo: from repo's own
// SyncBranch, opened by a bot, the App's own when botLogin (see BotLogin)
// is given. A fork's branch of the same name, or a person's PR from the
// sync branch, is not the bot PR.
func (p PullRequest) IsBotPR(repo Repo, botLogin string) bool {
	if !p.FromBranchOf(repo, SyncBranch) || !p.AuthorIsBot {
		return false
	}
	return botLogin == "" || strings.EqualFold(p.Author, botLogin)
}

// PullRequests manages the bot PR.
type PullRequests interface {
	// OpenPR returns the open PR from head into base; ErrNotFound if none.
	OpenPR(ctx context.Context, repo Repo, head, base string) (PullRequest, error)
	// LastPR returns the most recently updated PR from head (any state);
	// ErrNotFound if none.
	LastPR(ctx context.Context, repo Repo, head string) (PullRequest, error)
	// GetPR returns one PR.
	GetPR(ctx context.Context, repo Repo, number int) (PullRequest, error)
	CreatePR(ctx context.Context, repo Repo, head, base, title, body string) (PullRequest, error)
	// EditPR sets title and body; an empty state leaves the state alone.
	EditPR(ctx context.Context, repo Repo, number int, title, body, state string) error
	AddLabels(ctx context.Context, repo Repo, number int, labels ...string) error
	Comment(ctx context.Context, repo Repo, number int, body string) error
}

// CheckRun is a check run to create or update.
type CheckRun struct {
	Name       string
	HeadSHA    string
	Status     string // queued | in_progress | completed
	Conclusion string // success | failure | neutral | action_required | … (implies completed)
	DetailsURL string
	ExternalID string
	Title      string
	Summary    string
	Text       string
	// Annotations may be any number; the adapter sends them 50 per request.
	Annotations []Annotation
}

// Annotation points at a line of a file in a check run.
type Annotation struct {
	Path        string
	StartLine   int
	EndLine     int
	StartColumn int // only sent when StartLine == EndLine
	EndColumn   int
	Level       string // notice | warning | failure
	Title       string
	Message     string
}

// Checks writes check runs.
type Checks interface {
	// CreateCheckRun creates a run and returns its id.
	CreateCheckRun(ctx context.Context, repo Repo, run CheckRun) (int64, error)
	// UpdateCheckRun updates a run; annotations are appended.
	UpdateCheckRun(ctx context.Context, repo Repo, id int64, run CheckRun) error
}

// GitHub is every GitHub capability the loop uses. The production
// implementation is ghapi.Client, which also implements Comparer,
// Installations, InstallationFinder, AppIdentity and Redeliverer.
type GitHub interface {
	RepoReader
	BranchWriter
	PullRequests
	Checks
}

// Comparison says how a head commit relates to a base
// (docs.github.com/en/rest/commits/commits#compare-two-commits).
type Comparison struct {
	// MergeBase is the newest commit both have: what a pull request from
	// head into base changes is the difference from it.
	MergeBase string
	// Status is CompareAhead, CompareBehind, CompareDiverged or
	// CompareIdentical.
	Status string
	// AheadBy counts the commits of head that base lacks; BehindBy the
	// commits of base that head lacks.
	AheadBy, BehindBy int
}

// Comparison statuses, as GitHub names them.
const (
	CompareAhead     = "ahead"
	CompareBehind    = "behind"
	CompareDiverged  = "diverged"
	CompareIdentical = "identical"
)

// Comparer compares commits.
type Comparer interface {
	// Compare compares head with base in repo, each a branch or a commit
	// SHA; ErrNotFound when either does not exist or they share no
	// history.
	Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error)
}

// UnreachableReason says why the App cannot reach a repository.
type UnreachableReason string

const (
	// NotInstalled: the App is not installed on the repository's owner.
	NotInstalled UnreachableReason = "not-installed"
	// NotSelected: the App is installed on the owner with "Only select
	// repositories", and this one is not among them, or does not exist
	// (GitHub answers both with the same 404).
	NotSelected UnreachableReason = "not-selected"
)

// UnreachableError says that the App cannot reach a repository, why, and
// where to fix it.
type UnreachableError struct {
	// Repo is the repository; its Name is empty when the question was
	// about the owner's installation.
	Repo   Repo
	Reason UnreachableReason
	// InstallationID is the App's installation on the owner, when there
	// is one.
	InstallationID int64
	// FixURL is the page where the fix is made: where the App is
	// installed (NotInstalled), or the installation's settings
	// (NotSelected). It may be empty.
	FixURL string
}

func (e *UnreachableError) Error() string {
	switch e.Reason {
	case NotInstalled:
		if e.Repo.Name == "" {
			return fmt.Sprintf("the GitHub App is not installed on %s", e.Repo.Owner)
		}
		return fmt.Sprintf("the GitHub App is not installed on %s, so it cannot reach %s", e.Repo.Owner, e.Repo)
	case NotSelected:
		return fmt.Sprintf("%s is not among the repositories the GitHub App's installation on %s can access, or does not exist", e.Repo, e.Repo.Owner)
	}
	return fmt.Sprintf("the GitHub App cannot reach %s", e.Repo)
}

// Fix says what to do about it, in one sentence.
func (e *UnreachableError) Fix() string {
	where := ""
	if e.FixURL != "" {
		where = " at " + e.FixURL
	}
	switch e.Reason {
	case NotInstalled:
		if e.Repo.Name == "" {
			return fmt.Sprintf("Install the App on %s%s.", e.Repo.Owner, where)
		}
		return fmt.Sprintf("Install the App on %s%s, with access to %s.", e.Repo.Owner, where, e.Repo)
	case NotSelected:
		return fmt.Sprintf("Add %s to the installation's repositories under \"Repository access\"%s, or check the repository's name.", e.Repo, where)
	}
	return "Check the App's installations."
}

// Installations tells which repositories the App can reach.
type Installations interface {
	// Reachable returns nil when the App's installation covers repo, an
	// *UnreachableError when it does not, and another error when GitHub
	// could not be asked.
	Reachable(ctx context.Context, repo Repo) error
	// InstallationRepos lists the repositories the App's installation on
	// owner covers; an *UnreachableError (NotInstalled) when the App is
	// not installed there.
	InstallationRepos(ctx context.Context, owner string) ([]Repo, error)
}

// InstallationFinder finds the App's installation that covers a
// repository: what a Harness GitHub connector authenticated as the App
// names as its installationId.
type InstallationFinder interface {
	// RepoInstallation returns the id of the App's installation that
	// covers repo, as GitHub answers GET /repos/{owner}/{repo}/installation
	// to the App's JWT
	// (docs.github.com/en/rest/apps/apps#get-a-repository-installation-for-the-authenticated-app).
	// It returns an *UnreachableError when the App is not installed on the
	// owner or its installation does not cover repo, and another error
	// when GitHub could not be asked.
	RepoInstallation(ctx context.Context, repo Repo) (int64, error)
}

// AppIdentity names the App as GitHub shows it.
type AppIdentity interface {
	// BotLogin returns the login of the App's bot user, "<slug>[bot]".
	BotLogin(ctx context.Context) (string, error)
}

// WebhookAttempt is one attempt GitHub made to deliver a webhook.
type WebhookAttempt struct {
	ID         int64
	GUID       string // X-GitHub-Delivery, shared by every attempt of a delivery
	Event      string
	At         time.Time
	StatusCode int // 0 when GitHub could not connect
	Redelivery bool
}

// Redeliverer lists and redelivers the App's webhook deliveries. GitHub
// does not retry a failed delivery by itself; it only offers redelivery
// through its API
// (docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries).
type Redeliverer interface {
	RecentDeliveries(ctx context.Context, since time.Time, max int) ([]WebhookAttempt, error)
	Redeliver(ctx context.Context, id int64) error
}

// BlobSHA is git's object id of a file: SHA-1 of "blob <size>\0<content>".
// Comparing it with a tree's entry tells whether a file changed without
// downloading it.
func BlobSHA(content []byte) string {
	h := sha1.New()
	h.Write([]byte("blob " + strconv.Itoa(len(content)) + "\x00"))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}
