package sandbox_test

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/examples"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// bootstrapped starts the example catalog in a sandbox whose GitHub
// stand-in serves the web pages the status page links to, and merges the
// first bot PR: the example's pipelines are in Harness.
func bootstrapped(t *testing.T) *sandbox.Env {
	t.Helper()
	env, err := sandbox.Start(context.Background(), sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles:    map[string]string{sandbox.CatalogPath: examples.Catalog},
			PipelinesFiles: map[string]string{catalog.SettingsPath: examples.Settings},
			ServeWeb:       true,
		},
		Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	settle(t, env)
	mergeBotPR(t, env)
	if n := len(env.Harness.Pipelines("default", "platform")); n != 12 {
		t.Fatalf("Harness holds %d pipelines after the first bot PR, want the example's 12", n)
	}
	return env
}

func settle(t *testing.T, env *sandbox.Env) {
	t.Helper()
	if err := env.Settle(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
}

func openBotPR(env *sandbox.Env) (githubtest.PullRequest, bool) {
	for _, pr := range env.GitHub.PRs(env.PipelinesRepo) {
		if pr.Head == gh.SyncBranch && pr.State == "open" {
			return pr, true
		}
	}
	return githubtest.PullRequest{}, false
}

// mergeBotPR merges the open bot PR, as a platform engineer would, and
// returns its number.
func mergeBotPR(t *testing.T, env *sandbox.Env) int {
	t.Helper()
	pr, ok := openBotPR(env)
	if !ok {
		t.Fatal("no open bot PR")
	}
	if _, err := env.GitHub.MergePR(env.PipelinesRepo, pr.Number, "merge"); err != nil {
		t.Fatal(err)
	}
	settle(t, env)
	return pr.Number
}

// pushCatalog commits catalog to the config repo's default branch, as a
// merged catalog PR would.
func pushCatalog(t *testing.T, env *sandbox.Env, message, catalog string) {
	t.Helper()
	env.GitHub.Commit(env.ConfigRepo, sandbox.DefaultBranch, message, map[string]*string{sandbox.CatalogPath: &catalog})
	settle(t, env)
}

// TestHeldDeletesInABrowser merges a bot PR that removes more pipelines
// than the mass-delete threshold allows, lets the next bot PR open, and
// checks that the status page tells a person, at the top, which label to
// put on which PR; then does what it says, and checks the deletes reach
// Harness and the page has nothing left to ask.
func TestHeldDeletesInABrowser(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	env := bootstrapped(t)
	// The example's last two teams, 4 pipelines of 12: over the
	// settings' 20%.
	cut := strings.Index(examples.Catalog, "  # --- catalog ---")
	if cut < 0 {
		t.Fatal("the example catalog has no catalog team")
	}
	shrunk := examples.Catalog[:cut]
	pushCatalog(t, env, "Retire the catalog and data teams' services", shrunk)
	removal := mergeBotPR(t, env)
	if n := len(env.Harness.Pipelines("default", "platform")); n != 12 {
		t.Fatalf("the deletes reached Harness without the label: %d pipelines left", n)
	}
	pushCatalog(t, env, "Onboard loyalty-api", shrunk+loyaltyAPI)
	next, ok := openBotPR(env)
	if !ok || next.Number == removal {
		t.Fatalf("no new bot PR for loyalty-api (open: %v, #%d)", ok, next.Number)
	}

	b := openTab(t, browser)
	b.open(env.App.URL+"/", "#held-deletes")
	wantPR := env.GitHub.WebURL + env.PipelinesRepo + "/pull/" + strconv.Itoa(removal)
	got := map[string]string{
		"first section": b.text("main > section h2"),
		"count":         b.text("#held-count"),
		"kinds":         b.text("#held-kinds"),
		"label":         b.text("#mass-delete-label"),
		"PR link":       b.attr("#held-pr", "href"),
		"PR text":       b.text("#held-pr"),
		"service state": b.text(`#services tr[data-service="search-indexer"] .harness-state`),
	}
	// Held: each of the 4 services' trigger, pipeline and Service.
	want := map[string]string{"first section": "Needs a person", "count": "12", "kinds": "4 pipelines, 4 services and 4 triggers",
		"label": gh.MassDeleteLabel, "PR link": wantPR, "PR text": "PR #" + strconv.Itoa(removal), "service state": "delete held"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}
	if top := b.eval(`Math.round(document.querySelector("#held-pr").getBoundingClientRect().bottom)`); top > 900 {
		t.Errorf("the PR to label is %dpx down the page: below a laptop screen's fold", top)
	}
	b.click("#held-deletes summary")
	if listed := b.text("#held-list"); !strings.Contains(listed, "search_indexer_cd") || !strings.Contains(listed, "ledger_export_cd") {
		t.Errorf("the held deletes listed: %q", listed)
	}
	b.screenshot("status-held-deletes.png")

	// The link leads to the PR the label goes on.
	b.click("#held-pr")
	if err := chromedp.Do(b.ctx, chromedp.WaitVisible(chromedp.CSS("h1#title"))); err != nil {
		t.Fatalf("following #held-pr: %v", err)
	}
	if heading := b.text("h1#title"); !strings.HasSuffix(heading, "#"+strconv.Itoa(removal)) {
		t.Errorf("#held-pr leads to %q, want bot PR #%d", heading, removal)
	}

	// Do what the page says: the label it shows, on the PR it links.
	env.GitHub.AddLabel(env.PipelinesRepo, removal, got["label"])
	settle(t, env)
	if n := len(env.Harness.Pipelines("default", "platform")); n != 8 {
		t.Errorf("Harness holds %d pipelines after the label, want 8", n)
	}
	b.open(env.App.URL+"/", "#nothing-needed")
	b.screenshot("status-held-deletes-released.png")
}

// loyaltyAPI is a service the example catalog does not have.
const loyaltyAPI = `  - name: loyalty-api
    archetype: api
    team: loyalty
    environments: [int, pre, prod]
    regions: [euw1, euw2]
    profile: medium
`

// TestDriftInABrowser changes one pipeline and deletes another in the
// Harness stand-in by hand, asks for a reconcile through the admin API,
// and checks that the status page keeps the trace once the repairs are
// done: when, which pipeline, what differed, and that it was repaired.
func TestDriftInABrowser(t *testing.T) {
	t.Parallel()
	browser := chromium(t)
	env := bootstrapped(t)
	const file = "pipelines/payment-service-cd.yaml"
	git, ok := env.GitHub.File(env.PipelinesRepo, sandbox.DefaultBranch, file)
	if !ok {
		t.Fatalf("no %s in the pipelines repo", file)
	}
	firstName := regexp.MustCompile(`(?m)^  name: .*$`)
	edited := firstName.ReplaceAllLiteralString(git, "  name: renamed by hand in Harness")
	if edited == git {
		t.Fatalf("%s has no pipeline name to change:\n%s", file, git)
	}
	env.Harness.PutPipeline("default", "platform", "payment_service_cd", []byte(edited))
	env.Harness.DeletePipeline("default", "platform", "checkout_api_cd")

	req, err := http.NewRequest(http.MethodPost, env.App.URL+"/api/v1/reconcile", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.App.Config.Server.AdminToken.Value())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/reconcile = %d", resp.StatusCode)
	}
	settle(t, env)
	if now := env.Harness.Pipelines("default", "platform")["payment_service_cd"]; strings.Contains(string(now), "renamed by hand") {
		t.Fatal("the hand edit was not repaired")
	}

	b := openTab(t, browser)
	b.open(env.App.URL+"/", "#drift-history")
	changed := `#drift-history li[data-identifier="payment_service_cd"]`
	missing := `#drift-history li[data-identifier="checkout_api_cd"]`
	got := map[string]string{
		"summary":         b.text("#drift-summary"),
		"changed":         b.attr(changed, "data-drift") + " " + b.text(changed+" .repair"),
		"missing":         b.attr(missing, "data-drift") + " " + b.text(missing+" .repair"),
		"nothing to do":   b.text("#nothing-needed"),
		"history entries": strconv.Itoa(b.count("#drift-history > li")),
	}
	b.click(changed + " summary")
	diff := b.text(changed + " pre.diff")
	b.screenshot("status-drift.png")

	// Drifted: the edited pipeline, the deleted one and its trigger, which
	// Harness deleted with it.
	for k, w := range map[string]string{"changed": "different repaired", "missing": "missing repaired", "history entries": "3"} {
		if !strings.HasPrefix(got[k], w) {
			t.Errorf("%s: %q, want %q…", k, got[k], w)
		}
	}
	// Checked: the 12 services' Services, pipelines and triggers, 3
	// environments, 4 infrastructure definitions and the GitHub connector.
	if !strings.Contains(got["summary"], "checked 44, drifted 3, repairs queued 3") {
		t.Errorf("#drift-summary = %q", got["summary"])
	}
	if !strings.HasPrefix(got["nothing to do"], "Nothing needs a person") {
		t.Errorf("after the repairs: %q", got["nothing to do"])
	}
	if !strings.Contains(diff, "renamed by hand in Harness") {
		t.Errorf("the diff shown does not name the hand edit:\n%s", diff)
	}
}
