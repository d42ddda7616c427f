package githubtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

func TestCompareStatuses(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	root := s.CreateRepo("acme", "platform", "main", map[string]string{"a": "a\n"})
	const repo = "acme/platform"
	ahead := s.Commit(repo, "team/feature", "one", map[string]*string{"b": ptr("b\n")})
	s.Commit(repo, "team/feature", "two", map[string]*string{"c": ptr("c\n")})
	moved := s.Commit(repo, "main", "main moves", map[string]*string{"d": ptr("d\n")})
	c := installationClient(t, s, inst)
	type result struct {
		Status              string
		MergeBase           string
		Ahead, Behind, List int
	}
	tests := []struct {
		base, head string
		want       result
	}{
		// Branch names with a slash are path-escaped by go-github.
		{"main", "team/feature", result{"diverged", root, 2, 1, 2}},
		{"team/feature", "main", result{"diverged", root, 1, 2, 1}},
		{root, ahead, result{"ahead", root, 1, 0, 1}},
		{moved, root, result{"behind", root, 0, 1, 0}},
		{"main", moved, result{"identical", moved, 0, 0, 0}},
		{"acme:main", "acme:team/feature", result{"diverged", root, 2, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.base+"..."+tc.head, func(t *testing.T) {
			got, _, err := c.Repositories.CompareCommits(context.Background(), "acme", "platform", tc.base, tc.head, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := result{got.GetStatus(), got.GetMergeBaseCommit().GetSHA(), got.GetAheadBy(), got.GetBehindBy(), len(got.Commits)}
			if diff := cmp.Diff(tc.want, r); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.GetTotalCommits() != tc.want.Ahead {
				t.Errorf("total_commits = %d, want %d", got.GetTotalCommits(), tc.want.Ahead)
			}
		})
	}
	_, _, err := c.Repositories.CompareCommits(context.Background(), "acme", "platform", "main", "nope", nil)
	if got := statusOf(t, err); got != 404 {
		t.Errorf("unknown head: status %d, want 404", got)
	}
}

func TestCompareLimits(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	s.CreateRepo("acme", "platform", "main", nil)
	const repo = "acme/platform"
	var first string
	files := map[string]*string{}
	for i := 0; i < 301; i++ {
		files[fmt.Sprintf("f%03d", i)] = ptr("x\n")
	}
	first = s.Commit(repo, "big", "301 files", files)
	for i := 1; i < 251; i++ {
		s.Commit(repo, "big", fmt.Sprintf("commit %d", i), map[string]*string{"n": ptr(fmt.Sprint(i))})
	}
	c := installationClient(t, s, inst)
	ctx := context.Background()

	got, _, err := c.Repositories.CompareCommits(ctx, "acme", "platform", "main", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetAheadBy() != 251 || got.GetTotalCommits() != 251 || len(got.Commits) != 250 || len(got.Files) != 300 {
		t.Errorf("ahead_by %d, total_commits %d, commits %d, files %d; want 251, 251, 250, 300",
			got.GetAheadBy(), got.GetTotalCommits(), len(got.Commits), len(got.Files))
	}
	if got.Commits[0].GetSHA() != first {
		t.Errorf("first commit listed = %s, want the oldest, %s", got.Commits[0].GetSHA(), first)
	}

	// With pagination, commits come a page at a time and files only on
	// the first page.
	page2, resp, err := c.Repositories.CompareCommits(ctx, "acme", "platform", "main", "big", &github.ListOptions{Page: 2, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page2.Commits) != 100 || page2.Files != nil || resp.NextPage != 3 {
		t.Errorf("page 2: %d commits, files %v, next page %d; want 100, none, 3", len(page2.Commits), page2.Files != nil, resp.NextPage)
	}
}
