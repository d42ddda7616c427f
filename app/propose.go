package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// State keys of the propose step.
const (
	// keyLastGoodCatalog holds the last valid catalog's commit and size, so
	// a catalog that suddenly empties is refused rather than deleting
	// every pipeline.
	keyLastGoodCatalog = "catalog.last_good"
	// keyMergedCatalog is the config commit whose rendering the pipelines
	// repo's default branch holds (from the last merged bot PR); the bot
	// PR lists catalog fields changed since.
	keyMergedCatalog = "catalog.merged_commit"
	// keyProposedInputs is the settings-and-templates hash of the last
	// propose run, so a push that changes them proposes again.
	keyProposedInputs = "propose.inputs"
)

type lastGood struct {
	Commit   string `json:"commit"`
	Services int    `json:"services"`
}

// botMeta is the machine-readable block hidden in the bot PR body. An
// identical proposal (same Identity) changes nothing: not the branch, not
// the body.
type botMeta struct {
	Identity      string   `json:"identity"`
	ConfigCommit  string   `json:"config_commit"`
	PipelinesBase string   `json:"pipelines_base"`
	SourceCommits []string `json:"source_commits"`
	Deletes       int      `json:"deletes"`
	MassDelete    bool     `json:"mass_delete"`
}

const metaPrefix = "<!-- pipeline-orchestrator:meta "

var metaPattern = regexp.MustCompile(`<!-- pipeline-orchestrator:meta (\{.*?\}) -->`)

func parseBotMeta(body string) (botMeta, bool) {
	m := metaPattern.FindStringSubmatch(body)
	if m == nil {
		return botMeta{}, false
	}
	var meta botMeta
	if err := json.Unmarshal([]byte(m[1]), &meta); err != nil {
		return botMeta{}, false
	}
	return meta, true
}

// proposalIdentity hashes the desired pipelines tree together with the
// current one: the same desired state proposed over the same base is the
// same proposal.
func proposalIdentity(current map[string]string, writes map[string][]byte) string {
	desired := make(map[string]string, len(current))
	for p, sha := range current {
		desired[p] = sha
	}
	for p, b := range writes {
		if b == nil {
			delete(desired, p)
		} else {
			desired[p] = BlobSHA(b)
		}
	}
	h := sha256.New()
	for _, m := range []map[string]string{current, desired} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s %s\n", k, m[k])
		}
		h.Write([]byte("--\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// proposeResult is what a propose run found, for its check runs.
type proposeResult struct {
	conclusion string
	title      string
	summary    string
	anns       []Annotation
}

// propose renders the desired pipelines from the heads of both repos and
// makes the bot PR match: one commit on the rolling branch, one PR opened
// or updated, or closed when nothing is left to change.
func (a *App) propose(ctx context.Context, triggers []trigger) (string, error) {
	log := zerolog.Ctx(ctx)
	pipeBranch, pipeHead, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return "", err
	}
	_, cfgHead, err := a.head(ctx, a.configRepo)
	if err != nil {
		return "", err
	}
	snap, err := a.readPipelinesRepo(ctx, pipeHead)
	if err != nil {
		return "", err
	}
	outcome, res, err := a.proposeAt(ctx, pipeBranch, pipeHead, cfgHead, snap)
	if err != nil {
		return "", err
	}
	if err := a.db.SetState(ctx, keyProposedInputs, snap.InputsHash); err != nil {
		return "", err
	}
	// Report on the commits that asked for this run, and on the config
	// head it was rendered from. A run nobody asked for by a catalog push
	// (a restart's catch-up, a pipelines-repo push) reports only when it
	// changed or found something, so restarts do not pile up check runs.
	targets := map[check]bool{}
	changed := !strings.HasPrefix(outcome, "no pipeline change") && outcome != "proposal unchanged"
	if changed || hasConfigTrigger(triggers, a.configRepo) {
		targets[check{Repo: a.configRepo, SHA: cfgHead.SHA}] = true
	}
	for _, t := range triggers {
		if t.Repo == a.configRepo.String() {
			targets[check{Repo: a.configRepo, SHA: t.SHA}] = true
		} else if t.SHA != "" && res.conclusion != conclusionSuccess {
			targets[check{Repo: a.pipelinesRepo, SHA: t.SHA}] = true
		}
	}
	for t := range targets {
		anns := res.anns
		if t.Repo != a.configRepo || t.SHA != cfgHead.SHA {
			anns = nil // the annotations' lines are those of the head's catalog
		}
		if err := a.postCheck(ctx, t.Repo, CheckSync, t.SHA, res.conclusion, res.title, res.summary, anns); err != nil {
			log.Warn().Err(err).Str(LogKeySHA, t.SHA).Msg("posting sync check run")
		}
	}
	return outcome, nil
}

func hasConfigTrigger(triggers []trigger, config Repo) bool {
	for _, t := range triggers {
		if t.Repo == config.String() {
			return true
		}
	}
	return false
}

// proposeAt is propose once the heads are read.
func (a *App) proposeAt(ctx context.Context, pipeBranch string, pipeHead, cfgHead Commit, snap pipelinesSnapshot) (string, proposeResult, error) {
	catalogPath := a.cfg.ConfigRepo.CatalogPath
	blocked := func(title, summary string, anns []Annotation) (string, proposeResult, error) {
		a.setLastError(errors.New(title))
		return "blocked: " + title, proposeResult{conclusionFailure, title, summary + "\n\nNothing was proposed, and no pipeline will be deleted because of it.", anns}, nil
	}
	if len(snap.Diags) > 0 {
		return blocked("Pipelines repo settings or templates are invalid", fmt.Sprintf("At %s:\n\n%s",
			a.commitLink(a.pipelinesRepo, pipeHead.SHA), diagnosticList(snap.Diags)), nil)
	}
	cat, err := a.readCatalog(ctx, cfgHead.SHA, snap)
	if err != nil {
		return "", proposeResult{}, err
	}
	if cat.Missing {
		return blocked("Catalog file missing", fmt.Sprintf("`%s` does not exist at %s.", catalogPath, a.commitLink(a.configRepo, cfgHead.SHA)), nil)
	}
	if len(cat.Diags) > 0 {
		anns, _ := annotations(cat.Diags, func(f string) bool { return f == catalogPath })
		a.metrics.catalogInvalid()
		return blocked(fmt.Sprintf("Invalid catalog: %d problem(s)", len(cat.Diags)), diagnosticList(cat.Diags), anns)
	}
	var good lastGood
	if v, err := a.db.GetState(ctx, keyLastGoodCatalog); err == nil {
		_ = json.Unmarshal([]byte(v), &good)
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", proposeResult{}, err
	}
	if len(cat.Catalog.Services) == 0 && good.Services > 0 {
		return blocked("Catalog suddenly empty", fmt.Sprintf("`%s` at %s has no services, but the last good catalog (%s) had %d. "+
			"An emptied catalog never turns into deletes: remove services in smaller changes.",
			catalogPath, a.commitLink(a.configRepo, cfgHead.SHA), a.commitLink(a.configRepo, good.Commit), good.Services), nil)
	}

	current, err := a.currentPipelines(ctx, snap)
	if err != nil {
		return "", proposeResult{}, err
	}
	base := cat.Catalog
	if merged, err := a.db.GetState(ctx, keyMergedCatalog); err == nil && merged != cfgHead.SHA {
		if b, err := a.readCatalog(ctx, merged, snap); err == nil && !b.Missing && len(b.Diags) == 0 {
			base = b.Catalog
		}
	}
	plan, diags := render.Plan(render.PlanInput{
		Base: base, Head: cat.Catalog, Settings: snap.Settings, Templates: snap.Templates,
		Source: a.source(cfgHead.SHA, pipeHead.SHA), Current: current,
		Schemas: a.renderSchemas(ctx),
	})
	if len(diags) > 0 {
		anns, _ := annotations(diags, func(f string) bool { return f == catalogPath })
		return blocked(fmt.Sprintf("%d pipeline(s) cannot be rendered", len(diags)), diagnosticList(diags), anns)
	}
	goodJSON, _ := json.Marshal(lastGood{Commit: cfgHead.SHA, Services: len(cat.Catalog.Services)})
	if err := a.db.SetState(ctx, keyLastGoodCatalog, string(goodJSON)); err != nil {
		return "", proposeResult{}, err
	}

	writes := plan.Writes()
	openPR, err := a.gh.OpenPR(ctx, a.pipelinesRepo, SyncBranch, pipeBranch)
	hasOpen := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return "", proposeResult{}, err
	}

	if len(writes) == 0 {
		summary := "The pipelines repo already matches the catalog at " + a.commitLink(a.configRepo, cfgHead.SHA) + "."
		if plan.Summary.ConfigOnly > 0 {
			summary += fmt.Sprintf("\n\n%d service(s) changed only config-only fields: no pipeline changes, the new config takes effect on the next deploy.", plan.Summary.ConfigOnly)
		}
		if hasOpen {
			comment := "Closing: nothing is left to change. " + summary
			if err := a.gh.Comment(ctx, a.pipelinesRepo, openPR.Number, comment); err != nil {
				return "", proposeResult{}, err
			}
			if err := a.gh.EditPR(ctx, a.pipelinesRepo, openPR.Number, "", "", "closed"); err != nil {
				return "", proposeResult{}, err
			}
			a.metrics.botPR("closed")
			a.audit(ctx, "close-bot-pr", fmt.Sprintf("#%d", openPR.Number), "superseded: nothing left to change", cfgHead.SHA)
			if err := a.db.UpsertBotPR(ctx, store.BotPR{Repo: a.pipelinesRepo.String(), Number: openPR.Number, State: store.PRClosed, HeadSHA: openPR.HeadSHA}); err != nil {
				return "", proposeResult{}, err
			}
			summary += fmt.Sprintf("\n\nThe bot PR #%d was closed as superseded.", openPR.Number)
		}
		return "no pipeline change", proposeResult{conclusionSuccess, "No pipeline changes", summary, nil}, nil
	}

	if hasOpen {
		// Keep the open PR's version of a file whose body is unchanged, so
		// its header (naming the commit that last changed it) stays put and
		// an identical proposal stays identical.
		if err := a.keepOpenPRFiles(ctx, openPR, writes); err != nil {
			return "", proposeResult{}, err
		}
	}
	identity := proposalIdentity(snap.pipelineFiles(), writes)
	massDelete := isMassDelete(snap.Settings, plan.Summary.Delete, len(current))
	meta := botMeta{
		Identity: identity, ConfigCommit: cfgHead.SHA, PipelinesBase: pipeHead.SHA,
		SourceCommits: []string{a.configRepo.String() + "@" + cfgHead.SHA, a.pipelinesRepo.String() + "@" + pipeHead.SHA},
		Deletes:       plan.Summary.Delete, MassDelete: massDelete,
	}
	if hasOpen {
		if old, ok := parseBotMeta(openPR.Body); ok && old.Identity == identity {
			return "proposal unchanged", a.proposedResult(openPR, plan, "is up to date"), nil
		}
	} else if last, err := a.gh.LastPR(ctx, a.pipelinesRepo, SyncBranch); err == nil && !last.Merged && last.State == "closed" {
		if old, ok := parseBotMeta(last.Body); ok && old.Identity == identity {
			return "closed proposal not reopened", proposeResult{conclusionNeutral, fmt.Sprintf("Bot PR #%d was closed without merging", last.Number),
				fmt.Sprintf("The same change was proposed in [#%d](%s), which was closed without merging. It is not reopened until the desired state changes again.", last.Number, last.HTMLURL), nil}, nil
		}
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return "", proposeResult{}, err
	}

	if err := a.remember(ctx, writes); err != nil {
		return "", proposeResult{}, err
	}
	message := fmt.Sprintf("Sync pipelines with %s@%s\n\n%s", a.configRepo, shortSHA(cfgHead.SHA), plan.Summary.Headline())
	commit, err := a.gh.CommitFiles(ctx, a.pipelinesRepo, pipeHead, message, writes)
	if err != nil {
		return "", proposeResult{}, err
	}
	if err := a.gh.SetBranch(ctx, a.pipelinesRepo, SyncBranch, commit.SHA); err != nil {
		return "", proposeResult{}, err
	}
	title := "Sync pipelines: " + plan.Summary.Headline()
	body := a.botPRBody(plan, meta, cfgHead, pipeHead, snap.Settings, len(current))
	var pr PullRequest
	if hasOpen {
		if err := a.gh.EditPR(ctx, a.pipelinesRepo, openPR.Number, title, body, ""); err != nil {
			return "", proposeResult{}, err
		}
		pr = openPR
		a.metrics.botPR("updated")
	} else {
		if pr, err = a.gh.CreatePR(ctx, a.pipelinesRepo, SyncBranch, pipeBranch, title, body); err != nil {
			return "", proposeResult{}, err
		}
		a.metrics.botPR("opened")
	}
	if err := a.gh.AddLabels(ctx, a.pipelinesRepo, pr.Number, BotLabel); err != nil {
		return "", proposeResult{}, err
	}
	if err := a.db.UpsertBotPR(ctx, store.BotPR{
		Repo: a.pipelinesRepo.String(), Number: pr.Number, State: store.PROpen, HeadSHA: commit.SHA,
		DesiredHash: identity, SourceCommits: meta.SourceCommits,
	}); err != nil {
		return "", proposeResult{}, err
	}
	if err := a.recordRendered(ctx, plan, cat.Catalog, cfgHead.SHA); err != nil {
		return "", proposeResult{}, err
	}
	verb := "opened"
	if hasOpen {
		verb = "updated"
	}
	a.audit(ctx, verb+"-bot-pr", fmt.Sprintf("#%d", pr.Number), plan.Summary.Headline(), cfgHead.SHA)
	return fmt.Sprintf("bot PR #%d %s", pr.Number, verb), a.proposedResult(pr, plan, verb), nil
}

// keepOpenPRFiles replaces each file to write by the open bot PR's version
// of it when the two differ only in their header.
func (a *App) keepOpenPRFiles(ctx context.Context, pr PullRequest, writes map[string][]byte) error {
	head, err := a.gh.Resolve(ctx, a.pipelinesRepo, pr.HeadSHA)
	if err != nil {
		return err
	}
	prFiles, err := a.gh.Tree(ctx, a.pipelinesRepo, head.TreeSHA, "")
	if err != nil {
		return err
	}
	var shas []string
	for p, content := range writes {
		if sha, ok := prFiles[p]; ok && content != nil && sha != BlobSHA(content) {
			shas = append(shas, sha)
		}
	}
	blobs, err := a.blobs(ctx, a.pipelinesRepo, shas)
	if err != nil {
		return err
	}
	for p, content := range writes {
		if prev, ok := blobs[prFiles[p]]; ok && content != nil && bytes.Equal(render.Body(prev), render.Body(content)) {
			writes[p] = prev
		}
	}
	return nil
}

func (a *App) proposedResult(pr PullRequest, plan render.PipelinePlan, verb string) proposeResult {
	title := fmt.Sprintf("Bot PR #%d %s: %s", pr.Number, verb, plan.Summary.Headline())
	summary := fmt.Sprintf("The pipeline changes are proposed in [#%d](%s). Merging it applies them to Harness.\n\n%s",
		pr.Number, pr.HTMLURL, plan.Markdown(render.CheckRunTextLimit-300))
	return proposeResult{conclusionSuccess, title, summary, nil}
}

// recordRendered notes, per service, the config commit its pipeline was
// last rendered from, for the status page.
func (a *App) recordRendered(ctx context.Context, plan render.PipelinePlan, cat catalog.Catalog, commit string) error {
	for _, c := range plan.Changes {
		if c.Action != render.ActionCreate && c.Action != render.ActionUpdate {
			continue
		}
		st, err := a.db.GetPipelineState(ctx, c.Service)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		svc, _ := cat.Lookup(c.Service)
		st.Service, st.Pipeline, st.Path = c.Service, c.Pipeline, c.Path
		st.Archetype, st.Team, st.LastRenderedCommit = svc.Archetype, svc.Team, commit
		if err := a.db.UpsertPipelineState(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// botPRBody describes the proposal: every pipeline change with the
// services and fields behind it, the source commits, and what merging
// does in Harness. The hidden block at the end is read back by the next
// propose run.
func (a *App) botPRBody(plan render.PipelinePlan, meta botMeta, cfgHead, pipeHead Commit, s catalog.Settings, existing int) string {
	var b strings.Builder
	b.WriteString("This PR is maintained by pipeline-orchestrator. It renders the Harness pipelines of the service catalog; ")
	b.WriteString("it is updated in place while the catalog changes, and closed when nothing is left to change.\n\n")
	fmt.Fprintf(&b, "**Source:** catalog %s · templates and settings %s\n\n", a.commitLink(a.configRepo, cfgHead.SHA), a.commitLink(a.pipelinesRepo, pipeHead.SHA))
	if meta.MassDelete {
		fmt.Fprintf(&b, "> ⚠️ **Mass delete:** this PR deletes %d of %d pipelines (threshold: more than %d, or more than %d%%). "+
			"After merge, creates and updates reach Harness at once; **the deletes wait for the label `%s`** on this PR.\n\n",
			meta.Deletes, existing, s.MassDelete.MaxCount, s.MassDelete.MaxPercent, MassDeleteLabel)
	}
	b.WriteString("| Pipeline | Change | Service | Caused by | On merge, in Harness |\n|---|---|---|---|---|\n")
	for _, c := range plan.Changes {
		var effect string
		switch c.Action {
		case render.ActionCreate:
			effect = "create pipeline `" + c.Pipeline + "`"
		case render.ActionUpdate:
			effect = "update pipeline `" + c.Pipeline + "`"
		case render.ActionDelete:
			effect = "delete pipeline `" + c.Pipeline + "`"
			if meta.MassDelete {
				effect += " (after the label)"
			}
		default:
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", c.Path, c.Action, c.Service, causes(c), effect)
	}
	if plan.Summary.ConfigOnly > 0 {
		fmt.Fprintf(&b, "\n%d service(s) changed only config-only fields; their pipelines do not change (the config takes effect on the next deploy).\n", plan.Summary.ConfigOnly)
	}
	fmt.Fprintf(&b, "\nHarness org `%s`, project `%s`. Operations are retried until Harness confirms them; results appear as the `%s` check run on the merge commit and on %s.\n",
		s.Org, s.Project, CheckHarness, a.commitLink(a.configRepo, cfgHead.SHA))
	metaJSON, _ := json.Marshal(meta)
	fmt.Fprintf(&b, "\n%s%s -->\n", metaPrefix, metaJSON)
	return b.String()
}

// causes names the catalog fields behind a change.
func causes(c render.Change) string {
	switch {
	case c.Action == render.ActionCreate && len(c.Fields) > 0 && c.Fields[0].Old == "":
		return "service added"
	case c.Action == render.ActionDelete && len(c.Fields) > 0 && c.Fields[0].New == "":
		return "service removed"
	case len(c.Fields) == 0:
		return "template or settings"
	}
	names := make([]string, 0, len(c.Fields))
	for _, f := range c.Fields {
		if f.ShapesPipeline {
			names = append(names, fmt.Sprintf("`%s`: %s → %s", f.Name, orDash(f.Old), orDash(f.New)))
		}
	}
	if len(names) == 0 {
		return "template or settings"
	}
	return strings.ReplaceAll(strings.Join(names, "; "), "|", "\\|")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// botPRClosed records what became of the bot PR: merged (its catalog
// commit is now the base for field changes) or closed unmerged (not
// reopened for the same proposal).
func (a *App) botPRClosed(ctx context.Context, d store.Delivery) (string, error) {
	pr, err := a.gh.GetPR(ctx, a.pipelinesRepo, d.PRNumber)
	if err != nil {
		return "", err
	}
	state := store.PRClosed
	if pr.Merged {
		state = store.PRMerged
	} else if pr.State == "open" {
		state = store.PROpen
	}
	meta, _ := parseBotMeta(pr.Body)
	if err := a.db.UpsertBotPR(ctx, store.BotPR{
		Repo: a.pipelinesRepo.String(), Number: pr.Number, State: state, HeadSHA: pr.HeadSHA,
		DesiredHash: meta.Identity, SourceCommits: meta.SourceCommits,
	}); err != nil {
		return "", err
	}
	if state == store.PRMerged && meta.ConfigCommit != "" {
		if err := a.db.SetState(ctx, keyMergedCatalog, meta.ConfigCommit); err != nil {
			return "", err
		}
	}
	a.audit(ctx, "bot-pr-"+string(state), "#"+strconv.Itoa(pr.Number), "", pr.MergeSHA)
	return "bot PR #" + strconv.Itoa(pr.Number) + " " + string(state), nil
}

// audit appends to the audit log; failing to is logged, not fatal: the
// action it records has already happened.
func (a *App) audit(ctx context.Context, action, subject, detail, commit string) {
	if err := a.db.Audit(ctx, store.AuditEntry{Actor: "pipeline-orchestrator", Action: action, Subject: subject, Detail: detail, Commit: commit}); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("writing audit log")
	}
}
