// Package checkrun writes the app's check runs: it starts and finishes
// the run of a piece of work (finding the one an earlier attempt created,
// so a retry leaves no run in progress), posts one-shot runs, and keeps
// the harness check runs of each pipelines commit in step with its
// operations, coalescing bursts of results into one update.
package checkrun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// coalesce is how long the reporter lets a burst of results arrive before
// it updates GitHub.
const coalesce = 200 * time.Millisecond

// State is what the reporter remembers of its check runs. *store.State
// implements it.
type State interface {
	CheckRunID(ctx context.Context, k store.CheckRunKey) (int64, error)
	SetCheckRunID(ctx context.Context, k store.CheckRunKey, id int64) error
	HarnessChecks(ctx context.Context, commit string) ([]record.CheckRunRef, error)
	SetHarnessChecks(ctx context.Context, commit string, refs []record.CheckRunRef) error
	Unreadable(ctx context.Context, commit string) (string, error)
	SetUnreadable(ctx context.Context, commit, list string) error
	HarnessNote(ctx context.Context, commit string) (string, error)
	SetHarnessNote(ctx context.Context, commit, note string) error
}

// Operations lists the operations a harness check run reports on.
// *store.Operations implements it.
type Operations interface {
	List(ctx context.Context, f store.OperationFilter) ([]record.Operation, error)
}

// Run is one check run the app created.
type Run struct {
	Repo gh.Repo
	ID   int64
	Name string
	SHA  string
}

// Reporter writes check runs. It is safe for concurrent use.
type Reporter struct {
	gh         gh.Checks
	state      State
	ops        Operations
	detailsURL string

	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	// flushing serialises flushes, so a slow flush that read the
	// operations before a result cannot overwrite a newer report.
	flushing sync.Mutex
}

// New returns a Reporter; detailsURL is where each run's "Details" link
// points (the status page), "" for none.
func New(c gh.Checks, state State, ops Operations, detailsURL string) *Reporter {
	return &Reporter{gh: c, state: state, ops: ops, detailsURL: detailsURL, pending: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// Start creates an in-progress check run, or finds the one this same
// piece of work created on an earlier attempt, so a retried run does not
// leave a stale in-progress run behind.
func (r *Reporter) Start(ctx context.Context, repo gh.Repo, name, sha, work, title string) (Run, error) {
	key := store.CheckRunKey{Work: work, Name: name, Repo: repo.String(), SHA: sha}
	id, err := r.state.CheckRunID(ctx, key)
	if err != nil {
		return Run{}, err
	}
	if id == 0 {
		id, err = r.gh.CreateCheckRun(ctx, repo, gh.CheckRun{
			Name: name, HeadSHA: sha, Status: gh.StatusInProgress, DetailsURL: r.detailsURL,
			Title: title, Summary: title + "…",
		})
		if err != nil {
			return Run{}, err
		}
		if err := r.state.SetCheckRunID(ctx, key, id); err != nil {
			return Run{}, err
		}
	}
	return Run{Repo: repo, ID: id, Name: name, SHA: sha}, nil
}

// Finish completes a check run with rep.
func (r *Reporter) Finish(ctx context.Context, run Run, rep present.Report) error {
	return r.gh.UpdateCheckRun(ctx, run.Repo, run.ID, r.completed(run.Name, rep))
}

// Post creates a completed check run in one call.
func (r *Reporter) Post(ctx context.Context, repo gh.Repo, name, sha string, rep present.Report) error {
	run := r.completed(name, rep)
	run.HeadSHA = sha
	_, err := r.gh.CreateCheckRun(ctx, repo, run)
	return err
}

func (r *Reporter) completed(name string, rep present.Report) gh.CheckRun {
	run := gh.CheckRun{Name: name, DetailsURL: r.detailsURL, Title: present.FitTitle(rep.Title),
		Summary: present.FitText(rep.Summary), Annotations: rep.Annotations}
	if rep.Conclusion == "" {
		run.Status = gh.StatusInProgress
	} else {
		run.Status, run.Conclusion = gh.StatusCompleted, rep.Conclusion
	}
	return run
}

// Target is a commit that gets a harness check run.
type Target struct {
	Repo gh.Repo
	SHA  string
}

// OpenHarness creates the in-progress harness check runs of a pipelines
// commit's operations on each target that has none yet (the commit itself
// and the config commits behind it), remembers them for the updates, and
// records the commit's unreadable files and note: what a person must fix
// for the changes to work in Harness beyond the operations ("" for
// nothing), such as the GitHub App's installation the connector needs.
func (r *Reporter) OpenHarness(ctx context.Context, commit string, targets []Target, ops int, unreadable []string, note string) error {
	existing, err := r.state.HarnessChecks(ctx, commit)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, c := range existing {
		have[c.Repo.Owner+"/"+c.Repo.Name+"@"+c.SHA] = true
	}
	rep := present.Applying(ops)
	// A target the App cannot write to (its repository left the
	// installation, say) does not keep the others from their check runs.
	var failed []error
	for _, t := range targets {
		if have[t.Repo.String()+"@"+t.SHA] {
			continue
		}
		id, err := r.gh.CreateCheckRun(ctx, t.Repo, gh.CheckRun{Name: gh.CheckHarness, HeadSHA: t.SHA,
			Status: gh.StatusInProgress, DetailsURL: r.detailsURL, Title: rep.Title, Summary: rep.Summary})
		if err != nil {
			failed = append(failed, fmt.Errorf("creating the harness check run on %s@%s: %w", t.Repo, gh.ShortSHA(t.SHA), err))
			continue
		}
		existing = append(existing, record.CheckRunRef{Repo: record.RepoRef{Owner: t.Repo.Owner, Name: t.Repo.Name},
			ID: id, Name: gh.CheckHarness, SHA: t.SHA})
	}
	if len(unreadable) > 0 {
		if err := r.state.SetUnreadable(ctx, commit, strings.Join(unreadable, "\n")); err != nil {
			return err
		}
	}
	if err := r.state.SetHarnessNote(ctx, commit, note); err != nil {
		return err
	}
	if err := r.state.SetHarnessChecks(ctx, commit, existing); err != nil {
		return err
	}
	return errors.Join(failed...)
}

// Touch asks for a commit's harness check runs to be refreshed.
func (r *Reporter) Touch(commit string) {
	if commit == "" {
		return
	}
	r.mu.Lock()
	r.pending[commit] = true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run refreshes touched commits until ctx ends, then makes a last
// best-effort refresh.
func (r *Reporter) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			r.Flush(context.WithoutCancel(ctx))
			return
		case <-r.wake:
		}
		select {
		case <-ctx.Done():
		case <-time.After(coalesce):
		}
		r.Flush(ctx)
	}
}

// Flush refreshes every touched commit now. A commit whose refresh fails
// stays touched, and is tried again with the next result.
func (r *Reporter) Flush(ctx context.Context) {
	r.flushing.Lock()
	defer r.flushing.Unlock()
	r.mu.Lock()
	commits := make([]string, 0, len(r.pending))
	for c := range r.pending {
		commits = append(commits, c)
	}
	r.pending = map[string]bool{}
	r.mu.Unlock()
	for _, c := range commits {
		if err := r.refresh(ctx, c); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("github_sha", c).Msg("updating harness check runs")
			r.mu.Lock()
			r.pending[c] = true
			r.mu.Unlock()
		}
	}
}

// refresh updates the harness check runs of a pipelines commit.
func (r *Reporter) refresh(ctx context.Context, commit string) error {
	refs, err := r.state.HarnessChecks(ctx, commit)
	if err != nil || len(refs) == 0 {
		return err
	}
	ops, err := r.ops.List(ctx, store.OperationFilter{Commit: commit, Limit: 100000})
	if err != nil {
		return err
	}
	unreadable, err := r.state.Unreadable(ctx, commit)
	if err != nil {
		return err
	}
	note, err := r.state.HarnessNote(ctx, commit)
	if err != nil {
		return err
	}
	run := r.completed(gh.CheckHarness, withNote(present.HarnessReport(ops, unreadable), note))
	var failed []error // one repository out of reach does not hold up the others
	for _, c := range refs {
		if err := r.gh.UpdateCheckRun(ctx, gh.Repo{Owner: c.Repo.Owner, Name: c.Repo.Name}, c.ID, run); err != nil {
			failed = append(failed, err)
		}
	}
	return errors.Join(failed...)
}

// withNote puts what a person must fix first in a harness report. A
// report that would call Harness up to date asks for action instead: the
// operations took effect, but deploys fail until the fix.
func withNote(rep present.Report, note string) present.Report {
	if note == "" {
		return rep
	}
	rep.Summary = "**Action needed:** " + note + "\n\n" + rep.Summary
	if rep.Conclusion == gh.ConclusionSuccess {
		rep.Conclusion = gh.ConclusionActionRequired
		rep.Title = "Applied, but deploys need a fix: " + present.FirstLine(note)
	}
	return rep
}
