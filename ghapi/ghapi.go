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
	"time"

	"github.com/google/go-github/v62/github"
	"github.com/palantir/go-githubapp/githubapp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

var (
	_ gh.GitHub             = (*Client)(nil)
	_ gh.Comparer           = (*Client)(nil)
	_ gh.Installations      = (*Client)(nil)
	_ gh.InstallationFinder = (*Client)(nil)
	_ gh.AppIdentity        = (*Client)(nil)
	_ gh.Redeliverer        = (*Client)(nil)
)

// maxAnnotationsPerRequest is GitHub's limit on annotations in one check run
// create or update (docs.github.com/en/rest/checks/runs, "annotations").
const maxAnnotationsPerRequest = 50

// Client talks to GitHub for any repository the App is installed on.
type Client struct {
	now  func() time.Time
	inst *installations // finds and authenticates installations (installations.go)
}

// New returns a Client. Installation ids are looked up per repository and
// cached for ttl (GET /repos/{owner}/{repo}/installation also proves the
// repository is in the installation's selection).
func New(cc githubapp.ClientCreator, ttl time.Duration) *Client {
	c := &Client{now: time.Now}
	c.inst = &installations{cc: cc, ttl: ttl, now: c.now, classify: c.classify, ids: map[string]cachedInstallation{}}
	return c
}

// Forget drops the cached installation of every repository of owner, after
// an installation event.
func (c *Client) Forget(owner string) { c.inst.forget(owner) }

// DefaultBranch implements gh.RepoReader.
func (c *Client) DefaultBranch(ctx context.Context, repo gh.Repo) (string, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return "", err
	}
	r, _, err := client.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return "", fmt.Errorf("reading repository %s: %w", repo, c.classify(err))
	}
	return r.GetDefaultBranch(), nil
}

// Branch implements gh.RepoReader.
func (c *Client) Branch(ctx context.Context, repo gh.Repo, branch string) (gh.Commit, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.Commit{}, err
	}
	ref, _, err := client.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		return gh.Commit{}, fmt.Errorf("reading branch %s of %s: %w", branch, repo, c.classify(err))
	}
	return c.resolve(ctx, client, repo, ref.GetObject().GetSHA())
}

// Resolve implements gh.RepoReader.
func (c *Client) Resolve(ctx context.Context, repo gh.Repo, sha string) (gh.Commit, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.Commit{}, err
	}
	return c.resolve(ctx, client, repo, sha)
}

func (c *Client) resolve(ctx context.Context, client *github.Client, repo gh.Repo, sha string) (gh.Commit, error) {
	commit, _, err := client.Git.GetCommit(ctx, repo.Owner, repo.Name, sha)
	if err != nil {
		return gh.Commit{}, fmt.Errorf("reading commit %s of %s: %w", sha, repo, c.classify(err))
	}
	return gh.Commit{SHA: commit.GetSHA(), TreeSHA: commit.GetTree().GetSHA()}, nil
}

// Tree implements gh.RepoReader with one recursive tree request.
func (c *Client) Tree(ctx context.Context, repo gh.Repo, treeSHA, dir string) (map[string]string, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	tree, _, err := client.Git.GetTree(ctx, repo.Owner, repo.Name, treeSHA, true)
	if err != nil {
		return nil, fmt.Errorf("reading tree %s of %s: %w", treeSHA, repo, c.classify(err))
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

// Blobs implements gh.RepoReader.
func (c *Client) Blobs(ctx context.Context, repo gh.Repo, shas []string) (map[string][]byte, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(shas))
	for _, sha := range shas {
		if _, done := out[sha]; done {
			continue
		}
		b, _, err := client.Git.GetBlobRaw(ctx, repo.Owner, repo.Name, sha)
		if err != nil {
			return nil, fmt.Errorf("reading blob %s of %s: %w", sha, repo, c.classify(err))
		}
		out[sha] = b
	}
	return out, nil
}

// File implements gh.RepoReader.
func (c *Client) File(ctx context.Context, repo gh.Repo, ref, filePath string) ([]byte, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	fc, _, _, err := client.Repositories.GetContents(ctx, repo.Owner, repo.Name, filePath, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s in %s: %w", filePath, short(ref), repo, c.classify(err))
	}
	if fc == nil {
		return nil, fmt.Errorf("reading %s at %s in %s: %w: it is a directory", filePath, short(ref), repo, gh.ErrNotFound)
	}
	if fc.GetEncoding() == "none" || (fc.Content == nil && fc.GetSize() > 0) {
		// The contents API omits files over 1 MB; fetch the blob instead.
		b, _, err := client.Git.GetBlobRaw(ctx, repo.Owner, repo.Name, fc.GetSHA())
		if err != nil {
			return nil, fmt.Errorf("reading blob of %s in %s: %w", filePath, repo, c.classify(err))
		}
		return b, nil
	}
	s, err := fc.GetContent()
	if err != nil {
		return nil, fmt.Errorf("decoding %s in %s: %w", filePath, repo, err)
	}
	return []byte(s), nil
}

// CommitFiles implements gh.BranchWriter with two calls: one tree (inline
// contents and deletions over the parent's tree) and one commit.
func (c *Client) CommitFiles(ctx context.Context, repo gh.Repo, parent gh.Commit, message string, files map[string][]byte) (gh.Commit, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.Commit{}, err
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
	tree, _, err := client.Git.CreateTree(ctx, repo.Owner, repo.Name, parent.TreeSHA, entries)
	if err != nil {
		return gh.Commit{}, fmt.Errorf("creating tree in %s: %w", repo, c.classify(err))
	}
	commit, _, err := client.Git.CreateCommit(ctx, repo.Owner, repo.Name, &github.Commit{
		Message: github.String(message),
		Tree:    &github.Tree{SHA: tree.SHA},
		Parents: []*github.Commit{{SHA: github.String(parent.SHA)}},
	}, nil)
	if err != nil {
		return gh.Commit{}, fmt.Errorf("creating commit in %s: %w", repo, c.classify(err))
	}
	return gh.Commit{SHA: commit.GetSHA(), TreeSHA: tree.GetSHA()}, nil
}

// SetBranch implements gh.BranchWriter: force-update, or create when the
// branch does not exist (and update again if it appeared meanwhile).
func (c *Client) SetBranch(ctx context.Context, repo gh.Repo, branch, sha string) error {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return err
	}
	ref := &github.Reference{Ref: github.String("refs/heads/" + branch), Object: &github.GitObject{SHA: github.String(sha)}}
	_, _, err = client.Git.UpdateRef(ctx, repo.Owner, repo.Name, ref, true)
	if err == nil {
		return nil
	}
	// GitHub answers 422 "Reference does not exist" for a missing branch.
	var resp *github.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil || (resp.Response.StatusCode != http.StatusUnprocessableEntity && resp.Response.StatusCode != http.StatusNotFound) {
		return fmt.Errorf("updating branch %s of %s: %w", branch, repo, c.classify(err))
	}
	if _, _, err := client.Git.CreateRef(ctx, repo.Owner, repo.Name, ref); err != nil {
		if _, _, err2 := client.Git.UpdateRef(ctx, repo.Owner, repo.Name, ref, true); err2 == nil {
			return nil
		}
		return fmt.Errorf("creating branch %s of %s: %w", branch, repo, c.classify(err))
	}
	return nil
}

func toPR(p *github.PullRequest) gh.PullRequest {
	labels := make([]string, 0, len(p.Labels))
	for _, l := range p.Labels {
		labels = append(labels, l.GetName())
	}
	return gh.PullRequest{
		Number:  p.GetNumber(),
		State:   p.GetState(),
		Merged:  p.GetMerged() || p.MergedAt != nil,
		Title:   p.GetTitle(),
		Body:    p.GetBody(),
		HeadRef: p.GetHead().GetRef(),
		HeadSHA: p.GetHead().GetSHA(),
		// head.repo is null when the fork it came from was deleted.
		HeadRepo:    p.GetHead().GetRepo().GetFullName(),
		Author:      p.GetUser().GetLogin(),
		AuthorIsBot: p.GetUser().GetType() == "Bot",
		BaseRef:     p.GetBase().GetRef(),
		BaseSHA:     p.GetBase().GetSHA(),
		Labels:      labels,
		HTMLURL:     p.GetHTMLURL(),
		MergeSHA:    p.GetMergeCommitSHA(),
		UpdatedAt:   p.GetUpdatedAt().Time,
	}
}

// Compare implements gh.Comparer. One commit per page is enough: the port
// reads the counts and the merge base, not the list.
func (c *Client) Compare(ctx context.Context, repo gh.Repo, base, head string) (gh.Comparison, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.Comparison{}, err
	}
	cmp, _, err := client.Repositories.CompareCommits(ctx, repo.Owner, repo.Name, base, head, &github.ListOptions{PerPage: 1})
	if err != nil {
		return gh.Comparison{}, fmt.Errorf("comparing %s with %s in %s: %w", short(head), short(base), repo, c.classify(err))
	}
	return gh.Comparison{
		MergeBase: cmp.GetMergeBaseCommit().GetSHA(),
		Status:    cmp.GetStatus(),
		AheadBy:   cmp.GetAheadBy(),
		BehindBy:  cmp.GetBehindBy(),
	}, nil
}

// OpenPR implements gh.PullRequests.
func (c *Client) OpenPR(ctx context.Context, repo gh.Repo, head, base string) (gh.PullRequest, error) {
	prs, err := c.listPRs(ctx, repo, head, base, "open")
	if err != nil {
		return gh.PullRequest{}, err
	}
	if len(prs) == 0 {
		return gh.PullRequest{}, fmt.Errorf("open PR from %s in %s: %w", head, repo, gh.ErrNotFound)
	}
	return prs[0], nil
}

// LastPR implements gh.PullRequests.
func (c *Client) LastPR(ctx context.Context, repo gh.Repo, head string) (gh.PullRequest, error) {
	prs, err := c.listPRs(ctx, repo, head, "", "all")
	if err != nil {
		return gh.PullRequest{}, err
	}
	if len(prs) == 0 {
		return gh.PullRequest{}, fmt.Errorf("PR from %s in %s: %w", head, repo, gh.ErrNotFound)
	}
	sort.SliceStable(prs, func(i, j int) bool { return prs[i].Number > prs[j].Number })
	return prs[0], nil
}

func (c *Client) listPRs(ctx context.Context, repo gh.Repo, head, base, state string) ([]gh.PullRequest, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return nil, err
	}
	list, _, err := client.PullRequests.List(ctx, repo.Owner, repo.Name, &github.PullRequestListOptions{
		Head: repo.Owner + ":" + head, Base: base, State: state,
		Sort: "created", Direction: "desc", ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("listing PRs from %s in %s: %w", head, repo, c.classify(err))
	}
	out := make([]gh.PullRequest, 0, len(list))
	for _, p := range list {
		out = append(out, toPR(p))
	}
	return out, nil
}

// GetPR implements gh.PullRequests.
func (c *Client) GetPR(ctx context.Context, repo gh.Repo, number int) (gh.PullRequest, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.PullRequest{}, err
	}
	p, _, err := client.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
	if err != nil {
		return gh.PullRequest{}, fmt.Errorf("reading PR #%d of %s: %w", number, repo, c.classify(err))
	}
	return toPR(p), nil
}

// CreatePR implements gh.PullRequests.
func (c *Client) CreatePR(ctx context.Context, repo gh.Repo, head, base, title, body string) (gh.PullRequest, error) {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return gh.PullRequest{}, err
	}
	p, _, err := client.PullRequests.Create(ctx, repo.Owner, repo.Name, &github.NewPullRequest{
		Title: github.String(title), Head: github.String(head), Base: github.String(base),
		Body: github.String(body), MaintainerCanModify: github.Bool(false),
	})
	if err != nil {
		return gh.PullRequest{}, fmt.Errorf("opening PR from %s in %s: %w", head, repo, c.classify(err))
	}
	return toPR(p), nil
}

// EditPR implements gh.PullRequests.
func (c *Client) EditPR(ctx context.Context, repo gh.Repo, number int, title, body, state string) error {
	client, err := c.inst.client(ctx, repo)
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
	if _, _, err := client.PullRequests.Edit(ctx, repo.Owner, repo.Name, number, edit); err != nil {
		return fmt.Errorf("editing PR #%d of %s: %w", number, repo, c.classify(err))
	}
	return nil
}

// AddLabels implements gh.PullRequests.
func (c *Client) AddLabels(ctx context.Context, repo gh.Repo, number int, labels ...string) error {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return err
	}
	if _, _, err := client.Issues.AddLabelsToIssue(ctx, repo.Owner, repo.Name, number, labels); err != nil {
		return fmt.Errorf("labelling PR #%d of %s: %w", number, repo, c.classify(err))
	}
	return nil
}

// Comment implements gh.PullRequests.
func (c *Client) Comment(ctx context.Context, repo gh.Repo, number int, body string) error {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return err
	}
	if _, _, err := client.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &github.IssueComment{Body: github.String(body)}); err != nil {
		return fmt.Errorf("commenting on PR #%d of %s: %w", number, repo, c.classify(err))
	}
	return nil
}

// CreateCheckRun implements gh.Checks. Annotations beyond the first 50 are
// sent by follow-up updates, which GitHub appends.
func (c *Client) CreateCheckRun(ctx context.Context, repo gh.Repo, run gh.CheckRun) (int64, error) {
	client, err := c.inst.client(ctx, repo)
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
	cr, _, err := client.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
	if err != nil {
		return 0, fmt.Errorf("creating check run %s on %s in %s: %w", run.Name, short(run.HeadSHA), repo, c.classify(err))
	}
	if err := c.appendAnnotations(ctx, client, repo, cr.GetID(), run, rest); err != nil {
		return cr.GetID(), err
	}
	return cr.GetID(), nil
}

// UpdateCheckRun implements gh.Checks.
func (c *Client) UpdateCheckRun(ctx context.Context, repo gh.Repo, id int64, run gh.CheckRun) error {
	client, err := c.inst.client(ctx, repo)
	if err != nil {
		return err
	}
	first, rest := splitAnnotations(run.Annotations)
	if err := c.update(ctx, client, repo, id, run, first); err != nil {
		return err
	}
	return c.appendAnnotations(ctx, client, repo, id, run, rest)
}

func (c *Client) appendAnnotations(ctx context.Context, client *github.Client, repo gh.Repo, id int64, run gh.CheckRun, rest []gh.Annotation) error {
	for len(rest) > 0 {
		var batch []gh.Annotation
		batch, rest = splitAnnotations(rest)
		if err := c.update(ctx, client, repo, id, run, batch); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) update(ctx context.Context, client *github.Client, repo gh.Repo, id int64, run gh.CheckRun, annotations []gh.Annotation) error {
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
	if _, _, err := client.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, id, opts); err != nil {
		return fmt.Errorf("updating check run %s in %s: %w", run.Name, repo, c.classify(err))
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

func splitAnnotations(all []gh.Annotation) (first, rest []gh.Annotation) {
	if len(all) <= maxAnnotationsPerRequest {
		return all, nil
	}
	return all[:maxAnnotationsPerRequest], all[maxAnnotationsPerRequest:]
}

func output(run gh.CheckRun, annotations []gh.Annotation) *github.CheckRunOutput {
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
func (c *Client) RecentDeliveries(ctx context.Context, since time.Time, max int) ([]gh.WebhookAttempt, error) {
	appClient, err := c.inst.app()
	if err != nil {
		return nil, err
	}
	var out []gh.WebhookAttempt
	opts := &github.ListCursorOptions{PerPage: 100}
	for len(out) < max {
		page, resp, err := appClient.Apps.ListHookDeliveries(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing webhook deliveries: %w", c.classify(err))
		}
		for _, d := range page {
			at := d.GetDeliveredAt().Time
			if at.Before(since) || len(out) == max {
				return out, nil
			}
			out = append(out, gh.WebhookAttempt{
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
// X-GitHub-Delivery (POST /app/hook/deliveries/{id}/attempts). GitHub
// answers 202 Accepted, which go-github v62 reports as an
// *github.AcceptedError (CheckResponse in github.go): that is success.
func (c *Client) Redeliver(ctx context.Context, id int64) error {
	appClient, err := c.inst.app()
	if err != nil {
		return err
	}
	if _, _, err := appClient.Apps.RedeliverHookDelivery(ctx, id); err != nil {
		var accepted *github.AcceptedError
		if errors.As(err, &accepted) {
			return nil // 202: GitHub queued the redelivery
		}
		return fmt.Errorf("redelivering webhook delivery %d: %w", id, c.classify(err))
	}
	return nil
}
