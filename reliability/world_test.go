package reliability_test

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/app"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
	"gopkg.in/yaml.v3"
)

const (
	catalogPath = "catalog/services.yaml"
	mainBranch  = sandbox.DefaultBranch
)

// world is one test's GitHub and Harness stand-ins (in this process) and
// the app (in a child process), with a read handle on the app's store.
type world struct {
	tb testing.TB
	*sandbox.StandIns
	Server *server
	Config app.Config
	// DB reads the app's store; the child process is the one writing it.
	DB *store.DB
}

// worldOptions shape a world.
type worldOptions struct {
	Catalog string
	// Templates puts copies of the built-in templates in the pipelines
	// repo, so that tests can edit them.
	Templates bool
	// Settings is the pipelines repo's settings file ("": none, the
	// defaults).
	Settings string
	Delivery githubtest.DeliveryMode
	// Tune adjusts the app's configuration.
	Tune func(*app.Config)
}

// newWorld starts the stand-ins and the first server.
func newWorld(tb testing.TB, opts worldOptions) *world {
	tb.Helper()
	pipelines := map[string]string{"README.md": "# pipelines\n"}
	if opts.Templates {
		for name, src := range templates.Default() {
			pipelines["templates/"+name] = string(src)
		}
	}
	if opts.Settings != "" {
		pipelines[catalog.SettingsPath] = opts.Settings
	}
	si, err := sandbox.StartStandIns(sandbox.StandInOptions{
		ConfigFiles:    map[string]string{catalogPath: opts.Catalog, "README.md": "# platform\n"},
		PipelinesFiles: pipelines,
		Delivery:       opts.Delivery,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(si.Close)
	dir := tb.TempDir()
	cfg := si.Config(dir)
	if opts.Tune != nil {
		opts.Tune(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		tb.Fatal(err)
	}
	w := &world{tb: tb, StandIns: si, Config: cfg, Server: newServer(tb, dir, cfg)}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("last lines of the server log:\n%s", w.Server.LogTail(40))
		}
	})
	w.Start()
	db, err := store.Open(context.Background(), cfg.Store.Path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	w.DB = db
	return w
}

// Start starts a server and points GitHub's webhooks at it.
func (w *world) Start() {
	w.tb.Helper()
	w.Server.Start()
	w.GitHub.SetWebhookURL(w.Server.HookURL())
}

// settle waits until the app has nothing left to do. Before each look,
// pump hands GitHub's webhooks over (nil: wait for immediate deliveries).
func (w *world) settle(timeout time.Duration, pump func()) error {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	quiet := 0
	for {
		if pump != nil {
			pump()
		} else {
			w.GitHub.WaitIdle()
		}
		busy, err := w.DB.Unfinished(ctx)
		if err != nil {
			return err
		}
		if busy == "" && len(w.GitHub.Pending()) == 0 {
			quiet++
			if quiet >= 4 { // stable across a few looks: nothing in flight between them
				return nil
			}
		} else {
			quiet = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not settled after %s: %s", timeout, busy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustSettle is settle that fails the test.
func (w *world) mustSettle(timeout time.Duration, pump func()) {
	w.tb.Helper()
	if err := w.settle(timeout, pump); err != nil {
		w.tb.Fatal(err)
	}
}

// redeliverFailed redelivers every webhook no attempt of which was
// answered 2xx, as an operator does with GitHub's redelivery API after an
// outage. It returns how many it redelivered.
func (w *world) redeliverFailed() int {
	n := 0
	for _, d := range w.GitHub.Deliveries() {
		if d.Pending || d.Delivered() || len(d.Attempts) == 0 {
			continue
		}
		if _, err := w.GitHub.Redeliver(d.GUID); err != nil {
			w.tb.Fatal(err)
		}
		n++
	}
	return n
}

// openBotPR returns the open bot PR.
func (w *world) openBotPR() (githubtest.PullRequest, bool) {
	for _, pr := range w.GitHub.PRs(w.PipelinesRepo) {
		if pr.Head == gh.SyncBranch && pr.State == "open" {
			return pr, true
		}
	}
	return githubtest.PullRequest{}, false
}

// latestCheck returns the latest check run named name on sha.
func (w *world) latestCheck(repo, sha, name string) (githubtest.CheckRun, bool) {
	var found githubtest.CheckRun
	ok := false
	for _, c := range w.GitHub.CheckRuns(repo, sha) {
		if c.Name == name {
			found, ok = c, true
		}
	}
	return found, ok
}

// convergence is how the final state compares with the rendering of the
// final catalog and templates.
type convergence struct {
	Desired int // entities the final catalog and settings render
	// DesiredByKind counts them by kind ("service", "pipeline", ...).
	DesiredByKind map[string]int
	Lost          []string // desired entities missing in Harness
	Extra         []string // entities in Harness the catalog does not render
	Stale         []string // entities in Harness whose YAML differs as data
	RepoDiff      []string // differences between the pipelines repo and the rendering
}

func (c convergence) ok() bool {
	return len(c.Lost)+len(c.Extra)+len(c.Stale)+len(c.RepoDiff) == 0
}

// kinds lists the desired entities by kind, in apply order.
func (c convergence) kinds() string { return countsByKind(c.DesiredByKind) }

// entityKinds are the kinds of entity the app manages, in apply order.
var entityKinds = []harnesstest.Kind{harnesstest.KindConnector, harnesstest.KindEnvironment, harnesstest.KindInfrastructure,
	harnesstest.KindService, harnesstest.KindPipeline, harnesstest.KindTrigger}

// countsByKind writes counts keyed by entity kind, the rendered kinds in
// apply order, then any other: "connector 1, environment 3,
// infrastructure 4, service 8, pipeline 8, trigger 8".
func countsByKind(counts map[string]int) string {
	var parts []string
	for _, k := range entityKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[string(k)]))
	}
	var others []string
	for k, n := range counts {
		if !slices.Contains(entityKinds, harnesstest.Kind(k)) {
			others = append(others, fmt.Sprintf("%s %d", k, n))
		}
	}
	sort.Strings(others)
	return strings.Join(append(parts, others...), ", ")
}

// harnessEntities returns every entity Harness holds in org/project, of
// every kind the app manages, by entityKey. Of the connectors, only those
// tagged as the app's count: the registry and cluster connectors the
// sandbox seeds are the platform team's.
func (w *world) harnessEntities(org, project string) map[string][]byte {
	out := map[string][]byte{}
	for _, kind := range entityKinds {
		for k, y := range w.Harness.Entities(kind, org, project) {
			if kind == harnesstest.KindConnector && !taggedManaged(y) {
				continue
			}
			parent, id, ok := strings.Cut(k, "/")
			if !ok {
				parent, id = "", k
			}
			out[entityKey(string(kind), parent, id)] = y
		}
	}
	return out
}

// taggedManaged reports whether a connector's YAML carries the tag the
// app puts on what it manages.
func taggedManaged(src []byte) bool {
	var doc struct {
		Connector struct {
			Tags map[string]string `yaml:"tags"`
		} `yaml:"connector"`
	}
	return yaml.Unmarshal(src, &doc) == nil && doc.Connector.Tags[render.ManagedByTag] == render.ManagedByValue
}

// finalState is the final rendering and the trees it came from.
type finalState struct {
	Settings catalog.Settings
	Tree     map[string]string // the pipelines repo's default branch
	Desired  map[string][]byte // render.All of the final catalog, by path
}

// render renders the config repo's final catalog with the pipelines repo's
// final templates and settings, as render.All does.
func (w *world) render() finalState {
	w.tb.Helper()
	tree := w.GitHub.Tree(w.PipelinesRepo, mainBranch)
	settings := catalog.DefaultSettings()
	if src, ok := tree[catalog.SettingsPath]; ok {
		s, diags := catalog.ParseSettings(catalog.SettingsPath, []byte(src))
		if len(diags) > 0 {
			w.tb.Fatalf("final settings are invalid:\n%v", diags)
		}
		settings = s
	}
	repoTemplates := map[string][]byte{}
	for p, src := range tree {
		if path.Dir(p) == settings.TemplatesDir {
			repoTemplates[p] = []byte(src)
		}
	}
	tmpl, diags := render.LoadTemplates(repoTemplates)
	if len(diags) > 0 {
		w.tb.Fatalf("final templates are invalid:\n%v", diags)
	}
	src, ok := w.GitHub.File(w.ConfigRepo, mainBranch, catalogPath)
	if !ok {
		w.tb.Fatal("the final catalog is missing")
	}
	cat, diags := catalog.Parse(catalogPath, []byte(src), catalog.ParseOptions{Settings: settings, Archetypes: tmpl.Archetypes()})
	if len(diags) > 0 {
		w.tb.Fatalf("the final catalog is invalid:\n%v", diags)
	}
	desired, diags := render.All(tmpl, cat, render.Options{Settings: settings, Source: render.Source{CatalogPath: catalogPath}})
	if len(diags) > 0 {
		w.tb.Fatalf("the final catalog does not render:\n%v", diags)
	}
	return finalState{Settings: settings, Tree: tree, Desired: desired}
}

// checkConvergence compares the rendering of the final catalog, templates
// and settings (see render) with Harness, entity by entity of every kind,
// and with the pipelines repo's default branch. YAML is compared as data:
// the header comments naming source commits do not count.
func (w *world) checkConvergence() convergence {
	w.tb.Helper()
	fs := w.render()
	c := convergence{DesiredByKind: map[string]int{}}
	byKey := map[string][]byte{}
	for p, b := range fs.Desired {
		e, err := render.ReadEntity(b)
		if err != nil {
			w.tb.Fatalf("%s: %v", p, err)
		}
		byKey[entityKey(string(e.Kind), e.EnvironmentRef+e.PipelineRef, e.Identifier)] = b
		c.DesiredByKind[string(e.Kind)]++
	}
	if key, doc, ok := w.desiredConnector(fs.Settings); ok {
		byKey[key] = doc
		c.DesiredByKind[string(harnesstest.KindConnector)]++
	}
	c.Desired = len(byKey)
	inHarness := w.harnessEntities(fs.Settings.Org, fs.Settings.Project)
	for key, want := range byKey {
		got, ok := inHarness[key]
		if !ok {
			c.Lost = append(c.Lost, key)
			continue
		}
		if same, err := harness.SameYAML(want, got); err != nil || !same {
			c.Stale = append(c.Stale, key)
		}
	}
	for key := range inHarness {
		if _, ok := byKey[key]; !ok {
			c.Extra = append(c.Extra, key)
		}
	}
	c.RepoDiff = repoDiff(fs)
	for _, l := range [][]string{c.Lost, c.Extra, c.Stale, c.RepoDiff} {
		sort.Strings(l)
	}
	return c
}

// desiredConnector is the cross-org GitHub connector the app must keep in
// Harness for settings s: authenticated as the sandbox's App through its
// installation on the config repository's owner. ok is false when the
// settings name a connector of another scope, which the app leaves alone.
func (w *world) desiredConnector(s catalog.Settings) (key string, doc []byte, ok bool) {
	w.tb.Helper()
	if planner.ManagedConnector(s) == "" {
		return "", nil, false
	}
	owner, _ := app.SplitRepo(w.ConfigRepo)
	doc, err := render.GitHubConnector(s, render.ConnectorApp{WebURL: w.Config.GitHub.WebURL, Owner: owner,
		AppID: sandbox.AppID, InstallationID: w.GitHub.AddInstallation(owner)}) // the sandbox's: returns its id
	if err != nil {
		w.tb.Fatal(err)
	}
	return entityKey(string(harnesstest.KindConnector), "", s.Manifests.Connector), doc, true
}

// repoDiff lists how the pipelines repo's entity files differ from the
// rendering.
func repoDiff(fs finalState) []string {
	var out []string
	for p, want := range fs.Desired {
		got, ok := fs.Tree[p]
		if !ok {
			out = append(out, "missing "+p)
			continue
		}
		if same, err := harness.SameYAML(want, []byte(got)); err != nil || !same {
			out = append(out, "differs "+p)
		}
	}
	for p := range fs.Tree {
		if _, entity := render.KindOfPath(fs.Settings, p); entity {
			if _, ok := fs.Desired[p]; !ok {
				out = append(out, "extra "+p)
			}
		}
	}
	return out
}

// entityKey names an entity in convergence and effect reports: "pipeline
// svc_cd", "trigger svc_cd/svc_cd_new_image".
func entityKey(kind, parent, id string) string {
	if parent != "" {
		return kind + " " + parent + "/" + id
	}
	return kind + " " + id
}

// effectAudit is what replaying Harness's effect log finds.
type effectAudit struct {
	Effects int
	// ByKind counts the effects by entity kind ("service", ...).
	ByKind map[string]int
	// Duplicates are effects that would conflict on replay: a create of an
	// entity that exists, a delete or update of one that does not.
	Duplicates []string
	// Redundant are updates that wrote the data the entity already held.
	// They change nothing in Harness and are reported, not failed: a
	// write in flight when its process was killed can land after the next
	// process read the entity (which then writes it again), and after an
	// ambiguous failure of an update (the write took effect, the answer
	// was lost) the client writes again. Harness has no conditional
	// update that would rule either out.
	Redundant []string
}

// auditEffects replays every create, update and delete that took effect
// in Harness, of every kind, from an empty Harness. Cascading deletes
// (the triggers of a deleted pipeline, the infrastructure definitions of
// a deleted environment) are replayed too, so that a later delete of the
// same entity counts as a duplicate.
func auditEffects(effects []harnesstest.Effect) effectAudit {
	a := effectAudit{ByKind: map[string]int{}}
	state := map[string][]byte{}
	for i, e := range effects {
		if e.Kind == "execute" {
			continue
		}
		a.Effects++
		a.ByKind[string(e.Entity)]++
		key := e.Org + "/" + e.Project + " " + entityKey(string(e.Entity), e.Parent, e.ID)
		cur, exists := state[key]
		switch e.Kind {
		case "create":
			if exists {
				a.Duplicates = append(a.Duplicates, fmt.Sprintf("#%d create of existing %s", i, key))
			}
			state[key] = e.YAML
		case "update":
			if !exists {
				a.Duplicates = append(a.Duplicates, fmt.Sprintf("#%d update of missing %s", i, key))
			} else if same, err := harness.SameYAML(cur, e.YAML); err == nil && same {
				a.Redundant = append(a.Redundant, fmt.Sprintf("#%d update of %s with the data it held", i, key))
			}
			state[key] = e.YAML
		case "delete":
			if !exists {
				a.Duplicates = append(a.Duplicates, fmt.Sprintf("#%d delete of missing %s", i, key))
			}
			delete(state, key)
		}
	}
	return a
}

// storeFigures are counts read from the app's store.
type storeFigures struct {
	Deliveries       store.DeliveryStats
	Queue            store.QueueStats
	Operations       int
	Retries          int // operation attempts beyond the first
	FailedOperations []string
}

func (w *world) storeFigures() storeFigures {
	w.tb.Helper()
	ctx := context.Background()
	var f storeFigures
	var err error
	if f.Deliveries, err = w.DB.Deliveries.Stats(ctx); err != nil {
		w.tb.Fatal(err)
	}
	if f.Queue, err = w.DB.Operations.Stats(ctx); err != nil {
		w.tb.Fatal(err)
	}
	total := f.Queue.Pending + f.Queue.Running + f.Queue.Failed + f.Queue.Done + f.Queue.Held + f.Queue.Superseded
	ops, err := w.DB.Operations.List(ctx, store.OperationFilter{Limit: total + 1})
	if err != nil {
		w.tb.Fatal(err)
	}
	f.Operations = len(ops)
	for _, op := range ops {
		if op.Attempts > 1 {
			f.Retries += op.Attempts - 1
		}
		if op.State == store.OpFailed {
			f.FailedOperations = append(f.FailedOperations, fmt.Sprintf("%s %s: %s", op.Kind, entityKey(orPipeline(op.Entity), op.Parent, op.Identifier), op.LastError))
		}
	}
	return f
}

// orPipeline is an operation's entity kind: "" means a pipeline.
func orPipeline(kind string) string {
	if kind == "" {
		return string(harnesstest.KindPipeline)
	}
	return kind
}

// ptr returns a pointer to s, for githubtest's Commit.
func ptr(s string) *string { return &s }

// debugf logs when RELIABILITY_DEBUG is set.
func debugf(tb testing.TB, format string, args ...any) {
	if os.Getenv("RELIABILITY_DEBUG") != "" {
		tb.Logf(format, args...)
	}
}
