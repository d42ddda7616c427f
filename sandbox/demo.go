package sandbox

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// Narrate receives the demo's story, one line at a time.
type Narrate func(format string, args ...any)

// Scenario is one story the demo plays through the stand-ins' APIs, as a
// user would, and checks.
type Scenario struct {
	Name string
	Run  func(d *Demo, ctx context.Context) error
}

// Demo plays scenarios on an Env.
type Demo struct {
	Env     *Env
	Say     Narrate
	Timeout time.Duration // per wait for the app to settle
	catalog string        // the catalog as the demo last committed it
	seq     int
}

// NewDemo prepares a demo on env; catalog is the config repo's current
// catalog file.
func NewDemo(env *Env, catalog string, say Narrate) *Demo {
	return &Demo{Env: env, Say: say, Timeout: time.Minute, catalog: catalog}
}

// CatalogPath is where the demo's config repo keeps its catalog.
const CatalogPath = "catalog/services.yaml"

// Scenarios are the seed architecture's stories, in order.
func Scenarios() []Scenario {
	return []Scenario{
		{"bootstrap: the existing catalog becomes pipelines", (*Demo).bootstrap},
		{"onboard a new service", (*Demo).onboard},
		{"a config-only change", (*Demo).configOnly},
		{"retire a service", (*Demo).retire},
		{"an invalid catalog PR", (*Demo).invalidPR},
		{"Harness fails for a while during an apply", (*Demo).harnessOutage},
	}
}

// Play runs every scenario and returns the names of those that did not end
// as expected.
func (d *Demo) Play(ctx context.Context) (failed []string) {
	for i, s := range Scenarios() {
		d.Say("")
		d.Say("▶ Scenario %d: %s", i, s.Name)
		if err := s.Run(d, ctx); err != nil {
			d.Say("  ✗ %s: %v", s.Name, err)
			failed = append(failed, s.Name)
			continue
		}
		d.Say("  ✓ done")
	}
	return failed
}

func (d *Demo) settle(ctx context.Context) error {
	return d.Env.Settle(ctx, d.Timeout)
}

func (d *Demo) harness() map[string][]byte {
	return d.Env.Harness.Pipelines("default", "platform")
}

func (d *Demo) sayHarness() {
	for _, kind := range []harnesstest.Kind{harnesstest.KindService, harnesstest.KindPipeline, harnesstest.KindTrigger} {
		ids := make([]string, 0)
		for id := range d.Env.Harness.Entities(kind, "default", "platform") {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		d.Say("  • Harness now holds %d %ss: %s", len(ids), kind, strings.Join(ids, ", "))
	}
}

// checkRun waits for the latest check run named name on sha to complete.
func (d *Demo) checkRun(ctx context.Context, repo, sha, name string) (githubtest.CheckRun, error) {
	deadline := time.Now().Add(d.Timeout)
	for {
		d.Env.App.App.Flush(ctx)
		var last *githubtest.CheckRun
		for _, c := range d.Env.GitHub.CheckRuns(repo, sha) {
			if c.Name == name {
				c := c
				last = &c
			}
		}
		if last != nil && last.Status == "completed" {
			return *last, nil
		}
		if time.Now().After(deadline) {
			return githubtest.CheckRun{}, fmt.Errorf("no completed %s check run on %s", name, short(sha))
		}
		select {
		case <-ctx.Done():
			return githubtest.CheckRun{}, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (d *Demo) sayCheck(c githubtest.CheckRun) {
	d.Say("  • Check run %s on %s: %s — %s", c.Name, short(c.HeadSHA), c.Conclusion, c.Title)
}

// catalogPR commits catalog on a new branch and opens a PR, as a developer
// would.
func (d *Demo) catalogPR(ctx context.Context, who, title, catalog string) (int, string, error) {
	d.seq++
	branch := fmt.Sprintf("demo-%d", d.seq)
	repo := d.Env.ConfigRepo
	sha := d.Env.GitHub.Commit(repo, branch, title, map[string]*string{CatalogPath: &catalog})
	n := d.Env.GitHub.OpenPR(repo, branch, DefaultBranch, title, "")
	d.Say("  • %s opens PR #%d in %s: %q", who, n, repo, title)
	if err := d.settle(ctx); err != nil {
		return 0, "", err
	}
	return n, sha, nil
}

// previewPR opens a catalog PR and waits for, and narrates, its plan.
func (d *Demo) previewPR(ctx context.Context, who, title, catalog string) (int, githubtest.CheckRun, error) {
	n, head, err := d.catalogPR(ctx, who, title, catalog)
	if err != nil {
		return 0, githubtest.CheckRun{}, err
	}
	plan, err := d.checkRun(ctx, d.Env.ConfigRepo, head, gh.CheckPlan)
	if err != nil {
		return 0, githubtest.CheckRun{}, err
	}
	d.sayCheck(plan)
	return n, plan, nil
}

func (d *Demo) mergeConfigPR(ctx context.Context, n int, catalog string) (string, error) {
	sha, err := d.Env.GitHub.MergePR(d.Env.ConfigRepo, n, "squash")
	if err != nil {
		return "", err
	}
	d.catalog = catalog
	d.Say("  • PR #%d merged into %s (commit %s)", n, d.Env.ConfigRepo, short(sha))
	return sha, d.settle(ctx)
}

func (d *Demo) openBotPR() (githubtest.PullRequest, bool) {
	for _, pr := range d.Env.GitHub.PRs(d.Env.PipelinesRepo) {
		if pr.Head == gh.SyncBranch && pr.State == "open" {
			return pr, true
		}
	}
	return githubtest.PullRequest{}, false
}

// mergeBotPR merges the open bot PR and waits for Harness.
func (d *Demo) mergeBotPR(ctx context.Context) (string, githubtest.CheckRun, error) {
	pr, ok := d.openBotPR()
	if !ok {
		return "", githubtest.CheckRun{}, fmt.Errorf("no open bot PR")
	}
	files := d.changedFiles(pr)
	d.Say("  • Bot PR #%d in %s: %q (%s)", pr.Number, d.Env.PipelinesRepo, pr.Title, strings.Join(files, ", "))
	sha, err := d.Env.GitHub.MergePR(d.Env.PipelinesRepo, pr.Number, "merge")
	if err != nil {
		return "", githubtest.CheckRun{}, err
	}
	d.Say("  • A platform engineer merges bot PR #%d (commit %s)", pr.Number, short(sha))
	if err := d.settle(ctx); err != nil {
		return "", githubtest.CheckRun{}, err
	}
	c, err := d.checkRun(ctx, d.Env.PipelinesRepo, sha, gh.CheckHarness)
	if err != nil {
		return "", githubtest.CheckRun{}, err
	}
	d.sayCheck(c)
	return sha, c, nil
}

// changedFiles lists the pipeline files a bot PR changes.
func (d *Demo) changedFiles(pr githubtest.PullRequest) []string {
	head := d.Env.GitHub.Tree(d.Env.PipelinesRepo, pr.HeadSHA)
	base := d.Env.GitHub.Tree(d.Env.PipelinesRepo, pr.BaseSHA)
	var out []string
	for p, sha := range head {
		if base[p] != sha {
			out = append(out, "~ "+p)
		}
	}
	for p := range base {
		if _, ok := head[p]; !ok {
			out = append(out, "- "+p)
		}
	}
	sort.Strings(out)
	if len(out) > 4 {
		out = append(out[:4], fmt.Sprintf("… %d more", len(out)-4))
	}
	return out
}

func (d *Demo) bootstrap(ctx context.Context) error {
	d.Say("  • The App is installed on %s and %s; at start it renders the existing catalog", d.Env.ConfigRepo, d.Env.PipelinesRepo)
	if err := d.Env.StartConfigCI(); err != nil {
		return err
	}
	files := 0
	for p := range d.Env.GitHub.Tree(d.Env.ConfigRepo, DefaultBranch) {
		if strings.HasPrefix(p, "generated/") {
			files++
		}
	}
	d.Say("  • %s's own CI generates the Kubernetes manifests and values of every service, environment and region (%d files under generated/)", d.Env.ConfigRepo, files)
	if err := d.settle(ctx); err != nil {
		return err
	}
	if err := d.sayConnector(); err != nil {
		return err
	}
	_, c, err := d.mergeBotPR(ctx)
	if err != nil {
		return err
	}
	if c.Conclusion != "success" {
		return fmt.Errorf("harness check run ended %s: %s", c.Conclusion, c.Title)
	}
	d.sayHarness()
	return nil
}

const demoService = `  - name: loyalty-api
    archetype: api
    team: loyalty
    environments: [int, pre, prod]
    regions: [euw1, euw2]
    profile: medium
    components: [pdb]
`

func (d *Demo) onboard(ctx context.Context) error {
	catalog := d.catalog + demoService
	n, plan, err := d.previewPR(ctx, "A developer", "Onboard loyalty-api", catalog)
	if err != nil {
		return err
	}
	if plan.Conclusion != "success" || !strings.Contains(plan.Title, "1 service to create") {
		return fmt.Errorf("the plan should create one service, got %s %q", plan.Conclusion, plan.Title)
	}
	if _, err := d.mergeConfigPR(ctx, n, catalog); err != nil {
		return err
	}
	_, c, err := d.mergeBotPR(ctx)
	if err != nil {
		return err
	}
	if c.Conclusion != "success" {
		return fmt.Errorf("the harness check run ended %s: %s", c.Conclusion, c.Title)
	}
	for kind, id := range map[harnesstest.Kind]string{harnesstest.KindService: "loyalty_api",
		harnesstest.KindPipeline: "loyalty_api_cd", harnesstest.KindTrigger: "loyalty_api_cd/loyalty_api_cd_new_image"} {
		if _, ok := d.Env.Harness.Entities(kind, "default", "platform")[id]; !ok {
			return fmt.Errorf("Harness lacks the %s %s", kind, id)
		}
	}
	d.sayHarness()
	return d.deploy(ctx, "loyalty-api", "v2.3.1")
}

func (d *Demo) configOnly(ctx context.Context) error {
	catalog := strings.Replace(d.catalog, demoService, strings.Replace(demoService, "profile: medium", "profile: large", 1), 1)
	if catalog == d.catalog {
		return fmt.Errorf("loyalty-api is not in the catalog")
	}
	effects := len(d.Env.Harness.Effects())
	n, plan, err := d.previewPR(ctx, "A developer", "loyalty-api: profile medium → large", catalog)
	if err != nil {
		return err
	}
	if !strings.Contains(plan.Title, "1 config-only") {
		return fmt.Errorf("the plan should be config-only, got %q", plan.Title)
	}
	merge, err := d.mergeConfigPR(ctx, n, catalog)
	if err != nil {
		return err
	}
	sync, err := d.checkRun(ctx, d.Env.ConfigRepo, merge, gh.CheckSync)
	if err != nil {
		return err
	}
	d.sayCheck(sync)
	if pr, ok := d.openBotPR(); ok {
		return fmt.Errorf("a config-only change opened bot PR #%d", pr.Number)
	}
	if got := len(d.Env.Harness.Effects()); got != effects {
		return fmt.Errorf("Harness changed: %d new effects", got-effects)
	}
	d.Say("  • No bot PR, Harness untouched: the new profile takes effect on the next deploy")
	return nil
}

func (d *Demo) retire(ctx context.Context) error {
	i := strings.Index(d.catalog, "  - name: loyalty-api\n")
	if i < 0 {
		return fmt.Errorf("loyalty-api is not in the catalog")
	}
	rest := d.catalog[i+1:]
	j := strings.Index(rest, "\n  - name: ")
	catalog := d.catalog[:i]
	if j >= 0 {
		catalog += rest[j+1:]
	}
	n, _, err := d.catalogPR(ctx, "The loyalty team", "Retire loyalty-api", catalog)
	if err != nil {
		return err
	}
	if _, err := d.mergeConfigPR(ctx, n, catalog); err != nil {
		return err
	}
	_, c, err := d.mergeBotPR(ctx)
	if err != nil {
		return err
	}
	if _, ok := d.harness()["loyalty_api_cd"]; ok || c.Conclusion != "success" {
		return fmt.Errorf("loyalty_api_cd is still in Harness (harness check: %s)", c.Conclusion)
	}
	d.sayHarness()
	return nil
}

func (d *Demo) invalidPR(ctx context.Context) error {
	bad := `  - name: Payments_Legacy
    archetype: api
    team: payments
    environments: [int, staging]
    regions: [euw1]
`
	catalog := d.catalog + bad
	firstLine := strings.Count(d.catalog, "\n") + 1
	_, plan, err := d.previewPR(ctx, "A developer", "Add Payments_Legacy", catalog)
	if err != nil {
		return err
	}
	for _, a := range plan.Annotations {
		d.Say("    %s:%d:%d: %s", a.Path, a.StartLine, a.StartColumn, a.Message)
	}
	if plan.Conclusion != "failure" || len(plan.Annotations) != 2 ||
		plan.Annotations[0].StartLine != firstLine || plan.Annotations[1].StartLine != firstLine+3 {
		return fmt.Errorf("want a failure with annotations on lines %d and %d", firstLine, firstLine+3)
	}
	if pr, ok := d.openBotPR(); ok {
		return fmt.Errorf("an invalid catalog opened bot PR #%d", pr.Number)
	}
	d.Say("  • Nothing proposed: the PR stays red until the catalog is fixed")
	return nil
}

func (d *Demo) harnessOutage(ctx context.Context) error {
	catalog := d.catalog + strings.ReplaceAll(demoService, "loyalty-api", "search-api")
	n, _, err := d.catalogPR(ctx, "A developer", "Onboard search-api", catalog)
	if err != nil {
		return err
	}
	if _, err := d.mergeConfigPR(ctx, n, catalog); err != nil {
		return err
	}
	pr, ok := d.openBotPR()
	if !ok {
		return fmt.Errorf("no bot PR for search-api")
	}
	const failures = 8
	d.Env.Harness.FailNext(failures, harnesstest.Fault{Kind: harnesstest.FaultStatus, Status: 503})
	d.Say("  • Harness starts failing: its next %d calls answer 503", failures)
	sha, err := d.Env.GitHub.MergePR(d.Env.PipelinesRepo, pr.Number, "merge")
	if err != nil {
		return err
	}
	d.Say("  • Bot PR #%d merged (commit %s) while Harness is failing", pr.Number, short(sha))
	// Report what the check run says while the operation is retried.
	deadline := time.Now().Add(d.Timeout)
	for time.Now().Before(deadline) {
		d.Env.App.App.Flush(ctx)
		runs := d.Env.GitHub.CheckRuns(d.Env.PipelinesRepo, sha)
		if len(runs) > 0 && strings.HasPrefix(runs[len(runs)-1].Title, "Retrying") {
			d.Say("  • Check run %s meanwhile: %s", gh.CheckHarness, runs[len(runs)-1].Title)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := d.settle(ctx); err != nil {
		return err
	}
	c, err := d.checkRun(ctx, d.Env.PipelinesRepo, sha, gh.CheckHarness)
	if err != nil {
		return err
	}
	d.sayCheck(c)
	ops, err := d.Env.App.DB.Operations.List(ctx, store.OperationFilter{Commit: sha})
	if err != nil {
		return err
	}
	attempts, refused := 0, 0
	for _, op := range ops {
		attempts += op.Attempts
	}
	for _, call := range d.Env.Harness.Calls() {
		if call.Status == 503 {
			refused++
		}
	}
	d.Say("  • Harness refused %d calls; the client retried each call, then the outbox retried the operation (%d attempts) with backoff until Harness answered", refused, attempts)
	if _, ok := d.harness()["search_api_cd"]; !ok || c.Conclusion != "success" || attempts < 2 || refused != failures {
		return fmt.Errorf("search_api_cd should reach Harness after retries (check %s, %d attempts, %d refused calls)", c.Conclusion, attempts, refused)
	}
	d.sayHarness()
	return nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
