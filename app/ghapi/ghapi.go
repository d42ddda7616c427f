// Package ghapi implements the app's GitHub ports with go-github, using the
// installation token of each repository's org (go-githubapp's client
// creator and ghinstallation). It is the only package besides handlers that
// knows go-github types.
package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
)

var _ app.GitHub = (*Client)(nil)

// maxAnnotationsPerRequest is GitHub's limit on annotations in one check run
// create or update (docs.github.com/en/rest/checks/runs, "annotations").
const maxAnnotationsPerRequest = 50

// Client talks to GitHub for any repository the App is installed on.
type Client struct {
	cc  githubapp.ClientCreator
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	insts map[string]cachedInstallation // "owner/name" → installation
}

type cachedInstallation struct {
	id      int64
	expires time.Time
}

// New returns a Client. Installation ids are looked up per repository and
// cached for ttl (GET /repos/{owner}/{repo}/installation also proves the
// repository is in the installation's selection).
func New(cc githubapp.ClientCreator, ttl time.Duration) *Client {
	return &Client{cc: cc, ttl: ttl, now: time.Now, insts: map[string]cachedInstallation{}}
}

// Forget drops the cached installation of every repository of owner, after
// an installation event.
func (c *Client) Forget(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.insts {
		if strings.EqualFold(strings.SplitN(k, "/", 2)[0], owner) {
			delete(c.insts, k)
		}
	}
}

// installationClient returns a go-github client authenticated with the
// installation token of repo's org.
func (c *Client) installationClient(ctx context.Context, repo app.Repo) (*github.Client, error) {
	key := strings.ToLower(repo.String())
	c.mu.Lock()
	ci, ok := c.insts[key]
	c.mu.Unlock()
	if !ok || c.now().After(ci.expires) {
		appClient, err := c.cc.NewAppClient()
		if err != nil {
			return nil, fmt.Errorf("creating app client: %w", err)
		}
		inst, err := githubapp.NewInstallationsService(appClient).GetByRepository(ctx, repo.Owner, repo.Name)
		if err != nil {
			return nil, fmt.Errorf("finding the App's installation for %s: %w", repo, classify(err))
		}
		ci = cachedInstallation{id: inst.ID, expires: c.now().Add(c.ttl)}
		c.mu.Lock()
		c.insts[key] = ci
		c.mu.Unlock()
	}
	client, err := c.cc.NewInstallationClient(ci.id)
	if err != nil {
		return nil, fmt.Errorf("creating installation client for %s: %w", repo, err)
	}
	return client, nil
}

// RetryableError is a GitHub failure worth retrying later: rate limits,
// 5xx and transport errors. After is GitHub's requested wait, when given.
type RetryableError struct {
	Err   error
	After time.Duration
}

func (e *RetryableError) Error() string { return e.Err.Error() }

// RetryAfter implements app.Transient.
func (e *RetryableError) RetryAfter() time.Duration { return e.After }
func (e *RetryableError) Unwrap() error             { return e.Err }

// IsRetryable reports whether err is a GitHub failure worth retrying, and
// how long GitHub asked to wait.
func IsRetryable(err error) (bool, time.Duration) {
	var re *RetryableError
	if errors.As(err, &re) {
		return true, re.After
	}
	return false, 0
}

// classify maps go-github errors to app.ErrNotFound and RetryableError.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		return &RetryableError{Err: err, After: abuse.GetRetryAfter()}
	}
	var rate *github.RateLimitError
	if errors.As(err, &rate) {
		return &RetryableError{Err: err, After: time.Until(rate.Rate.Reset.Time)}
	}
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil {
		switch code := resp.Response.StatusCode; {
		case code == http.StatusNotFound:
			return fmt.Errorf("%w: %v", app.ErrNotFound, err)
		case code == http.StatusTooManyRequests || code >= 500:
			return &RetryableError{Err: err}
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	// Transport errors (connection refused, reset, timeouts).
	return &RetryableError{Err: err}
}

// DefaultBranch implements app.RepoReader.
func (c *Client) DefaultBranch(ctx context.Context, repo app.Repo) (string, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return "", err
	}
	r, _, err := gh.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return "", fmt.Errorf("reading repository %s: %w", repo, classify(err))
	}
	return r.GetDefaultBranch(), nil
}

// Branch implements app.RepoReader.
func (c *Client) Branch(ctx context.Context, repo app.Repo, branch string) (app.Commit, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return app.Commit{}, err
	}
	ref, _, err := gh.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		return app.Commit{}, fmt.Errorf("reading branch %s of %s: %w", branch, repo, classify(err))
	}
	return c.resolve(ctx, gh, repo, ref.GetObject().GetSHA())
}

// Resolve implements app.RepoReader.
func (c *Client) Resolve(ctx context.Context, repo app.Repo, sha string) (app.Commit, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return app.Commit{}, err
	}
	return c.resolve(ctx, gh, repo, sha)
}

func (c *Client) resolve(ctx context.Context, gh *github.Client, repo app.Repo, sha string) (app.Commit, error) {
	commit, _, err := gh.Git.GetCommit(ctx, repo.Owner, repo.Name, sha)
	if err != nil {
		return app.Commit{}, fmt.Errorf("reading commit %s of %s: %w", sha, repo, classify(err))
	}
	return app.Commit{SHA: commit.GetSHA(), TreeSHA: commit.GetTree().GetSHA()}, nil
}

// Tree implements app.RepoReader with one recursive tree request.
func (c *Client) Tree(ctx context.Context, repo app.Repo, treeSHA, dir string) (map[string]string, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	tree, _, err := gh.Git.GetTree(ctx, repo.Owner, repo.Name, treeSHA, true)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s of %s: %w", treeSHA, repo, classify(err))
	}
	if tree.GetTruncated() {
		// GitHub truncates recursive trees over 100,000 entries or 7 MB;
		// a partial listing would turn missing files into deletes.
		return nil, fmt.Errorf("tree %s of %s is too large for one recursive listing", treeSHA, repo)
	}
	prefix := strings.Trim(dir, "/")
	if prefix != "" {
		prefix += "/"
	}
	files := map[string]string{}
	for _, e := range tree.Entries {
		if e.GetType() != "blob" || !strings.HasPrefix(e.GetPath(), prefix) {
			continue
		}
		files[e.GetPath()] = e.GetSHA()
	}
	return files, nil
}

// Blobs implements app.RepoReader.
func (c *Client) Blobs(ctx context.Context, repo app.Repo, shas []string) (map[string][]byte, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(shas))
	for _, sha := range shas {
		if _, done := out[sha]; done {
			continue
		}
		b, _, err := gh.Git.GetBlobRaw(ctx, repo.Owner, repo.Name, sha)
		if err != nil {
			return nil, fmt.Errorf("reading blob %s of %s: %w", sha, repo, classify(err))
		}
		out[sha] = b
	}
	return out, nil
}

// File implements app.RepoReader.
func (c *Client) File(ctx context.Context, repo app.Repo, ref, filePath string) ([]byte, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	fc, _, _, err := gh.Repositories.GetContents(ctx, repo.Owner, repo.Name, filePath, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s in %s: %w", filePath, short(ref), repo, classify(err))
	}
	if fc == nil {
		return nil, fmt.Errorf("reading %s at %s in %s: %w: it is a directory", filePath, short(ref), repo, app.ErrNotFound)
	}
	if fc.GetEncoding() == "none" || (fc.Content == nil && fc.GetSize() > 0) {
		// The contents API omits files over 1 MB; fetch the blob instead.
		b, _, err := gh.Git.GetBlobRaw(ctx, repo.Owner, repo.Name, fc.GetSHA())
		if err != nil {
			return nil, fmt.Errorf("reading blob of %s in %s: %w", filePath, repo, classify(err))
		}
		return b, nil
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("decoding %s in %s: %w", filePath, repo, err)
	}
	return []byte(s), nil
}

// CommitFiles implements app.BranchWriter with two calls: one tree (inline
// contents and deletions over the parent's tree) and one commit.
func (c *Client) CommitFiles(ctx context.Context, repo app.Repo, parent app.Commit, message string, files map[string][]byte) (app.Commit, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return app.Commit{}, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	entries := make([]*github.TreeEntry, 0, len(paths))
	for _, p := range paths {
		e := &github.TreeEntry{Path: github.String(path.Clean(p)), Mode: github.String("100644"), Type: github.String("blob")}
		if content := files[p]; content != nil {
			e.Content = github.String(string(content))
		}
		// Neither SHA nor Content: go-github sends "sha": null, which
		// deletes the path (docs.github.com/en/rest/git/trees).
		entries = append(entries, e)
	}
	tree, _, err := gh.Git.CreateTree(ctx, repo.Owner, repo.Name, parent.TreeSHA, entries)
	if err != nil {
		return app.Commit{}, fmt.Errorf("creating tree in %s: %w", repo, classify(err))
	}
	commit, _, err := gh.Git.CreateCommit(ctx, repo.Owner, repo.Name, &github.Commit{
		Message: github.String(message),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(parent.SHA)}},
	}, nil)
	if err != nil {
		return app.Commit{}, fmt.Errorf("creating commit in %s: %w", repo, classify(err))
	}
	return app.Commit{SHA: commit.GetSHA(), TreeSHA: tree.GetSHA()}, nil
}

// SetBranch implements app.BranchWriter: force-update, or create when the
// branch does not exist (and update again if it appeared meanwhile).
func (c *Client) SetBranch(ctx context.Context, repo app.Repo, branch, sha string) error {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return err
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)}}
	_, _, err = gh.Git.UpdateRef(ctx, repo.Owner, repo.Name, ref, true)
	if err == nil {
		return nil
	}
	// GitHub answers 422 "Reference does not exist" for a missing branch.
	var resp *github.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil || (resp.Response.StatusCode != http.StatusUnprocessableEntity && resp.Response.StatusCode != http.StatusNotFound) {
		return fmt.Errorf("updating branch %s of %s: %w", branch, repo, classify(err))
	}
	if _, _, err := gh.Git.CreateRef(ctx, repo.Owner, repo.Name, ref); err != nil {
		if _, _, err2 := gh.Git.UpdateRef(ctx, repo.Owner, repo.Name, ref, true); err2 == nil {
			return nil
		}
		return fmt.Errorf("creating branch %s of %s: %w", branch, repo, classify(err))
	}
	return nil
}

func toPR(p *github.PullRequest) app.PullRequest {
	labels := make([]string, 0, len(p.Labels))
	for _, l := range p.Labels {
		labels = append(labels, l.GetName())
	}
	return app.PullRequest{
		Number:    p.GetNumber(),
		State:     p.GetState(),
		Merged:    p.GetMerged() || p.MergedAt != nil,
		Title:     p.GetTitle(),
		Body:      p.GetBody(),
		HeadRef:   p.GetHead().GetRef(),
		HeadSHA:   p.GetHead().GetSHA(),
		BaseRef:   p.GetBase().GetRef(),
		BaseSHA:   p.GetBase().GetSHA(),
		Labels:    labels,
		HTMLURL:   p.GetHTMLURL(),
		MergeSHA:  p.GetMergeCommitSHA(),
		UpdatedAt: p.GetUpdatedAt().Time,
	}
}

// OpenPR implements app.PullRequests.
func (c *Client) OpenPR(ctx context.Context, repo app.Repo, head, base string) (app.PullRequest, error) {
	prs, err := c.listPRs(ctx, repo, head, base, "open")
	if err != nil {
		return app.PullRequest{}, err
	}
	if len(prs) == 0 {
		return app.PullRequest{}, fmt.Errorf("open PR from %s in %s: %w", head, repo, app.ErrNotFound)
	}
	return prs[0], nil
}

// LastPR implements app.PullRequests.
func (c *Client) LastPR(ctx context.Context, repo app.Repo, head string) (app.PullRequest, error) {
	prs, err := c.listPRs(ctx, repo, head, "", "all")
	if err != nil {
		return app.PullRequest{}, err
	}
	if len(prs) == 0 {
		return app.PullRequest{}, fmt.Errorf("PR from %s in %s: %w", head, repo, app.ErrNotFound)
	}
	sort.SliceStable(prs, func(i, j int) bool { return prs[i].Number > prs[j].Number })
	return prs[0], nil
}

func (c *Client) listPRs(ctx context.Context, repo app.Repo, head, base, state string) ([]app.PullRequest, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return nil, err
	}
	list, _, err := gh.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{
		Head: repo.Owner + ":" + head, Base: base, State: state,
		Sort: "created", Direction: "desc", ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("listing PRs from %s in %s: %w", head, repo, classify(err))
	}
	out := make([]app.PullRequest, 0, len(list))
	for _, p := range list {
		out = append(out, toPR(p))
	}
	return out, nil
}

// GetPR implements app.PullRequests.
func (c *Client) GetPR(ctx context.Context, repo app.Repo, number int) (app.PullRequest, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return app.PullRequest{}, err
	}
	p, _, err := gh.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return app.PullRequest{}, fmt.Errorf("reading PR #%d of %s: %w", number, repo, classify(err))
	}
	return toPR(p), nil
}

// CreatePR implements app.PullRequests.
func (c *Client) CreatePR(ctx context.Context, repo app.Repo, head, base, title, body string) (app.PullRequest, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return app.PullRequest{}, err
	}
	p, _, err := gh.PullRequests.Create(ctx, repo.Owner, repo.Name, &github.NewPullRequest{
		Title: github.String(title), Head: github.String(head), Base: github.String(base),
		Body: github.String(body), MaintainerCanModify: github.Bool(false),
	})
	if err != nil {
		return app.PullRequest{}, fmt.Errorf("opening PR from %s in %s: %w", head, repo, classify(err))
	}
	return toPR(p), nil
}

// EditPR implements app.PullRequests.
func (c *Client) EditPR(ctx context.Context, repo app.Repo, number int, title, body, state string) error {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return err
	}
	edit := &github.PullRequest{}
	if title != "" {
		edit.Title = github.String(title)
	}
	if body != "" {
		edit.Body = github.String(body)
	}
	if state != "" {
		edit.State = github.String(state)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, edit); err != nil {
		return fmt.Errorf("editing PR #%d of %s: %w", number, repo, classify(err))
	}
	return nil
}

// AddLabels implements app.PullRequests.
func (c *Client) AddLabels(ctx context.Context, repo app.Repo, number int, labels ...string) error {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return err
	}
	if _, _, err := gh.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return fmt.Errorf("labelling PR #%d of %s: %w", number, repo, classify(err))
	}
	return nil
}

// Comment implements app.PullRequests.
func (c *Client) Comment(ctx context.Context, repo app.Repo, number int, body string) error {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return err
	}
	if _, _, err := gh.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("commenting on PR #%d of %s: %w", number, repo, classify(err))
	}
	return nil
}

// CreateCheckRun implements app.Checks. Annotations beyond the first 50 are
// sent by follow-up updates, which GitHub appends.
func (c *Client) CreateCheckRun(ctx context.Context, repo app.Repo, run app.CheckRun) (int64, error) {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return 0, err
	}
	first, rest := splitAnnotations(run.Annotations)
	opts := github.CreateCheckRunOptions{
		Name:       run.Name,
		HeadSHA:    run.HeadSHA,
		DetailsURL: optional(run.DetailsURL),
		ExternalID: optional(run.ExternalID),
		Status:     optional(run.Status),
		Conclusion: optional(run.Conclusion),
		Output:     output(run, first),
	}
	cr, _, err := gh.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
	if err != nil {
		return 0, fmt.Errorf("creating check run %s on %s in %s: %w", run.Name, short(run.HeadSHA), repo, classify(err))
	}
	if err := c.appendAnnotations(ctx, gh, repo, cr.GetID(), run, rest); err != nil {
		return cr.GetID(), err
	}
	return cr.GetID(), nil
}

// UpdateCheckRun implements app.Checks.
func (c *Client) UpdateCheckRun(ctx context.Context, repo app.Repo, id int64, run app.CheckRun) error {
	gh, err := c.installationClient(ctx, repo)
	if err != nil {
		return err
	}
	first, rest := splitAnnotations(run.Annotations)
	if err := c.update(ctx, gh, repo, id, run, first); err != nil {
		return err
	}
	return c.appendAnnotations(ctx, gh, repo, id, run, rest)
}

func (c *Client) appendAnnotations(ctx context.Context, gh *github.Client, repo app.Repo, id int64, run app.CheckRun, rest []app.Annotation) error {
	for len(rest) > 0 {
		var batch []app.Annotation
		batch, rest = splitAnnotations(rest)
		if err := c.update(ctx, gh, repo, id, run, batch); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) update(ctx context.Context, gh *github.Client, repo app.Repo, id int64, run app.CheckRun, annotations []app.Annotation) error {
	// UpdateCheckRunOptions.Name has no omitempty in go-github v62: always
	// set it, or the run is renamed to "".
	opts := github.UpdateCheckRunOptions{
		Name:       run.Name,
		DetailsURL: optional(run.DetailsURL),
		ExternalID: optional(run.ExternalID),
		Status:     optional(run.Status),
		Conclusion: optional(run.Conclusion),
		Output:     output(run, annotations),
	}
	if _, _, err := gh.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, id, opts); err != nil {
		return fmt.Errorf("updating check run %s in %s: %w", run.Name, repo, classify(err))
	}
	return nil
}

// optional leaves an empty field out of the request.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func splitAnnotations(all []app.Annotation) (first, rest []app.Annotation) {
	if len(all) <= maxAnnotationsPerRequest {
		return all, nil
	}
	return all[:maxAnnotationsPerRequest], all[maxAnnotationsPerRequest:]
}

func output(run app.CheckRun, annotations []app.Annotation) *github.CheckRunOutput {
	if run.Title == "" && run.Summary == "" {
		return nil
	}
	out := &github.CheckRunOutput{Title: github.String(run.Title), Summary: github.String(run.Summary)}
	if run.Text != "" {
		out.Text = github.String(run.Text)
	}
	for _, a := range annotations {
		ga := &github.CheckRunAnnotation{
			Path:            github.String(a.Path),
			StartLine:       github.Int(max(a.StartLine, 1)),
			EndLine:         github.Int(max(a.EndLine, a.StartLine, 1)),
			AnnotationLevel: github.String(a.Level),
			Message:         github.String(a.Message),
		}
		if a.Title != "" {
			ga.Title = github.String(a.Title)
		}
		// Columns are only accepted on single-line annotations.
		if a.StartColumn > 0 && (a.EndLine == 0 || a.EndLine == a.StartLine) {
			ga.StartColumn = github.Int(a.StartColumn)
			ga.EndColumn = github.Int(max(a.EndColumn, a.StartColumn))
		}
		out.Annotations = append(out.Annotations, ga)
	}
	return out
}

func short(sha string) string {
	if len(sha) == 40 {
		return sha[:7]
	}
	return sha
}

// RecentDeliveries lists the App's webhook delivery attempts since the
// given time, newest first, at most max of them. It uses the App's JWT
// (GET /app/hook/deliveries).
func (c *Client) RecentDeliveries(ctx context.Context, since time.Time, max int) ([]app.WebhookAttempt, error) {
	appClient, err := c.cc.NewAppClient()
	if err != nil {
		return nil, fmt.Errorf("creating app client: %w", err)
	}
	var out []app.WebhookAttempt
	opts := &github.ListCursorOptions{PerPage: 100}
	for len(out) < max {
		page, resp, err := appClient.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing webhook deliveries: %w", classify(err))
		}
		for _, d := range page {
			at := d.GetDeliveredAt().Time
			if at.Before(since) || len(out) == max {
				return out, nil
			}
			out = append(out, app.WebhookAttempt{
				ID: d.GetID(), GUID: d.GetGUID(), Event: d.GetEvent(), At: at,
				StatusCode: d.GetStatusCode(), Redelivery: d.GetRedelivery(),
			})
		}
		if resp.Cursor == "" || len(page) == 0 {
			break
		}
		opts.Cursor = resp.Cursor
	}
	return out, nil
}

// Redeliver asks GitHub to send a delivery attempt again, with the same
// X-GitHub-Delivery (POST /app/hook/deliveries/{id}/attempts).
func (c *Client) Redeliver(ctx context.Context, id int64) error {
	appClient, err := c.cc.NewAppClient()
	if err != nil {
		return fmt.Errorf("creating app client: %w", err)
	}
	if _, _, err := appClient.Apps.RedeliverHookDelivery(ctx, id); err != nil {
		var accepted *github.AcceptedError
		if errors.As(err, &accepted) {
			return nil // 202: GitHub queued the redelivery
		}
		return fmt.Errorf("redelivering webhook delivery %d: %w", id, classify(err))
	}
	return nil
}
