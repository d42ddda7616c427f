package githubtest_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"
)

// TestListCheckRunsForRef lists a commit's check runs by branch and by
// SHA, filtered by name, as a person's token reads them.
func TestListCheckRunsForRef(t *testing.T) {
	s := newServer(t)
	inst := s.AddInstallation("acme")
	head := s.CreateRepo("acme", "platform", "main", map[string]string{"catalog/services.yaml": "services: []\n"})
	app := installationClient(t, s, inst)
	ctx := context.Background()
	for _, name := range []string{"pipeline-orchestrator/plan", "pipeline-orchestrator/sync"} {
		if _, _, err := app.Checks.CreateCheckRun(ctx, "acme", "platform", github.CreateCheckRunOptions{
			Name: name, HeadSHA: head, Status: ptr("completed"), Conclusion: ptr("success"),
			Output: &github.CheckRunOutput{Title: ptr(name), Summary: ptr("ok")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	user := userClient(t, s)
	for ref, opts := range map[string]*github.ListCheckRunsOptions{
		"main": nil,
		head:   {CheckName: ptr("pipeline-orchestrator/plan")},
	} {
		res, _, err := user.Checks.ListCheckRunsForRef(ctx, "acme", "platform", ref, opts)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		var got []string
		for _, r := range res.CheckRuns {
			got = append(got, r.GetName()+" "+r.GetConclusion()+" "+r.GetHeadSHA())
		}
		want := []string{"pipeline-orchestrator/plan success " + head}
		if opts == nil {
			want = append(want, "pipeline-orchestrator/sync success "+head)
		}
		if diff := cmp.Diff(want, got); diff != "" || res.GetTotal() != len(want) {
			t.Errorf("%s: total %d, runs (-want +got):\n%s", ref, res.GetTotal(), diff)
		}
	}
	if _, _, err := user.Checks.ListCheckRunsForRef(ctx, "acme", "platform", "nope", nil); statusOf(t, err) != 422 {
		t.Errorf("an unknown ref: %v, want 422", err)
	}
}
