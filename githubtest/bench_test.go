package githubtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-github/v62/github"
)

// BenchmarkProposeRound measures one propose round trip through go-github
// against a repository of 1,000 pipelines: GetRef, GetCommit, recursive
// GetTree, CreateTree changing 50 files on base_tree, CreateCommit and a
// forced UpdateRef.
func BenchmarkProposeRound(b *testing.B) {
	s := newServer(b)
	s.AddInstallation("acme-pipelines")
	files := map[string]string{}
	for i := 0; i < 1000; i++ {
		files[fmt.Sprintf("pipelines/service-%04d-cd.yaml", i)] = fmt.Sprintf("pipeline:\n  name: service-%04d\n  stages: []\n", i)
	}
	s.CreateRepo("acme-pipelines", "harness-pipelines", "main", files)
	s.Commit("acme-pipelines/harness-pipelines", "bot", "start", nil)
	c := userClient(b, s)
	ctx := context.Background()
	const o, r = "acme-pipelines", "harness-pipelines"
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		ref, _, err := c.Git.GetRef(ctx, o, r, "heads/main")
		if err != nil {
			b.Fatal(err)
		}
		base, _, err := c.Git.GetCommit(ctx, o, r, ref.GetObject().GetSHA())
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Git.GetTree(ctx, o, r, base.GetTree().GetSHA(), true); err != nil {
			b.Fatal(err)
		}
		var entries []*github.TreeEntry
		for i := 0; i < 50; i++ {
			entries = append(entries, &github.TreeEntry{
				Path: ptr(fmt.Sprintf("pipelines/service-%04d-cd.yaml", i)), Mode: ptr("100644"), Type: ptr("blob"),
				Content: ptr(fmt.Sprintf("pipeline:\n  name: service-%04d\n  round: %d\n", i, n)),
			})
		}
		tree, _, err := c.Git.CreateTree(ctx, o, r, base.GetTree().GetSHA(), entries)
		if err != nil {
			b.Fatal(err)
		}
		commit, _, err := c.Git.CreateCommit(ctx, o, r, &github.Commit{
			Message: ptr("sync"), Tree: &github.Tree{SHA: tree.SHA}, Parents: []*github.Commit{{SHA: base.SHA}},
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Git.UpdateRef(ctx, o, r, &github.Reference{Ref: ptr("refs/heads/bot"), Object: &github.GitObject{SHA: commit.SHA}}, true); err != nil {
			b.Fatal(err)
		}
	}
}
