package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// TestManyAnnotationsAreAllDelivered sends more annotations than GitHub
// takes in one request (50); the stand-in refuses more, as GitHub does.
func TestManyAnnotationsAreAllDelivered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "  - name: Bad_%d\n    archetype: api\n    team: t\n    environments: [int]\n    regions: [euw1]\n", i)
	}
	_, head := w.catalogPR("many-errors", b.String())
	plan := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if plan.Conclusion != "failure" {
		t.Fatalf("plan = %s %q", plan.Conclusion, plan.Title)
	}
	if got := len(plan.Annotations); got != 120 {
		t.Fatalf("%d annotations, want 120", got)
	}
	for i, a := range plan.Annotations {
		if want := 2 + 5*i; a.StartLine != want {
			t.Fatalf("annotation %d on line %d, want %d", i, a.StartLine, want)
		}
	}
}

// TestHugePlanIsCutToGitHubsLimit plans so many services that the
// markdown exceeds 65,535 characters; the stand-in refuses longer
// summaries, as GitHub does.
func TestHugePlanIsCutToGitHubsLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	_, head := w.catalogPR("many-services", catalogOf(genServices(400)))
	plan := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if plan.Conclusion != "success" || !strings.Contains(plan.Title, "400 services to create") {
		t.Fatalf("plan = %s %q", plan.Conclusion, plan.Title)
	}
	if n := len(plan.Summary); n > 65535 {
		t.Errorf("summary is %d bytes", n)
	}
	if !strings.Contains(plan.Summary, "65535") && !strings.Contains(plan.Summary, "65,535") {
		t.Errorf("the cut summary does not say it was cut:\n%s", plan.Summary[len(plan.Summary)-500:])
	}
}
