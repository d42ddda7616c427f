package app

import (
	"context"
	"errors"
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

	// SettingsPath is the settings file at the pipelines repo's root.
	SettingsPath = ".pipeline-orchestrator.yml"
)

// Log keys this app adds beside go-githubapp's.
const (
	LogKeyService     = "service"
	LogKeyPipeline    = "pipeline_id"
	LogKeyOperationID = "operation_id"
	LogKeyAttempt     = "attempt"
	LogKeySHA         = "github_sha"
	LogKeyRepo        = "github_repo"
	LogKeyWork        = "work"
)

// Transient is implemented by adapter errors worth retrying later (rate
// limits, 5xx, transport errors). RetryAfter is the wait the server asked
// for, 0 when it did not say.
type Transient interface {
	error
	RetryAfter() time.Duration
}

// retryAfterOf returns the wait a transient error asks for.
func retryAfterOf(err error) (time.Duration, bool) {
	var t Transient
	if errors.As(err, &t) {
		return t.RetryAfter(), true
	}
	return 0, false
}

// ErrNotFound is returned by the GitHub ports when a ref, file or PR does
// not exist.
var ErrNotFound = errors.New("not found")

// Repo names a GitHub repository.
type Repo struct {
	Owner string
	Name  string
}

// String returns "owner/name".
func (r Repo) String() string { return r.Owner + "/" + r.Name }

// ParseRepo reads "owner/name".
func ParseRepo(full string) Repo {
	o, n := SplitRepo(full)
	return Repo{Owner: o, Name: n}
}

// Commit is a commit and its root tree.
type Commit struct {
	SHA     string
	TreeSHA string
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
	Number    int
	State     string // open | closed
	Merged    bool
	Title     string
	Body      string
	HeadRef   string
	HeadSHA   string
	BaseRef   string
	BaseSHA   string
	Labels    []string
	HTMLURL   string
	MergeSHA  string
	UpdatedAt time.Time
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
// implementation is ghapi.Client.
type GitHub interface {
	RepoReader
	BranchWriter
	PullRequests
	Checks
}
