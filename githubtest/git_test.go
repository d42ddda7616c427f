package githubtest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

func TestBlobSHAMatchesGitHashObject(t *testing.T) {
	tests := map[string]string{
		"hello\n": "ce013625030ba8dba906f756967f9e9ca394464a",
		"":        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
	}
	for content, want := range tests {
		if got := githubtest.BlobSHA(content); got != want {
			t.Errorf("BlobSHA(%q) = %s, want %s", content, got, want)
		}
	}
}

// The expected ids below were computed with git (git write-tree and
// git commit-tree with fixed dates).
func TestTreeAndCommitIDsMatchGit(t *testing.T) {
	s := newServer(t)
	s.CreateRepo("acme", "platform", "main", nil)
	ctx := context.Background()
	c := userClient(t, s)

	tree, _, err := c.Git.CreateTree(ctx, "acme", "platform", "", []*github.TreeEntry{
		{Path: ptr("a.txt"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("hello\n")},
		{Path: ptr("dir/b.txt"), Mode: ptr("100755"), Type: ptr("blob"), Content: ptr("world\n")},
		{Path: ptr("run.sh"), Mode: ptr("100755"), Type: ptr("blob"), Content: ptr("#!/bin/sh\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tree.GetSHA(), "798a479ce65b1788aa0f10f9f4bd520cd84f9f2e"; got != want {
		t.Errorf("tree sha = %s, want %s", got, want)
	}
	when := github.Timestamp{Time: time.Unix(1700000000, 0).UTC()}
	mona := &github.CommitAuthor{Name: ptr("Mona Lisa"), Email: ptr("mona@example.com"), Date: &when}
	commit, _, err := c.Git.CreateCommit(ctx, "acme", "platform", &github.Commit{
		Message: ptr("first\n"), Tree: &github.Tree{SHA: tree.SHA}, Author: mona, Committer: mona,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := commit.GetSHA(), "691b90367831922aa954c6585ce282ca5f9aa6b3"; got != want {
		t.Errorf("commit sha = %s, want %s", got, want)
	}

	// git orders "a-b" < "a/" (tree) < "a0".
	ordered, _, err := c.Git.CreateTree(ctx, "acme", "platform", "", []*github.TreeEntry{
		{Path: ptr("a0"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("3\n")},
		{Path: ptr("a/x"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("1\n")},
		{Path: ptr("a-b"), Mode: ptr("100644"), Type: ptr("blob"), Content: ptr("2\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ordered.GetSHA(), "b800eddeab88fef64e9ccf0d6f25ed491bf1dd37"; got != want {
		t.Errorf("ordered tree sha = %s, want %s", got, want)
	}
	var names []string
	for _, e := range ordered.Entries {
		names = append(names, e.GetPath()+" "+e.GetMode())
	}
	if diff := cmp.Diff([]string{"a-b 100644", "a 040000", "a0 100644"}, names); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	// The tree's blob ids are git's, and the blobs can be read back.
	got, _, err := c.Git.GetBlob(ctx, "acme", "platform", githubtest.BlobSHA("hello\n"))
	if err != nil || got.GetEncoding() != "base64" || got.GetSize() != 6 {
		t.Errorf("GetBlob = %+v, %v", got, err)
	}
}

// configRepo is the content the propose tests start from.
func pipelinesRepo(s *githubtest.Server) string {
	s.AddInstallation("acme-pipelines")
	return s.CreateRepo("acme-pipelines", "harness-pipelines", "main", map[string]string{
		"pipelines/payment-cd.yaml":  "payment: v1\n",
		"pipelines/orders-cd.yaml":   "orders: v1\n",
		"pipelines/obsolete-cd.yaml": "obsolete: v1\n",
		"templates/api.yaml":         "template\n",
	})
}

// proposeCommit builds one commit on top of main with go-github, the way
// the app's propose step does, and returns its id.
func proposeCommit(tb testing.TB, c *github.Client, files map[string]*string) string {
	tb.Helper()
	ctx := context.Background()
	ref, _, err := c.Git.GetRef(ctx, "acme-pipelines", "harness-pipelines", "heads/main")
	if err != nil {
		tb.Fatal(err)
	}
	base, _, err := c.Git.GetCommit(ctx, "acme-pipelines", "harness-pipelines", ref.GetObject().GetSHA())
	if err != nil {
		tb.Fatal(err)
	}
	var entries []*github.TreeEntry
	for p, content := range files {
		e := &github.TreeEntry{Path: ptr(p), Mode: ptr("100644"), Type: ptr("blob"), Content: content}
		entries = append(entries, e)
	}
	tree, _, err := c.Git.CreateTree(ctx, "acme-pipelines", "harness-pipelines", base.GetTree().GetSHA(), entries)
	if err != nil {
		tb.Fatal(err)
	}
	commit, _, err := c.Git.CreateCommit(ctx, "acme-pipelines", "harness-pipelines", &github.Commit{
		Message: ptr("Sync pipelines"), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: base.SHA}},
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return commit.GetSHA()
}

func TestProposeFlowThroughGoGitHub(t *testing.T) {
	s := newServer(t)
	pipelinesRepo(s)
	inst := s.AddInstallation("acme-pipelines")
	c := installationClient(t, s, inst)
	ctx := context.Background()
	const o, r = "acme-pipelines", "harness-pipelines"

	// The recursive tree lists every path, with blob ids git would compute.
	ref, _, err := c.Git.GetRef(ctx, o, r, "heads/main")
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := c.Git.GetCommit(ctx, o, r, ref.GetObject().GetSHA())
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := c.Git.GetTree(ctx, o, r, head.GetTree().GetSHA(), true)
	if err != nil {
		t.Fatal(err)
	}
	if tree.Truncated == nil || tree.GetTruncated() {
		t.Errorf("truncated = %v, want false", tree.Truncated)
	}
	blobs := map[string]string{}
	for _, e := range tree.Entries {
		if e.GetType() == "blob" {
			blobs[e.GetPath()] = e.GetSHA()
		}
	}
	if got, want := blobs["pipelines/payment-cd.yaml"], githubtest.BlobSHA("payment: v1\n"); got != want {
		t.Errorf("payment blob = %s, want %s", got, want)
	}
	if len(blobs) != 4 {
		t.Errorf("recursive tree has %d blobs, want 4: %v", len(blobs), blobs)
	}

	// Deleting a path that does not exist is refused, like GitHub's 422.
	_, _, err = c.Git.CreateTree(ctx, o, r, head.GetTree().GetSHA(), []*github.TreeEntry{
		{Path: ptr("pipelines/never-existed.yaml"), Mode: ptr("100644"), Type: ptr("blob")},
	})
	if got := statusOf(t, err); got != http.StatusUnprocessableEntity {
		t.Errorf("deleting a missing path: status %d, want 422", got)
	}

	// First proposal: one commit with an add, an update and a delete.
	first := proposeCommit(t, c, map[string]*string{
		"pipelines/payment-cd.yaml":  ptr("payment: v2\n"),
		"pipelines/new-cd.yaml":      ptr("new: v1\n"),
		"pipelines/obsolete-cd.yaml": nil,
	})
	if _, _, err := c.Git.GetRef(ctx, o, r, "heads/pipeline-orchestrator/sync"); statusOf(t, err) != http.StatusNotFound {
		t.Fatalf("GetRef of a missing branch: %v, want 404", err)
	}
	_, _, err = c.Git.CreateRef(ctx, o, r, &github.Reference{Ref: ptr("refs/heads/pipeline-orchestrator/sync"), Object: &github.GitObject{SHA: &first}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Git.CreateRef(ctx, o, r, &github.Reference{Ref: ptr("refs/heads/pipeline-orchestrator/sync"), Object: &github.GitObject{SHA: &first}})
	if er, ok := err.(*github.ErrorResponse); !ok || er.Response.StatusCode != 422 || er.Message != "Reference already exists" {
		t.Errorf("second CreateRef = %v, want 422 Reference already exists", err)
	}
	wantTree := map[string]string{
		"pipelines/payment-cd.yaml": "payment: v2\n",
		"pipelines/orders-cd.yaml":  "orders: v1\n",
		"pipelines/new-cd.yaml":     "new: v1\n",
		"templates/api.yaml":        "template\n",
	}
	if diff := cmp.Diff(wantTree, s.Tree(o+"/"+r, "pipeline-orchestrator/sync")); diff != "" {
		t.Errorf("proposal tree (-want +got):\n%s", diff)
	}

	pr, _, err := c.PullRequests.Create(ctx, o, r, &github.NewPullRequest{
		Title: ptr("Sync pipelines"), Head: ptr("pipeline-orchestrator/sync"), Base: ptr("main"), Body: ptr("first"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if pr.GetUser().GetLogin() != "pipeline-orchestrator[bot]" || pr.GetHead().GetSHA() != first || pr.GetBase().GetRef() != "main" {
		t.Errorf("created PR user %s head %s base %s", pr.GetUser().GetLogin(), pr.GetHead().GetSHA(), pr.GetBase().GetRef())
	}
	_, _, err = c.PullRequests.Create(ctx, o, r, &github.NewPullRequest{
		Title: ptr("again"), Head: ptr("pipeline-orchestrator/sync"), Base: ptr("main"),
	})
	if er, ok := err.(*github.ErrorResponse); !ok || len(er.Errors) != 1 || er.Errors[0].Message != "A pull request already exists for acme-pipelines:pipeline-orchestrator/sync." {
		t.Errorf("duplicate PR error = %v", err)
	}

	// Second proposal: a fresh commit on the new base, force-pushed.
	second := proposeCommit(t, c, map[string]*string{
		"pipelines/payment-cd.yaml":  ptr("payment: v3\n"),
		"pipelines/new-cd.yaml":      ptr("new: v1\n"),
		"pipelines/obsolete-cd.yaml": nil,
	})
	_, _, err = c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: ptr("refs/heads/pipeline-orchestrator/sync"), Object: &github.GitObject{SHA: &second}}, false)
	if er, ok := err.(*github.ErrorResponse); !ok || er.Message != "Update is not a fast forward" {
		t.Errorf("non-forced UpdateRef = %v, want 422 Update is not a fast forward", err)
	}
	if _, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: ptr("refs/heads/pipeline-orchestrator/sync"), Object: &github.GitObject{SHA: &second}}, true); err != nil {
		t.Fatal(err)
	}
	open, _, err := c.PullRequests.List(ctx, o, r, &github.PullRequestListOptions{Head: "acme-pipelines:pipeline-orchestrator/sync", Base: "main", State: "open"})
	if err != nil {
		t.Fatal(err)
	}
	if len(open) != 1 || open[0].GetHead().GetSHA() != second {
		t.Fatalf("open PRs after force-push = %d (head %v), want 1 at %s", len(open), open, second)
	}
	if _, _, err := c.PullRequests.Edit(ctx, o, r, pr.GetNumber(), &github.PullRequest{Title: ptr("Sync pipelines (2)"), Body: ptr("second")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Issues.AddLabelsToIssue(ctx, o, r, pr.GetNumber(), []string{"pipeline-orchestrator"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := c.PullRequests.Get(ctx, o, r, pr.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTitle() != "Sync pipelines (2)" || got.GetBody() != "second" || len(got.Labels) != 1 || got.Labels[0].GetName() != "pipeline-orchestrator" {
		t.Errorf("edited PR = title %q body %q labels %v", got.GetTitle(), got.GetBody(), got.Labels)
	}
	if got.Mergeable == nil || !got.GetMergeable() || got.GetMerged() {
		t.Errorf("mergeable = %v merged = %v, want true, false", got.Mergeable, got.GetMerged())
	}
	diff, _, err := c.Repositories.CompareCommits(ctx, o, r, "main", "pipeline-orchestrator/sync", nil)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for _, f := range diff.Files {
		changed = append(changed, f.GetFilename()+" "+f.GetStatus())
	}
	if diff := cmp.Diff([]string{"pipelines/new-cd.yaml added", "pipelines/obsolete-cd.yaml removed", "pipelines/payment-cd.yaml modified"}, changed); diff != "" {
		t.Errorf("PR files (-want +got):\n%s", diff)
	}

	merged, err := s.MergePR(o+"/"+r, pr.GetNumber(), "squash")
	if err != nil {
		t.Fatal(err)
	}
	if s.Head(o+"/"+r, "main") != merged {
		t.Errorf("merged as %s, main at %s", merged, s.Head(o+"/"+r, "main"))
	}
	wantTree["pipelines/payment-cd.yaml"] = "payment: v3\n"
	if diff := cmp.Diff(wantTree, s.Tree(o+"/"+r, "main")); diff != "" {
		t.Errorf("main after merge (-want +got):\n%s", diff)
	}
	if calls := s.Calls(); calls["POST /repos/{owner}/{repo}/git/trees"] != 3 || calls["GET /repos/{owner}/{repo}/git/ref/{ref}"] != 4 {
		t.Errorf("calls = %v", calls)
	}
}

func TestCreatePullRequestValidation(t *testing.T) {
	s := newServer(t)
	pipelinesRepo(s)
	c := userClient(t, s)
	ctx := context.Background()
	const o, r = "acme-pipelines", "harness-pipelines"
	main := s.Head(o+"/"+r, "main")
	if err := s.SetBranch(o+"/"+r, "same", main); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, head, base, wantMsg string
	}{
		{"no commits", "same", "main", "No commits between main and same"},
		{"missing base", "same", "nope", ""},
		{"missing head", "nope", "main", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.PullRequests.Create(ctx, o, r, &github.NewPullRequest{Title: ptr("t"), Head: &tc.head, Base: &tc.base})
			er, ok := err.(*github.ErrorResponse)
			if !ok || er.Response.StatusCode != 422 || er.Message != "Validation Failed" {
				t.Fatalf("err = %v, want 422 Validation Failed", err)
			}
			if tc.wantMsg != "" && (len(er.Errors) != 1 || er.Errors[0].Message != tc.wantMsg) {
				t.Errorf("errors = %+v, want %q", er.Errors, tc.wantMsg)
			}
		})
	}
}

// mergeFixture opens a PR with two commits while main moves on with an
// unrelated change.
func mergeFixture(t *testing.T) (*githubtest.Server, int, string, []string) {
	s := newServer(t)
	pipelinesRepo(s)
	const repo = "acme-pipelines/harness-pipelines"
	c1 := s.Commit(repo, "feature", "add a", map[string]*string{"pipelines/a-cd.yaml": ptr("a\n")})
	c2 := s.Commit(repo, "feature", "edit payment", map[string]*string{"pipelines/payment-cd.yaml": ptr("payment: v2\n")})
	s.Commit(repo, "main", "edit orders", map[string]*string{"pipelines/orders-cd.yaml": ptr("orders: v2\n")})
	base := s.Head(repo, "main")
	n := s.OpenPR(repo, "feature", "main", "Feature", "body")
	return s, n, base, []string{c1, c2}
}

func TestMergeMethodsProduceGitHubsCommits(t *testing.T) {
	const repo = "acme-pipelines/harness-pipelines"
	want := map[string]string{
		"pipelines/payment-cd.yaml":  "payment: v2\n",
		"pipelines/orders-cd.yaml":   "orders: v2\n",
		"pipelines/obsolete-cd.yaml": "obsolete: v1\n",
		"pipelines/a-cd.yaml":        "a\n",
		"templates/api.yaml":         "template\n",
	}
	tests := map[string]func(t *testing.T, s *githubtest.Server, head, base string, prCommits []string){
		"merge": func(t *testing.T, s *githubtest.Server, head, base string, prCommits []string) {
			c, _ := s.CommitOf(repo, head)
			if diff := cmp.Diff([]string{base, prCommits[1]}, c.Parents); diff != "" {
				t.Errorf("merge commit parents (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(c.Message, "Merge pull request #1 from acme-pipelines/feature") {
				t.Errorf("message = %q", c.Message)
			}
		},
		"squash": func(t *testing.T, s *githubtest.Server, head, base string, prCommits []string) {
			c, _ := s.CommitOf(repo, head)
			if diff := cmp.Diff([]string{base}, c.Parents); diff != "" {
				t.Errorf("squash parents (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(c.Message, "Feature (#1)") {
				t.Errorf("message = %q", c.Message)
			}
		},
		"rebase": func(t *testing.T, s *githubtest.Server, head, base string, prCommits []string) {
			top, _ := s.CommitOf(repo, head)
			first, _ := s.CommitOf(repo, top.Parents[0])
			if diff := cmp.Diff([]string{base}, first.Parents); diff != "" {
				t.Errorf("rebased first commit parents (-want +got):\n%s", diff)
			}
			if top.Message != "edit payment" || first.Message != "add a" {
				t.Errorf("rebased messages = %q, %q", first.Message, top.Message)
			}
			if head == prCommits[1] || top.Parents[0] == prCommits[0] {
				t.Errorf("rebase kept the original commits")
			}
		},
	}
	for method, check := range tests {
		t.Run(method, func(t *testing.T) {
			s, n, base, prCommits := mergeFixture(t)
			head, err := s.MergePR(repo, n, method)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, s.Tree(repo, "main")); diff != "" {
				t.Errorf("main tree (-want +got):\n%s", diff)
			}
			if s.Head(repo, "main") != head {
				t.Errorf("main = %s, want %s", s.Head(repo, "main"), head)
			}
			pr, _ := s.PR(repo, n)
			if !pr.Merged || pr.State != "closed" || pr.MergeCommitSHA != head || pr.MergedBy != "octocat" {
				t.Errorf("PR after merge = %+v", pr)
			}
			check(t, s, head, base, prCommits)
		})
	}
}

func TestMergeRefusals(t *testing.T) {
	const o, r = "acme-pipelines", "harness-pipelines"
	ctx := context.Background()
	t.Run("conflict", func(t *testing.T) {
		s, n, _, _ := mergeFixture(t)
		s.Commit(o+"/"+r, "main", "conflicting", map[string]*string{"pipelines/payment-cd.yaml": ptr("payment: main\n")})
		pr, _, err := userClient(t, s).PullRequests.Get(ctx, o, r, n)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Mergeable == nil || pr.GetMergeable() || pr.GetMergeableState() != "dirty" {
			t.Errorf("mergeable = %v state %q, want false dirty", pr.Mergeable, pr.GetMergeableState())
		}
		_, _, err = userClient(t, s).PullRequests.Merge(ctx, o, r, n, "", nil)
		if got := statusOf(t, err); got != http.StatusMethodNotAllowed {
			t.Errorf("status = %d, want 405", got)
		}
	})
	t.Run("stale sha", func(t *testing.T) {
		s, n, _, commits := mergeFixture(t)
		_, _, err := userClient(t, s).PullRequests.Merge(ctx, o, r, n, "", &github.PullRequestOptions{SHA: commits[0]})
		if got := statusOf(t, err); got != http.StatusConflict {
			t.Errorf("status = %d, want 409", got)
		}
		res, _, err := userClient(t, s).PullRequests.Merge(ctx, o, r, n, "", &github.PullRequestOptions{SHA: commits[1], MergeMethod: "squash"})
		if err != nil || !res.GetMerged() || s.Head(o+"/"+r, "main") != res.GetSHA() {
			t.Errorf("merge with the head's sha = %+v, %v", res, err)
		}
	})
	t.Run("line-level merge of one file", func(t *testing.T) {
		s := newServer(t)
		s.AddInstallation("acme")
		s.CreateRepo("acme", "platform", "main", map[string]string{"f.txt": "1\n2\n3\n4\n5\n"})
		s.Commit("acme/platform", "feature", "top", map[string]*string{"f.txt": ptr("one\n2\n3\n4\n5\n")})
		s.Commit("acme/platform", "main", "bottom", map[string]*string{"f.txt": ptr("1\n2\n3\n4\nfive\n")})
		n := s.OpenPR("acme/platform", "feature", "main", "t", "")
		if _, err := s.MergePR("acme/platform", n, "merge"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.File("acme/platform", "main", "f.txt"); got != "one\n2\n3\n4\nfive\n" {
			t.Errorf("merged file = %q", got)
		}
	})
}

func TestContentsAPI(t *testing.T) {
	s := newServer(t)
	pipelinesRepo(s)
	c := userClient(t, s)
	ctx := context.Background()
	const o, r = "acme-pipelines", "harness-pipelines"

	file, _, _, err := c.Repositories.GetContents(ctx, o, r, "pipelines/payment-cd.yaml", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	content, _ := file.GetContent()
	if content != "payment: v1\n" || file.GetSHA() != githubtest.BlobSHA("payment: v1\n") || file.GetType() != "file" {
		t.Errorf("file = %q sha %s type %s", content, file.GetSHA(), file.GetType())
	}
	_, dir, _, err := c.Repositories.GetContents(ctx, o, r, "pipelines", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range dir {
		names = append(names, e.GetName())
	}
	if diff := cmp.Diff([]string{"obsolete-cd.yaml", "orders-cd.yaml", "payment-cd.yaml"}, names); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
	if _, _, _, err := c.Repositories.GetContents(ctx, o, r, "nope.yaml", nil); statusOf(t, err) != 404 {
		t.Errorf("missing file: %v, want 404", err)
	}

	created, _, err := c.Repositories.CreateFile(ctx, o, r, "docs/new.md", &github.RepositoryContentFileOptions{
		Message: ptr("add docs"), Content: []byte("doc\n"), Branch: ptr("main"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Content.GetSHA() != githubtest.BlobSHA("doc\n") || s.Head(o+"/"+r, "main") != created.Commit.GetSHA() {
		t.Errorf("create response content sha %s commit %s", created.Content.GetSHA(), created.Commit.GetSHA())
	}
	_, _, err = c.Repositories.UpdateFile(ctx, o, r, "docs/new.md", &github.RepositoryContentFileOptions{Message: ptr("m"), Content: []byte("x")})
	if got := statusOf(t, err); got != 422 {
		t.Errorf("update without sha: %d, want 422", got)
	}
	_, _, err = c.Repositories.UpdateFile(ctx, o, r, "docs/new.md", &github.RepositoryContentFileOptions{Message: ptr("m"), Content: []byte("x"), SHA: ptr(githubtest.BlobSHA("stale"))})
	if got := statusOf(t, err); got != 409 {
		t.Errorf("update with stale sha: %d, want 409", got)
	}
	if _, _, err := c.Repositories.UpdateFile(ctx, o, r, "docs/new.md", &github.RepositoryContentFileOptions{Message: ptr("m"), Content: []byte("doc 2\n"), SHA: ptr(githubtest.BlobSHA("doc\n"))}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.File(o+"/"+r, "main", "docs/new.md"); got != "doc 2\n" {
		t.Errorf("docs/new.md = %q after the update", got)
	}
}

func TestCompareReportsFilesAndDivergence(t *testing.T) {
	s := newServer(t)
	pipelinesRepo(s)
	const o, r = "acme-pipelines", "harness-pipelines"
	base := s.Head(o+"/"+r, "main")
	s.Commit(o+"/"+r, "feature", "changes", map[string]*string{
		"pipelines/payment-cd.yaml":  ptr("payment: v2\n"),
		"pipelines/added-cd.yaml":    ptr("added\n"),
		"pipelines/obsolete-cd.yaml": nil,
		"templates/api.yaml":         nil,
		"templates/api-v2.yaml":      ptr("template\n"),
	})
	s.Commit(o+"/"+r, "main", "main moves", map[string]*string{"README.md": ptr("readme\n")})
	cmpRes, _, err := userClient(t, s).Repositories.CompareCommits(context.Background(), o, r, "main", "feature", nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range cmpRes.Files {
		files = append(files, f.GetFilename()+" "+f.GetStatus()+" "+f.GetPreviousFilename())
	}
	want := []string{
		"pipelines/added-cd.yaml added ",
		"pipelines/obsolete-cd.yaml removed ",
		"pipelines/payment-cd.yaml modified ",
		"templates/api-v2.yaml renamed templates/api.yaml",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if cmpRes.GetStatus() != "diverged" || cmpRes.GetAheadBy() != 1 || cmpRes.GetBehindBy() != 1 || cmpRes.GetMergeBaseCommit().GetSHA() != base {
		t.Errorf("status %s ahead %d behind %d merge base %s", cmpRes.GetStatus(), cmpRes.GetAheadBy(), cmpRes.GetBehindBy(), cmpRes.GetMergeBaseCommit().GetSHA())
	}
	for _, f := range cmpRes.Files {
		if f.GetFilename() == "pipelines/payment-cd.yaml" && (f.GetSHA() != githubtest.BlobSHA("payment: v2\n") || f.GetAdditions() != 1 || f.GetDeletions() != 1) {
			t.Errorf("payment file = sha %s +%d -%d", f.GetSHA(), f.GetAdditions(), f.GetDeletions())
		}
	}
}

func TestBranchDeletionClosesPullRequests(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	pipelinesRepo(s)
	const repo = "acme-pipelines/harness-pipelines"
	s.Commit(repo, "feature", "x", map[string]*string{"x": ptr("x\n")})
	n := s.OpenPR(repo, "feature", "main", "X", "")
	if err := s.DeleteBranch(repo, "feature"); err != nil {
		t.Fatal(err)
	}
	pr, _ := s.PR(repo, n)
	if pr.State != "closed" || pr.Merged {
		t.Errorf("PR after head deletion = %s merged %v", pr.State, pr.Merged)
	}
	if err := s.ReopenPR(repo, n); err == nil {
		t.Errorf("reopening a PR whose head branch is gone succeeded")
	}
	s.WaitIdle()
	events := rc.events()
	if diff := cmp.Diff([]string{"push", "check_suite/requested", "pull_request/opened", "push", "pull_request/closed"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	del := rc.received()[3].Parsed.(*github.PushEvent)
	if !del.GetDeleted() || del.GetAfter() != strings.Repeat("0", 40) || del.HeadCommit != nil || len(del.Commits) != 0 {
		t.Errorf("deletion push = %s", rc.received()[3].Payload)
	}
}

func TestBlobRawMediaType(t *testing.T) {
	s := githubtest.New(githubtest.Options{UserToken: "user"})
	defer s.Close()
	content := "é — raw bytes\n"
	s.CreateRepo("o", "r", "main", map[string]string{"f.txt": content})
	client := github.NewClient(nil).WithAuthToken("user")
	base, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	client.BaseURL = base
	got, _, err := client.Git.GetBlobRaw(context.Background(), "o", "r", githubtest.BlobSHA(content))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content {
		t.Errorf("raw blob = %q, want %q", got, content)
	}
}
