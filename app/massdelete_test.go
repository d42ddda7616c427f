package app_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
)

// The mass-delete label can come after the merge, when the app has
// already opened the next bot PR: the label on the merged PR still
// releases its held deletes.
func TestLabelOnAMergedBotPRAfterTheNextOneOpened(t *testing.T) {
	t.Parallel()
	services := genServices(10)
	w := onboarded(t, services, nil)
	w.pushCatalog(catalogOf(services[:4])) // removes 6 of 10
	flagged, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for the removals")
	}
	w.mergeBotPR()
	if got := len(w.harnessPipelines()); got != 10 {
		t.Fatalf("deletes reached Harness without the label: %d pipelines left", got)
	}
	next := append(services[:4:4], svc{name: "orders", archetype: "api", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(next))
	if bot, ok := w.botPR(); !ok || bot.Number == flagged.Number {
		t.Fatalf("no new bot PR for orders (open: %v, #%d)", ok, bot.Number)
	}

	w.GitHub.AddLabel(w.PipelinesRepo, flagged.Number, gh.MassDeleteLabel)
	w.settle()
	if diff := cmp.Diff([]string{"svc_000_cd", "svc_001_cd", "svc_002_cd", "svc_003_cd"}, sortedKeys(w.harnessPipelines())); diff != "" {
		t.Errorf("Harness after the label on #%d (-want +got):\n%s", flagged.Number, diff)
	}
}
