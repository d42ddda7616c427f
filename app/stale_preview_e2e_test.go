package app_test

import (
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// TestStaleBranchPreviewShowsItsOwnChange opens a PR from a branch made
// before another service was onboarded on main, changing only a profile:
// its plan is that one config-only change, from the merge base, and says
// the branch is behind; planned against main's tip it would read as
// deleting the newer service.
func TestStaleBranchPreviewShowsItsOwnChange(t *testing.T) {
	t.Parallel()
	services := genServices(1)
	w := onboarded(t, services, nil)
	// The branch is cut now, before svc-001 joins main.
	base := w.GitHub.Head(w.ConfigRepo, sandbox.DefaultBranch)
	if err := w.GitHub.SetBranch(w.ConfigRepo, "bigger-svc-000", base); err != nil {
		t.Fatal(err)
	}
	w.pushCatalog(catalogOf(append(services, genServices(2)[1])))
	if bot, ok := w.botPR(); ok {
		w.merge(w.PipelinesRepo, bot.Number)
	}
	stale := append([]svc(nil), services...)
	stale[0].profile = "large"
	pr, head := w.catalogPR("bigger-svc-000", catalogOf(stale))
	c := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if c.Conclusion != "success" || !strings.Contains(c.Title, "0 to delete") || !strings.Contains(c.Title, "1 config-only") {
		t.Errorf("PR #%d's plan = %s %q; want one config-only change and nothing deleted\n%s", pr, c.Conclusion, c.Title, c.Summary)
	}
	if !strings.Contains(c.Summary, "1 commit(s) behind its base") || !strings.Contains(c.Summary, "Updating the branch would not change it") {
		t.Errorf("the plan does not say the branch is behind:\n%s", c.Summary)
	}
}
