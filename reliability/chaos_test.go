package reliability_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// chaosOptions size a chaos run.
type chaosOptions struct {
	Changes  int // catalog and template changes merged
	Kills    int // SIGKILLs of the server, at least
	Services int // services in the first catalog
	// MaxOpen bounds the change PRs open at once.
	MaxOpen int
}

// TestChaosShort is the chaos test at a size that guards every change:
// 10 changes, 5 kills. The full run is TestChaos (build tag reliability).
func TestChaosShort(t *testing.T) {
	runChaos(t, chaosOptions{Changes: 10, Kills: 5, Services: 8, MaxOpen: 3})
}

// chaosSettings are the pipelines repo's settings in chaos runs: a low
// mass-delete threshold, so that bot PRs get flagged and labelled along
// the way. Settings changes add revisions to them (settingsAt).
const chaosSettings = "mass_delete: {max_count: 2, max_percent: 10}\n"

// chaos drives one chaos run. Everything it does goes through the
// stand-ins as users and GitHub would: commits, PRs, merges, labels,
// webhook deliveries (shuffled, duplicated, redelivered), and kills of the
// server process.
type chaos struct {
	t    *testing.T
	w    *world
	seed uint64
	rng  *rand.Rand
	opts chaosOptions

	catalog         *catalogModel // the config repo's default branch
	nextRev         int           // revision of the next template edit merged
	nextSettingsRev int           // revision of the next settings change merged

	open    []*changePR
	created int
	merged  int
	kinds   map[changeKind]int

	kills       int
	busyKills   int // kills that found work claimed or waiting in the store
	downSends   int // webhook attempts that failed because the server was down
	redelivered int // failed webhooks redelivered, as an operator would
	duplicates  int // webhooks delivered again on purpose
	botMerges   int
	conflicted  int   // bot PRs found with conflicts, not merged then
	toLabel     []int // merged bot PRs flagged as mass deletes, awaiting the label
	heldLabels  int   // labels added because the app reported held deletes
	final       bool  // the end: every webhook has been processed
	botLabels   int
	methods     map[string]int
}

// changePR is a change waiting in an open PR.
type changePR struct {
	id     int
	kind   changeKind
	seed   uint64
	repo   string
	branch string
	number int
	desc   string
}

func chaosSeed(t *testing.T) uint64 {
	if v := os.Getenv("RELIABILITY_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("RELIABILITY_SEED=%q: %v", v, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

func runChaos(t *testing.T, opts chaosOptions) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	c := newChaos(t, opts)
	start := time.Now()

	// Bootstrap: the first catalog becomes entities.
	c.settle()
	c.mergeBotPR()
	c.run()
	c.finish()
	took := time.Since(start)
	c.checkAlive()
	c.w.Server.Stop()
	c.report(took)
}

// newChaos starts a chaos run's world: a random first catalog, the
// built-in templates in the pipelines repo, webhooks delivered by hand.
func newChaos(t *testing.T, opts chaosOptions) *chaos {
	seed := chaosSeed(t)
	t.Logf("seed %d (RELIABILITY_SEED=%d repeats the test's own choices; the server's timing still varies)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	initial := newCatalog(rng, opts.Services)
	w := newWorld(t, worldOptions{
		Catalog: initial.YAML(), Templates: true, Delivery: githubtest.DeliverManually,
		Settings: settingsAt(chaosSettings, 0),
	})
	// A network's worth of latency, so that kills find operations in flight.
	w.Harness.SetLatency(15 * time.Millisecond)
	return &chaos{
		t: t, w: w, seed: seed, rng: rng, opts: opts, catalog: initial,
		kinds: map[changeKind]int{}, methods: map[string]int{},
	}
}

// run merges opts.Changes random changes, delivering webhooks, merging
// bot PRs and killing the server along the way, then kills until
// opts.Kills.
func (c *chaos) run() {
	for c.merged < c.opts.Changes {
		c.checkAlive()
		switch x := c.rng.IntN(100); {
		case c.created < c.opts.Changes && len(c.open) < c.opts.MaxOpen && (len(c.open) == 0 || x < 35):
			c.openChange()
		case len(c.open) > 0 && x < 65:
			c.mergeChange()
			c.maybeKill()
			if c.merged%10 == 0 {
				// Now and then everything lands, so that the bot PR
				// holds all changes so far and its apply runs while
				// the kills go on.
				c.settle()
			}
		case x < 75:
			c.deliverSome()
			c.labelLater()
		case x < 88:
			// People take their time: the app gets on with its work.
			c.deliverSome()
			time.Sleep(time.Duration(c.rng.IntN(1000)) * time.Millisecond)
		default:
			if c.mergeBotPR() && c.rng.IntN(2) == 0 {
				c.deliverSome()
				c.kill() // while the apply runs
			}
		}
	}
	for c.kills < c.opts.Kills { // more kills than changes asked for
		c.deliverSome()
		c.kill()
	}
}

// finish ends the run: everything delivered, held deletes labelled, the
// last bot PR merged, Harness converged.
func (c *chaos) finish() {
	c.final = true
	for round := 0; ; round++ {
		c.settle()
		for held := c.heldCount(); len(c.toLabel) > 0 || held > 0; held = c.heldCount() {
			labels := c.botLabels + c.heldLabels
			c.labelLater()
			c.settle()
			if c.botLabels+c.heldLabels == labels {
				break // nothing more a person can label: held deletes wait for a bot PR merge
			}
		}
		if !c.mergeBotPR() {
			break
		}
		if round > 20 {
			c.t.Fatal("a bot PR is still open after 20 rounds of merging")
		}
	}
	c.settle()
	if pr, ok := c.w.openBotPR(); ok {
		c.t.Fatalf("bot PR #%d is open after the end", pr.Number)
	}
}

// report logs the run's figures and its RESULT line, and fails the test
// on anything lost, done twice, failed or held.
func (c *chaos) report(took time.Duration) {
	t, w := c.t, c.w
	conv := w.checkConvergence()
	effects := auditEffects(w.Harness.Effects())
	figs := w.storeFigures()
	t.Logf("changes merged: %d (%s); change PRs opened: %d", c.merged, c.kindSummary(), c.created)
	t.Logf("server: %d kills (SIGKILL), %d of them with work claimed or waiting; %d lives", c.kills, c.busyKills, w.Server.Lives)
	t.Logf("webhooks: %d sent, %d attempts failed while the server was down, %d redelivered after a failure, %d duplicated on purpose",
		len(w.GitHub.Deliveries()), c.downSends, c.redelivered, c.duplicates)
	t.Logf("store: deliveries %d done, %d failed; operations %d (%d done, %d superseded, %d failed, %d held), %d retries",
		figs.Deliveries.Done, figs.Deliveries.Failed, figs.Operations, figs.Queue.Done, figs.Queue.Superseded,
		figs.Queue.Failed, figs.Queue.Held, figs.Retries)
	t.Logf("bot PRs merged: %d %v, mass-delete labels: %d on flagged PRs, %d for held deletes; found with conflicts (for now) and left: %d",
		c.botMerges, c.methods, c.botLabels, c.heldLabels, c.conflicted)
	t.Logf("Harness: %d entities desired (%s)", conv.Desired, conv.kinds())
	t.Logf("Harness: %d effects (%s); lost %d, extra %d, stale %d, duplicated effects %d, redundant updates %d",
		effects.Effects, countsByKind(effects.ByKind), len(conv.Lost), len(conv.Extra), len(conv.Stale),
		len(effects.Duplicates), len(effects.Redundant))
	t.Logf("RESULT %s: seed=%d changes=%d kills=%d deliveries_processed=%d operations_done=%d lost=%d duplicated_effects=%d redundant_updates=%d entities=%d converged=%v took=%s",
		t.Name(), c.seed, c.merged, c.kills, figs.Deliveries.Done, figs.Queue.Done, len(conv.Lost), len(effects.Duplicates),
		len(effects.Redundant), conv.Desired, conv.ok(), took.Round(time.Second))

	if c.kills < c.opts.Kills {
		t.Errorf("%d kills, want at least %d", c.kills, c.opts.Kills)
	}
	if !conv.ok() {
		t.Errorf("Harness and the pipelines repo do not match the final catalog:\nlost %v\nextra %v\nstale %v\nrepo %v",
			conv.Lost, conv.Extra, conv.Stale, conv.RepoDiff)
	}
	if len(effects.Duplicates) > 0 {
		t.Errorf("effects done twice:\n%s", strings.Join(effects.Duplicates, "\n"))
	}
	if len(effects.Redundant) > 0 {
		// Reported, not failed: see effectAudit.Redundant.
		t.Logf("redundant updates:\n%s", strings.Join(effects.Redundant, "\n"))
	}
	if len(figs.FailedOperations) > 0 || figs.Queue.Held > 0 {
		t.Errorf("operations failed or held at the end: %d held\n%s", figs.Queue.Held, strings.Join(figs.FailedOperations, "\n"))
	}
}

func (c *chaos) checkAlive() {
	c.t.Helper()
	if c.w.Server.cmd != nil && !c.w.Server.Running() {
		c.t.FailNow()
	}
}

func (c *chaos) kindSummary() string {
	var parts []string
	for _, k := range changeWeights {
		parts = append(parts, fmt.Sprintf("%s %d", k.kind, c.kinds[k.kind]))
	}
	return strings.Join(parts, ", ")
}

// openChange opens a PR with a new random change, made on the current
// default branch.
func (c *chaos) openChange() {
	c.created++
	pr := &changePR{id: c.created, kind: randomKind(c.rng), seed: c.rng.Uint64()}
	switch pr.kind {
	case changeTemplate, changeSettings:
		pr.repo, pr.branch = c.w.PipelinesRepo, fmt.Sprintf("%s-change-%d", pr.kind, pr.id)
	default:
		pr.repo, pr.branch = c.w.ConfigRepo, fmt.Sprintf("catalog-change-%d", pr.id)
	}
	path, content, desc := c.render(pr)
	pr.desc = desc
	c.w.GitHub.Commit(pr.repo, pr.branch, desc, map[string]*string{path: &content})
	pr.number = c.w.GitHub.OpenPR(pr.repo, pr.branch, mainBranch, desc, "")
	c.open = append(c.open, pr)
	debugf(c.t, "opened %s#%d: %s", pr.repo, pr.number, desc)
}

// render applies pr's change to the current default branch and returns the
// file to commit. The same PR applied to the same branch state gives the
// same file.
func (c *chaos) render(pr *changePR) (path, content, desc string) {
	return c.changeFile(pr, c.catalog.clone(), c.nextRev+1, c.nextSettingsRev+1)
}

// changeFile applies pr's change: a catalog change to m, a template edit
// at revision rev, a settings change at revision settingsRev.
func (c *chaos) changeFile(pr *changePR, m *catalogModel, rev, settingsRev int) (path, content, desc string) {
	rng := rand.New(rand.NewPCG(pr.seed, uint64(pr.id)))
	switch pr.kind {
	case changeTemplate:
		name := pick(rng, modelTemplates)
		return templatePath(name), templateAt(name, rev), fmt.Sprintf("%s template: revision %d", name, rev)
	case changeSettings:
		return catalog.SettingsPath, settingsAt(chaosSettings, settingsRev), fmt.Sprintf("settings: revision %d", settingsRev)
	}
	desc = applyCatalogChange(m, pr.kind, rng)
	return catalogPath, m.YAML(), desc
}

// mergeChange merges a random open change PR, after bringing it up to date
// with its base as a developer would: the branch is reset to the base and
// the change made again on top.
func (c *chaos) mergeChange() {
	i := c.rng.IntN(len(c.open))
	pr := c.open[i]
	c.open = slices.Delete(c.open, i, i+1)

	m := c.catalog.clone()
	switch pr.kind {
	case changeTemplate:
		c.nextRev++
	case changeSettings:
		c.nextSettingsRev++
	}
	path, content, desc := c.changeFile(pr, m, c.nextRev, c.nextSettingsRev)
	if pr.kind != changeTemplate && pr.kind != changeSettings {
		c.catalog = m
	}
	if err := c.w.GitHub.SetBranch(pr.repo, pr.branch, c.w.GitHub.Head(pr.repo, mainBranch)); err != nil {
		c.t.Fatal(err)
	}
	c.w.GitHub.Commit(pr.repo, pr.branch, desc, map[string]*string{path: &content})
	method := pick(c.rng, []string{"merge", "squash", "rebase"})
	if _, err := c.w.GitHub.MergePR(pr.repo, pr.number, method); err != nil {
		c.t.Fatalf("merging %s#%d (%s): %v", pr.repo, pr.number, desc, err)
	}
	c.merged++
	c.kinds[pr.kind]++
	debugf(c.t, "merged %s#%d by %s: %s", pr.repo, pr.number, method, desc)
}

// deliverSome sends a random part of the pending webhooks, in random order,
// and sends a few of them twice.
func (c *chaos) deliverSome() {
	c.w.GitHub.ShufflePending(c.rng.Int64())
	pending := c.w.GitHub.Pending()
	if len(pending) == 0 {
		return
	}
	n := 1 + c.rng.IntN(len(pending))
	for _, d := range pending[:n] {
		c.send(d.GUID, false)
		if c.rng.IntN(100) < 15 {
			c.send(d.GUID, true)
			c.duplicates++
		}
	}
}

// deliverAll sends every pending webhook, shuffled, with some duplicates,
// then redelivers the ones that failed.
func (c *chaos) deliverAll() {
	for len(c.w.GitHub.Pending()) > 0 {
		c.deliverSome()
	}
	c.redeliverFailed()
}

// send delivers one pending webhook, or redelivers one.
func (c *chaos) send(guid string, again bool) {
	var a githubtest.Attempt
	var err error
	if again {
		a, err = c.w.GitHub.Redeliver(guid)
	} else {
		a, err = c.w.GitHub.Deliver(guid)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	if a.StatusCode == 0 {
		c.downSends++
	} else if a.StatusCode >= 300 {
		c.t.Fatalf("webhook %s answered %d: %s", guid, a.StatusCode, a.Status)
	}
}

func (c *chaos) redeliverFailed() {
	for _, d := range c.w.GitHub.Deliveries() {
		if d.Pending || d.Delivered() || len(d.Attempts) == 0 {
			continue
		}
		c.send(d.GUID, true)
		c.redelivered++
	}
}

// maybeKill kills the server after a merge, so that the kills spread over
// the run: each merge kills with the probability that leaves the kills
// still due evenly over the merges still to come.
func (c *chaos) maybeKill() {
	due := c.opts.Kills - c.kills
	left := c.opts.Changes - c.merged + 1
	if due <= 0 || c.rng.IntN(left) >= due {
		return
	}
	// Let the server get to work on what the merge caused first, so the
	// kill lands mid-run: a webhook answered or not, a run half done, an
	// operation in flight.
	c.deliverSome()
	c.kill()
}

// kill SIGKILLs the server at a random moment of the next 800ms, maybe acts
// while it is down (webhooks then fail, as they do on GitHub), and starts
// a new one on the same data directory. The operator then redelivers the
// webhooks that failed, most of the time at once.
func (c *chaos) kill() {
	time.Sleep(time.Duration(c.rng.IntN(800)) * time.Millisecond)
	busy, err := c.w.DB.Unfinished(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	c.w.Server.Kill()
	c.kills++
	if busy != "" {
		c.busyKills++
	}
	debugf(c.t, "kill %d (app busy with: %s)", c.kills, busy)
	if c.rng.IntN(2) == 0 {
		c.deliverSome()
		if len(c.open) > 0 && c.merged < c.opts.Changes && c.rng.IntN(2) == 0 {
			c.mergeChange()
		}
	}
	c.w.Start()
	if c.rng.IntN(10) < 7 {
		c.redeliverFailed()
	}
}

// settle delivers everything and waits for the app to finish.
func (c *chaos) settle() {
	c.t.Helper()
	start := time.Now()
	if err := c.w.settle(10*time.Minute, c.deliverAll); err != nil {
		c.t.Fatal(err)
	}
	debugf(c.t, "settled in %s", time.Since(start).Round(time.Millisecond))
}

// mergeBotPR merges the open bot PR, if any, by a random method. A PR
// flagged as a mass delete gets the label, before the merge or after it.
func (c *chaos) mergeBotPR() bool {
	pr, ok := c.w.openBotPR()
	if !ok {
		return false
	}
	flagged := strings.Contains(pr.Body, "Mass delete") && !slices.Contains(pr.Labels, gh.MassDeleteLabel)
	labelFirst := c.rng.IntN(2) == 0
	if flagged && labelFirst {
		c.w.GitHub.AddLabel(c.w.PipelinesRepo, pr.Number, gh.MassDeleteLabel)
		c.botLabels++
	}
	method := pick(c.rng, []string{"merge", "squash", "rebase"})
	if _, err := c.w.GitHub.MergePR(c.w.PipelinesRepo, pr.Number, method); err != nil {
		if pr.Mergeable != nil && !*pr.Mergeable && !c.final {
			// A proposal made while the last bot PR was merged is based
			// on the old head until the merge's apply proposes again. A
			// person would wait for that; so does the test, except at
			// the end, when everything has been processed.
			c.conflicted++
			debugf(c.t, "bot PR #%d has conflicts for now", pr.Number)
			return false
		}
		c.t.Fatalf("merging bot PR #%d (mergeable %v): %v", pr.Number, fmtBool(pr.Mergeable), err)
	}
	if flagged && !labelFirst {
		// The label comes later, when someone gets to it.
		c.toLabel = append(c.toLabel, pr.Number)
	}
	c.botMerges++
	c.methods[method]++
	debugf(c.t, "merged bot PR #%d by %s (%s)", pr.Number, method, pr.Title)
	return true
}

func fmtBool(b *bool) string {
	if b == nil {
		return "unknown"
	}
	return strconv.FormatBool(*b)
}

// labelLater adds the mass-delete label to a merged bot PR that was
// flagged and merged without it. When there is none but deletes are held
// (several bot PRs applied at once can exceed the threshold together,
// although none was flagged alone), it does what the harness check run
// and the status page ask: the label on the most recent bot PR.
func (c *chaos) labelLater() {
	if len(c.toLabel) > 0 {
		n := c.toLabel[0]
		c.toLabel = c.toLabel[1:]
		c.w.GitHub.AddLabel(c.w.PipelinesRepo, n, gh.MassDeleteLabel)
		c.botLabels++
		debugf(c.t, "labelled merged bot PR #%d %s", n, gh.MassDeleteLabel)
		return
	}
	qs, err := c.w.DB.Operations.Stats(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	if qs.Held == 0 {
		return
	}
	var last githubtest.PullRequest
	for _, pr := range c.w.GitHub.PRs(c.w.PipelinesRepo) {
		if pr.Head == gh.SyncBranch && pr.Number > last.Number {
			last = pr
		}
	}
	if last.Number == 0 || slices.Contains(last.Labels, gh.MassDeleteLabel) {
		return
	}
	c.w.GitHub.AddLabel(c.w.PipelinesRepo, last.Number, gh.MassDeleteLabel)
	c.heldLabels++
	debugf(c.t, "%d deletes held: labelled the latest bot PR #%d", qs.Held, last.Number)
}

func (c *chaos) heldCount() int {
	qs, err := c.w.DB.Operations.Stats(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	return qs.Held
}
