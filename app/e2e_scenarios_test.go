package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

var archetypes = []string{"api", "listener", "job", "scheduler"}

// svc is one catalog entry for generated catalogs.
type svc struct {
	name, archetype, team, profile string
	envs, regions                  string
}

func genServices(n int) []svc {
	out := make([]svc, n)
	for i := range out {
		out[i] = svc{
			name: fmt.Sprintf("svc-%03d", i), archetype: archetypes[i%len(archetypes)], team: fmt.Sprintf("team-%d", i%3),
			profile: "medium", envs: "[int-stable, pre-stable, prod]", regions: "[euw1]",
		}
	}
	return out
}

func catalogOf(services []svc) string {
	if len(services) == 0 {
		return "services: []\n"
	}
	var b strings.Builder
	b.WriteString("services:\n")
	for _, s := range services {
		fmt.Fprintf(&b, "  - name: %s\n    archetype: %s\n    team: %s\n    environments: %s\n    regions: %s\n    profile: %s\n",
			s.name, s.archetype, s.team, s.envs, s.regions, s.profile)
	}
	return b.String()
}

// onboarded starts a world whose services are already in Harness: their
// catalog merged, the bot PR merged, the pipelines applied.
func onboarded(t *testing.T, services []svc, tune func(*app.Config)) *world {
	t.Helper()
	w := newWorld(t, "services: []\n", tune)
	w.pushCatalog(catalogOf(services))
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for the initial catalog")
	}
	w.merge(w.PipelinesRepo, bot.Number)
	if got := len(w.harnessPipelines()); got != len(services) {
		t.Fatalf("Harness holds %d pipelines after onboarding, want %d", got, len(services))
	}
	return w
}

// pushCatalog commits a catalog straight to the config repo's default
// branch, as a merged PR would.
func (w *world) pushCatalog(catalog string) string {
	w.t.Helper()
	sha := w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "Update the catalog", map[string]*string{catalogPath: &catalog})
	w.settle()
	return sha
}

func (w *world) mergeBotPR() string {
	w.t.Helper()
	bot, ok := w.botPR()
	if !ok {
		w.t.Fatal("no open bot PR")
	}
	return w.merge(w.PipelinesRepo, bot.Number)
}

func sortedKeys[V any](m map[string]V) []string {
	k := keys(m)
	sort.Strings(k)
	return k
}

func TestConfigOnlyChangeProposesNothing(t *testing.T) {
	t.Parallel()
	services := genServices(2)
	w := onboarded(t, services, nil)
	before := w.Harness.Effects()

	services[0].profile = "large"
	pr, head := w.catalogPR("bigger", catalogOf(services))
	plan := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if plan.Conclusion != "success" || !strings.Contains(plan.Title, "1 config-only") || !strings.Contains(plan.Summary, "next deploy") {
		t.Fatalf("plan = %s %q\n%s", plan.Conclusion, plan.Title, plan.Summary)
	}
	merge := w.merge(w.ConfigRepo, pr)
	if bot, ok := w.botPR(); ok {
		t.Fatalf("a config-only change opened bot PR #%d", bot.Number)
	}
	if sync := w.check(w.ConfigRepo, merge, gh.CheckSync); sync.Conclusion != "success" || sync.Title != "No pipeline changes" {
		t.Errorf("sync check = %s %q", sync.Conclusion, sync.Title)
	}
	if diff := cmp.Diff(before, w.Harness.Effects()); diff != "" {
		t.Errorf("Harness changed (-before +after):\n%s", diff)
	}
}

func TestRemovingAServiceDeletesItsPipeline(t *testing.T) {
	t.Parallel()
	services := genServices(6) // removing 1 of 6 stays under the mass-delete threshold
	w := onboarded(t, services, nil)
	w.pushCatalog(catalogOf(services[:5]))
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for the removal")
	}
	if _, ok := w.GitHub.File(w.PipelinesRepo, bot.HeadSHA, "pipelines/svc-005-cd.yaml"); ok {
		t.Fatal("the bot PR keeps the removed service's pipeline file")
	}
	merge := w.mergeBotPR()
	if diff := cmp.Diff([]string{"svc_000_cd", "svc_001_cd", "svc_002_cd", "svc_003_cd", "svc_004_cd"}, sortedKeys(w.harnessPipelines())); diff != "" {
		t.Errorf("Harness pipelines (-want +got):\n%s", diff)
	}
	if c := w.check(w.PipelinesRepo, merge, gh.CheckHarness); c.Conclusion != "success" || !strings.Contains(c.Summary, "svc_005_cd") {
		t.Errorf("harness check = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
}

func TestInvalidCatalogPRIsAnnotated(t *testing.T) {
	t.Parallel()
	services := genServices(2)
	w := onboarded(t, services, nil)
	bad := catalogOf(services) + `  - name: Bad_Name
    archetype: api
    team: payments
    environments: [int-stable, staging]
    regions: [euw1]
`
	pr, head := w.catalogPR("broken", bad)
	plan := w.check(w.ConfigRepo, head, gh.CheckPlan)
	if plan.Conclusion != "failure" {
		t.Fatalf("plan conclusion = %s, want failure", plan.Conclusion)
	}
	type at struct {
		Path string
		Line int
	}
	var got []at
	for _, a := range plan.Annotations {
		got = append(got, at{a.Path, a.StartLine})
	}
	// Line 14 holds the bad name, line 17 the unknown environment.
	want := []at{{catalogPath, 14}, {catalogPath, 17}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	w.merge(w.ConfigRepo, pr) // merged anyway: still nothing is proposed
	if bot, ok := w.botPR(); ok {
		t.Errorf("an invalid catalog opened bot PR #%d", bot.Number)
	}
	if got := len(w.harnessPipelines()); got != 2 {
		t.Errorf("Harness holds %d pipelines, want 2", got)
	}
}

func TestTwoMergesBeforeTheBotPRMergesShareOnePR(t *testing.T) {
	t.Parallel()
	services := genServices(1)
	w := onboarded(t, services, nil)
	services = append(services, svc{name: "orders", archetype: "api", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(services))
	first, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR after the first merge")
	}
	services = append(services, svc{name: "billing", archetype: "job", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(services))
	second, ok := w.botPR()
	if !ok || second.Number != first.Number {
		t.Fatalf("bot PR after the second merge = #%d (open %v), want #%d updated", second.Number, ok, first.Number)
	}
	tree := w.GitHub.Tree(w.PipelinesRepo, second.HeadSHA)
	for _, p := range []string{"pipelines/orders-cd.yaml", "pipelines/billing-cd.yaml"} {
		if _, ok := tree[p]; !ok {
			t.Errorf("bot PR lacks %s", p)
		}
	}
	if n := len(w.GitHub.PRs(w.PipelinesRepo)); n != 3 { // the environments', the onboarding PR and this one
		t.Errorf("%d PRs on the pipelines repo, want 3", n)
	}
}

func TestIdenticalProposalChangesNothing(t *testing.T) {
	t.Parallel()
	w := onboarded(t, genServices(1), nil)
	services := append(genServices(1), svc{name: "orders", archetype: "api", team: "shop", profile: "small", envs: "[int-stable]", regions: "[euw1]"})
	w.pushCatalog(catalogOf(services))
	before, _ := w.botPR()
	// A config-only change elsewhere re-runs propose with the same desired state.
	services[0].profile = "large"
	w.pushCatalog(catalogOf(services))
	after, _ := w.botPR()
	if before.HeadSHA != after.HeadSHA || before.Body != after.Body || before.Title != after.Title {
		t.Errorf("an identical proposal changed the bot PR: head %s → %s", before.HeadSHA[:7], after.HeadSHA[:7])
	}
	// The status page says so in the words people read there.
	recent, err := w.App.DB.Deliveries.Recent(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range recent {
		if d.Key == "propose" && d.Event == "push" {
			if want := fmt.Sprintf("bot PR #%d already proposes this", after.Number); d.Outcome != want {
				t.Errorf("the identical proposal's delivery outcome = %q, want %q", d.Outcome, want)
			}
			return
		}
	}
	t.Error("no propose delivery for the last catalog push")
}

func TestDuplicateAndReorderedDeliveries(t *testing.T) {
	t.Parallel()
	// The same scenario twice: once delivered normally, once with every
	// delivery duplicated and the order shuffled. The outcome must match.
	run := func(t *testing.T, chaos bool) map[string][]byte {
		w := onboarded(t, genServices(2), nil)
		if chaos {
			w.GitHub.SetDeliveryMode(githubtest.DeliverManually)
		}
		services := genServices(3)
		services[0].regions = "[euw1, euw2]"
		w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "first", map[string]*string{catalogPath: ptr(catalogOf(services))})
		services = services[1:]
		w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "second", map[string]*string{catalogPath: ptr(catalogOf(services))})
		if chaos {
			pending := w.GitHub.Pending()
			w.GitHub.ShufflePending(7)
			w.GitHub.DeliverAll()
			for _, d := range pending {
				if _, err := w.GitHub.Redeliver(d.GUID); err != nil {
					t.Fatal(err)
				}
			}
			w.GitHub.SetDeliveryMode(githubtest.DeliverImmediately)
		}
		w.settle()
		w.mergeBotPR()
		return w.harnessPipelines()
	}
	normal := run(t, false)
	chaotic := run(t, true)
	if diff := cmp.Diff(sortedKeys(normal), sortedKeys(chaotic)); diff != "" {
		t.Fatalf("pipelines differ (-in order +shuffled and duplicated):\n%s", diff)
	}
	for id := range normal {
		if !bytes.Equal(stripHeader(normal[id]), stripHeader(chaotic[id])) {
			t.Errorf("pipeline %s differs between the two runs", id)
		}
	}
}

func ptr(s string) *string { return &s }

// stripHeader drops the generated header, which names commit SHAs that
// differ between two worlds.
func stripHeader(b []byte) []byte {
	for len(b) > 0 && b[0] == '#' {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	return b
}

func TestWebhookSignaturesAndUnconfiguredRepos(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	before, err := w.App.DB.Deliveries.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join("..", "handlers", "testdata", "webhooks", "push.other-repo.json"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(sig string, body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, w.App.HookURL(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "e2e-1")
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mac := hmac.New(sha256.New, []byte(w.WebhookSecret))
	mac.Write(body)
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if code := post("sha256="+strings.Repeat("ab", 32), body); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", code)
	}
	if code := post("", body); code != http.StatusUnauthorized {
		t.Errorf("missing signature: %d, want 401", code)
	}
	// push.other-repo.json is for acme/website, which this app does not serve.
	if code := post(good, body); code != http.StatusOK {
		t.Errorf("unconfigured repository: %d, want 200", code)
	}
	after, err := w.App.DB.Deliveries.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("deliveries were stored (-before +after):\n%s", diff)
	}
}

func TestEveryFixtureIsAcceptedOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	// The handler tests' payloads, captured from the GitHub stand-in (and
	// the installation ones written by hand); their repositories are not
	// this world's, so each is accepted and ignored, or refreshes the
	// installation cache.
	dir := filepath.Join("..", "handlers", "testdata", "webhooks")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		sent++
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		event := strings.SplitN(e.Name(), ".", 2)[0]
		mac := hmac.New(sha256.New, []byte(w.WebhookSecret))
		mac.Write(body)
		req, _ := http.NewRequest(http.MethodPost, w.App.HookURL(), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", "fixture-"+e.Name())
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200 (handled or ignored on purpose)", e.Name(), resp.StatusCode)
		}
	}
	if sent == 0 {
		t.Fatalf("no payloads in %s", dir)
	}
}

const apiTemplateMarker = "# api template, revision 2\n"

func TestTemplateChangeShowsBlastRadiusAndRerendersItsArchetype(t *testing.T) {
	t.Parallel()
	services := genServices(8) // two of each archetype
	w := onboarded(t, services, nil)

	// A pipelines-repo PR changes the api template: the built-in one with
	// a longer timeout on the rolling deploy.
	tmpl := apiTemplate(t)
	changed := strings.Replace(tmpl, "timeout: 10m", "timeout: 15m", 1)
	if changed == tmpl {
		t.Fatal("the api template has no 'timeout: 10m' to change")
	}
	sha := w.GitHub.Commit(w.PipelinesRepo, "slower-api", "Slower api deploys", map[string]*string{"templates/api-pipeline-template.yaml": &changed})
	pr := w.GitHub.OpenPR(w.PipelinesRepo, "slower-api", sandbox.DefaultBranch, "Slower api deploys", "")
	w.settle()
	plan := w.check(w.PipelinesRepo, sha, gh.CheckPlan)
	if plan.Conclusion != "success" || !strings.Contains(plan.Title, "2 pipeline(s) rewritten") {
		t.Fatalf("template plan = %s %q\n%s", plan.Conclusion, plan.Title, plan.Summary)
	}
	for _, s := range services {
		mentioned := strings.Contains(plan.Summary, "`"+s.name+"`")
		if mentioned != (s.archetype == "api") {
			t.Errorf("blast radius mentions %s: %v, want %v", s.name, mentioned, s.archetype == "api")
		}
	}

	w.merge(w.PipelinesRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR after the template merge")
	}
	var rewritten []string
	for p, blob := range w.GitHub.Tree(w.PipelinesRepo, bot.HeadSHA) {
		if strings.HasPrefix(p, "pipelines/") && w.GitHub.Tree(w.PipelinesRepo, sandbox.DefaultBranch)[p] != blob {
			rewritten = append(rewritten, p)
		}
	}
	sort.Strings(rewritten)
	if diff := cmp.Diff([]string{"pipelines/svc-000-cd.yaml", "pipelines/svc-004-cd.yaml"}, rewritten); diff != "" {
		t.Errorf("rewritten pipelines (-want +got):\n%s", diff)
	}
}

func apiTemplate(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "templates", "api-pipeline-template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEmptyOrBrokenCatalogDeletesNothing(t *testing.T) {
	t.Parallel()
	w := onboarded(t, genServices(3), nil)
	for name, catalog := range map[string]string{
		"empty":       "services: []\n",
		"unparsable":  "services:\n  - name: [oops\n",
		"not a list":  "services: 3\n",
		"wrong shape": "pipelines: []\n",
	} {
		t.Run(name, func(t *testing.T) {
			head := w.pushCatalog(catalog)
			if bot, ok := w.botPR(); ok {
				t.Fatalf("bot PR #%d opened", bot.Number)
			}
			c := w.check(w.ConfigRepo, head, gh.CheckSync)
			if c.Conclusion != "failure" || !strings.Contains(c.Summary, "no pipeline will be deleted") {
				t.Errorf("sync check = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
			}
			// The run that refused stays the app's last error until a run
			// succeeds: the status page must not say all is well.
			page, _ := statusPage(t, w.App.App.Handler())
			if got := page.First(byID("last-error")).Text(); !strings.Contains(got, c.Title) {
				t.Errorf("status page's last error = %q, want it to name %q", got, c.Title)
			}
			if got := len(w.harnessPipelines()); got != 3 {
				t.Errorf("Harness holds %d pipelines, want 3", got)
			}
		})
	}
}

func TestMassDeleteWaitsForTheLabel(t *testing.T) {
	t.Parallel()
	services := genServices(10)
	w := onboarded(t, services, nil)
	w.pushCatalog(catalogOf(services[:4])) // removes 6 of 10
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR")
	}
	if !strings.Contains(bot.Body, "Mass delete") {
		t.Errorf("bot PR body does not flag the mass delete:\n%s", bot.Body)
	}
	merge := w.mergeBotPR()
	if got := len(w.harnessPipelines()); got != 10 {
		t.Fatalf("deletes reached Harness without the label: %d pipelines left", got)
	}
	c := w.check(w.PipelinesRepo, merge, gh.CheckHarness)
	if c.Conclusion != "action_required" && c.Conclusion != "neutral" || !strings.Contains(c.Title, gh.MassDeleteLabel) {
		t.Errorf("harness check = %s %q", c.Conclusion, c.Title)
	}
	w.GitHub.AddLabel(w.PipelinesRepo, bot.Number, gh.MassDeleteLabel)
	w.settle()
	if diff := cmp.Diff([]string{"svc_000_cd", "svc_001_cd", "svc_002_cd", "svc_003_cd"}, sortedKeys(w.harnessPipelines())); diff != "" {
		t.Errorf("Harness after the label (-want +got):\n%s", diff)
	}
	if c := w.check(w.PipelinesRepo, merge, gh.CheckHarness); c.Conclusion != "success" {
		t.Errorf("harness check after the label = %s %q", c.Conclusion, c.Title)
	}
}

func TestHarnessFailureIsReportedThenRecovered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", func(c *app.Config) {
		c.Workers.RetryBase = 300 * time.Millisecond
		c.Workers.RetryMax = 600 * time.Millisecond
	})
	w.pushCatalog(catalogOf(genServices(1)))
	bot, _ := w.botPR()
	// Every Harness call fails until the fault is cleared.
	w.Harness.FailFraction(1, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503})
	merge, err := w.GitHub.MergePR(w.PipelinesRepo, bot.Number, "squash")
	if err != nil {
		t.Fatal(err)
	}
	w.GitHub.WaitIdle()
	var c githubtest.CheckRun
	for i := 0; i < 200; i++ {
		w.App.App.Flush(context.Background())
		if runs := w.GitHub.CheckRuns(w.PipelinesRepo, merge); len(runs) > 0 {
			c = runs[len(runs)-1]
			if strings.Contains(c.Title, "svc_000") { // the Service goes first; the pipeline waits for it
				break
			}
		}
		sleep(50)
	}
	if c.Conclusion == "success" || !strings.Contains(c.Title, "svc_000") || !strings.Contains(c.Summary, "503") {
		t.Fatalf("while Harness fails, harness check = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	w.Harness.ClearFaults()
	w.settle()
	if c := w.check(w.PipelinesRepo, merge, gh.CheckHarness); c.Conclusion != "success" {
		t.Errorf("after recovery, harness check = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if _, ok := w.harnessPipelines()["svc_000_cd"]; !ok {
		t.Error("the pipeline never reached Harness")
	}
}

func sleep(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// TestMissedWebhooksAreRedelivered opens a PR while the app is down, so
// GitHub cannot deliver its webhook; the app asks GitHub to redeliver it
// when it comes back, and the PR gets its plan.
func TestMissedWebhooksAreRedelivered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	if err := w.Down(); err != nil {
		t.Fatal(err)
	}
	catalog := catalogOf(genServices(1))
	head := w.GitHub.Commit(w.ConfigRepo, "while-down", "Add a service", map[string]*string{catalogPath: &catalog})
	w.GitHub.OpenPR(w.ConfigRepo, "while-down", sandbox.DefaultBranch, "Add a service", "")
	w.GitHub.WaitIdle()
	if err := w.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		w.settle()
		for _, c := range w.GitHub.CheckRuns(w.ConfigRepo, head) {
			if c.Name == gh.CheckPlan && c.Conclusion == "success" {
				return
			}
		}
		sleep(50)
	}
	t.Fatal("the PR opened while the app was down never got its plan check run")
}
