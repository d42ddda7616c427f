package app_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

const catalogPath = "catalog/services.yaml"

// world is one end-to-end test's GitHub, Harness and app.
type world struct {
	t *testing.T
	*sandbox.Env
}

func newWorld(t *testing.T, catalog string, tune func(*app.Config)) *world {
	t.Helper()
	var log *zerolog.Logger
	if os.Getenv("E2E_LOG") != "" {
		l := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).Level(zerolog.DebugLevel)
		log = &l
	}
	env, err := sandbox.Start(context.Background(), sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles:    map[string]string{catalogPath: catalog},
			PipelinesFiles: map[string]string{"README.md": "# pipelines\n"},
		},
		Dir:    t.TempDir(),
		Logger: log,
		Tune:   tune,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	w := &world{t: t, Env: env}
	w.settle()
	if strings.TrimSpace(catalog) == "services: []" {
		w.onboardEnvironments()
	}
	return w
}

// onboardEnvironments merges the first bot PR of a world without
// services: the environments and infrastructure definitions the settings
// render, as a platform team does once before its first service.
func (w *world) onboardEnvironments() {
	w.t.Helper()
	pr, ok := w.botPR()
	if !ok {
		w.t.Fatal("no bot PR for the settings' environments")
	}
	w.merge(w.PipelinesRepo, pr.Number)
	if _, ok := w.botPR(); ok {
		w.t.Fatal("a bot PR is open after the environments were merged")
	}
	w.Harness.ClearRecords()
}

func (w *world) settle() {
	w.t.Helper()
	if err := w.Settle(context.Background(), 30*time.Second); err != nil {
		w.t.Fatal(err)
	}
}

// catalogPR commits a catalog to a new branch and opens a PR for it.
func (w *world) catalogPR(branch, catalog string) (int, string) {
	w.t.Helper()
	sha := w.GitHub.Commit(w.ConfigRepo, branch, "Change the catalog", map[string]*string{catalogPath: &catalog})
	n := w.GitHub.OpenPR(w.ConfigRepo, branch, sandbox.DefaultBranch, "Change the catalog", "")
	w.settle()
	return n, sha
}

// merge merges a PR and returns the merge commit.
func (w *world) merge(repo string, n int) string {
	w.t.Helper()
	sha, err := w.GitHub.MergePR(repo, n, "merge")
	if err != nil {
		w.t.Fatalf("merging %s#%d: %v", repo, n, err)
	}
	w.settle()
	return sha
}

// check returns the latest check run with the given name on sha.
func (w *world) check(repo, sha, name string) githubtest.CheckRun {
	w.t.Helper()
	var found *githubtest.CheckRun
	for _, c := range w.GitHub.CheckRuns(repo, sha) {
		if c.Name == name {
			c := c
			found = &c
		}
	}
	if found == nil {
		w.t.Fatalf("no %s check run on %s@%s", name, repo, sha[:7])
	}
	return *found
}

// botPR returns the open bot PR.
func (w *world) botPR() (githubtest.PullRequest, bool) {
	for _, pr := range w.GitHub.PRs(w.PipelinesRepo) {
		if pr.Head == gh.SyncBranch && pr.State == "open" {
			return pr, true
		}
	}
	return githubtest.PullRequest{}, false
}

// lastDrift returns the last reconcile report, if any.
func (w *world) lastDrift() (store.DriftReport, bool) {
	w.t.Helper()
	rep, ok, err := w.App.DB.State.LastDrift(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return rep, ok
}

func (w *world) harnessPipelines() map[string][]byte {
	return w.Harness.Pipelines("default", "platform")
}

const oneService = `services:
  - name: payment-service
    archetype: api
    team: payments
    environments: [int-stable, pre-stable, prod]
    regions: [euw1, euw2]
    profile: medium
`

func TestOnboardServiceEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)

	pr, head := w.catalogPR("onboard-payment", oneService)
	plan := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if plan.Conclusion != "success" || !strings.Contains(plan.Summary, "payment-service") || !strings.Contains(plan.Title, "1 service to create") {
		t.Fatalf("plan check run = %s %q\n%s", plan.Conclusion, plan.Title, plan.Summary)
	}

	merge := w.merge(w.ConfigRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR after the catalog merge")
	}
	for _, p := range []string{"services/payment-service.yaml", "pipelines/payment-service-cd.yaml", "triggers/payment-service-cd-new-image.yaml"} {
		if _, ok := w.GitHub.File(w.PipelinesRepo, bot.HeadSHA, p); !ok {
			t.Fatalf("bot PR #%d lacks %s", bot.Number, p)
		}
	}
	if sync := w.check(w.ConfigRepo, merge, gh.CheckSync); sync.Conclusion != "success" || !strings.Contains(sync.Summary, "#") {
		t.Errorf("sync check run on the config merge = %s %q", sync.Conclusion, sync.Title)
	}
	if len(w.harnessPipelines()) != 0 {
		t.Fatal("Harness changed before the bot PR merged")
	}

	pipelinesMerge := w.merge(w.PipelinesRepo, bot.Number)
	for kind, want := range map[harnesstest.Kind]string{harnesstest.KindService: "payment_service",
		harnesstest.KindPipeline: "payment_service_cd", harnesstest.KindTrigger: "payment_service_cd/payment_service_cd_new_image"} {
		got := w.Harness.Entities(kind, "default", "platform")
		if _, ok := got[want]; !ok || len(got) != 1 {
			t.Errorf("Harness holds the %ss %v, want %s", kind, keys(got), want)
		}
	}
	if c := w.check(w.PipelinesRepo, pipelinesMerge, gh.CheckHarness); c.Conclusion != "success" {
		t.Errorf("harness check run on the pipelines merge = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if c := w.check(w.ConfigRepo, merge, gh.CheckHarness); c.Conclusion != "success" {
		t.Errorf("harness check run on the config commit = %s %q", c.Conclusion, c.Title)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
