package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
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

// TestBootstrapOf1500ServicesOpensAFittingBotPR onboards 1,500 services
// at once. The bot PR must open although a row per service would take far
// more than GitHub's 65,536 characters (the stand-in refuses a longer
// body, as GitHub does), say how many services it leaves out, and carry
// its hidden block whole: a propose run that renders the same files again
// leaves the PR alone. Merging it then queues every entity for Harness,
// which must end up holding all 4,500.
//
// It is a test of scale, not of concurrency: under the race detector it
// takes minutes (265 s here) and is skipped; the smaller end-to-end tests
// race the same code.
func TestBootstrapOf1500ServicesOpensAFittingBotPR(t *testing.T) {
	t.Parallel()
	if raceDetector {
		t.Skip("1,500 services take minutes under the race detector; run without -race")
	}
	const n = 1500
	w := newWorld(t, "services: []\n", nil)
	head := w.pushCatalog(catalogOf(genServices(n)))
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for 1,500 services")
	}
	if c := utf8.RuneCountInString(bot.Body); c > 65536 {
		t.Fatalf("the bot PR body has %d characters", c)
	}
	if !strings.Contains(bot.Body, "more services and environments are not listed here") {
		t.Errorf("the body does not say that services are left out:\n…%s", bot.Body[len(bot.Body)-1500:])
	}
	meta, ok := planner.ParseBotMeta(bot.Body)
	rec, err := w.App.DB.BotPRs.Open(context.Background(), w.PipelinesRepo)
	if err != nil {
		t.Fatal(err)
	}
	want := planner.BotMeta{Identity: rec.DesiredHash, ConfigCommit: head, PipelinesBase: meta.PipelinesBase, SourceCommits: rec.SourceCommits}
	if diff := cmp.Diff(want, meta); !ok || diff != "" {
		t.Fatalf("the hidden block does not read back (ok %v, -want +got):\n%s", ok, diff)
	}

	// The same services again, from another commit: the open PR already
	// proposes them.
	w.pushCatalog("# the same services\n" + catalogOf(genServices(n)))
	if again, _ := w.botPR(); again.Number != bot.Number || again.HeadSHA != bot.HeadSHA || again.Body != bot.Body {
		t.Fatalf("bot PR #%d at %s changed to #%d at %s", bot.Number, bot.HeadSHA, again.Number, again.HeadSHA)
	}

	merge, err := w.GitHub.MergePR(w.PipelinesRepo, bot.Number, "merge")
	if err != nil {
		t.Fatal(err)
	}
	got := queuedFor(t, w, merge, 3*n)
	for _, kind := range []string{"service", "pipeline", "trigger"} {
		if got[kind] != n {
			t.Errorf("merging queued %d %s operations, want %d (all: %v)", got[kind], kind, n, got)
		}
	}
	// And Harness receives them all.
	start := time.Now()
	if err := w.Settle(context.Background(), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d operations applied to Harness in %s", 3*n, time.Since(start).Round(time.Millisecond))
	for _, kind := range []harnesstest.Kind{harnesstest.KindService, harnesstest.KindPipeline, harnesstest.KindTrigger} {
		if held := len(w.Harness.Entities(kind, "default", "platform")); held != n {
			t.Errorf("Harness holds %d %ss, want %d", held, kind, n)
		}
	}
}

// queuedFor waits until the apply of commit has queued want operations,
// and counts them by entity kind.
func queuedFor(t *testing.T, w *world, commit string, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ops, err := w.App.DB.Operations.List(context.Background(), store.OperationFilter{Commit: commit, Limit: 2 * want})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops) >= want || time.Now().After(deadline) {
			byKind := map[string]int{}
			for _, op := range ops {
				byKind[op.Entity]++
			}
			return byKind
		}
		time.Sleep(200 * time.Millisecond)
	}
}
