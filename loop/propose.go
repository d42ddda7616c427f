package loop

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// proposal is what a propose run did, for its check runs.
type proposal struct {
	outcome work.Outcome
	report  present.Report
	// botPR is the bot PR the run opened, updated, closed or found up to
	// date; 0 for none.
	botPR int
	// notable: worth a check run on the config head even when no catalog
	// push asked for the run.
	notable bool
}

// Propose renders the desired pipelines from the heads of both repos and
// makes the bot PR match: one commit on the rolling branch, one PR opened
// or updated, or closed when nothing is left to change. It reports on the
// commits that asked for the run (planner.SyncTargets).
func (l *Loop) Propose(ctx context.Context, triggers []work.Trigger) (work.Outcome, error) {
	pipes, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return work.Outcome{}, err
	}
	_, cfgHead, err := l.Reader.Head(ctx, l.repos.Config)
	if err != nil {
		return work.Outcome{}, err
	}
	p, err := l.proposeAt(ctx, pipes, cfgHead)
	if err != nil {
		return work.Outcome{}, err
	}
	if err := l.Store.State.SetProposedInputs(ctx, pipes.InputsHash); err != nil {
		return work.Outcome{}, err
	}
	if err := l.Store.State.SetLastPropose(ctx, record.ProposeReport{At: l.Now(), Result: string(p.outcome.Result),
		Text: p.outcome.Text, BotPR: p.botPR, ConfigCommit: cfgHead.SHA}); err != nil {
		return work.Outcome{}, err
	}
	targets := planner.SyncTargets(planner.SyncTargetsInput{
		Triggers: triggers, ConfigRepo: l.repos.Config, PipelinesRepo: l.repos.Pipelines, ConfigHead: cfgHead.SHA,
		Changed: p.notable, Success: p.report.Conclusion == gh.ConclusionSuccess,
	})
	for _, t := range targets {
		rep := p.report
		if !t.Annotate {
			rep.Annotations = nil // the annotations' lines are those of the head's catalog
		}
		if err := l.Checks.Post(ctx, t.Repo, gh.CheckSync, t.SHA, rep); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str(LogKeySHA, t.SHA).Msg("posting sync check run")
		}
	}
	return p.outcome, nil
}

// proposeAt is propose once the heads are known.
func (l *Loop) proposeAt(ctx context.Context, pipes snapshot.Pipelines, cfgHead gh.Commit) (proposal, error) {
	pc := present.ProposeContext{
		Links: l.Links, CatalogPath: l.repos.CatalogPath, Config: l.repos.Config, ConfigCommit: cfgHead.SHA,
		Pipelines: l.repos.Pipelines, PipelinesCommit: pipes.Head.SHA,
	}
	lastGood, err := l.Store.State.LastGoodCatalog(ctx)
	if err != nil {
		return proposal{}, err
	}
	in := planner.ProposeInput{Pipelines: pipes, Source: sourceOf(l.repos, cfgHead.SHA, pipes.Head.SHA), Schemas: l.renderSchemas(ctx)}
	if len(pipes.Diags) == 0 {
		if in.Head, err = l.Reader.Catalog(ctx, cfgHead.SHA, pipes); err != nil {
			return proposal{}, err
		}
	}
	if b := planner.Gate(pipes, in.Head, lastGood); b != nil {
		return l.blocked(*b, pc), nil
	}
	if in.Current, err = l.Reader.EntityContents(ctx, pipes); err != nil {
		return proposal{}, err
	}
	merged, err := l.Store.State.MergedCatalog(ctx)
	if err != nil {
		return proposal{}, err
	}
	if merged != "" && merged != cfgHead.SHA {
		if c, err := l.Reader.Catalog(ctx, merged, pipes); err == nil {
			in.Merged = c // unreadable: the plan lists fields against the head itself
		}
	}
	prop := planner.Propose(in)
	if prop.Blocked != nil {
		return l.blocked(*prop.Blocked, pc), nil
	}
	if err := l.Store.State.SetLastGoodCatalog(ctx, prop.LastGood); err != nil {
		return proposal{}, err
	}

	bot := planner.BotPRInput{Proposal: prop, EntityFiles: pipes.EntityFiles(),
		ConfigHead: cfgHead.SHA, PipelinesHead: pipes.Head.SHA, ConfigRepo: l.repos.Config, PipelinesRepo: l.repos.Pipelines}
	open, err := l.GitHub.OpenPR(ctx, l.repos.Pipelines, gh.SyncBranch, pipes.Branch)
	switch {
	case err == nil:
		bot.Open = &open
	case !isNotFound(err):
		return proposal{}, err
	}
	if len(prop.Writes) > 0 {
		if bot.Open != nil {
			if err := l.keepOpenPRHeaders(ctx, open, prop.Writes); err != nil {
				return proposal{}, err
			}
		} else if last, err := l.GitHub.LastPR(ctx, l.repos.Pipelines, gh.SyncBranch); err == nil {
			bot.Last = &last
		} else if !isNotFound(err) {
			return proposal{}, err
		}
	}
	return l.actOnBotPR(ctx, planner.PlanBotPR(bot), bot, pipes, in.Head.Catalog, pc)
}

// nothingToPropose is the outcome of a propose run that finds the
// pipelines repo as the catalog renders it.
const nothingToPropose = "nothing to propose"

// blocked records why propose stopped and reports it.
func (l *Loop) blocked(b planner.Blocked, pc present.ProposeContext) proposal {
	rep := present.Blocked(b, pc)
	l.SetLastError(errors.New(rep.Title))
	if b.Reason == planner.BlockedCatalogInvalid {
		l.Metrics.CatalogInvalid()
	}
	return proposal{outcome: work.Outcome{Result: work.Blocked, Text: "blocked: " + rep.Title}, report: rep, notable: true}
}

// keepOpenPRHeaders keeps the open bot PR's version of each file whose
// body does not change (planner.KeepOpenPRHeaders).
func (l *Loop) keepOpenPRHeaders(ctx context.Context, pr gh.PullRequest, writes map[string][]byte) error {
	head, err := l.GitHub.Resolve(ctx, l.repos.Pipelines, pr.HeadSHA)
	if err != nil {
		return err
	}
	prFiles, err := l.GitHub.Tree(ctx, l.repos.Pipelines, head.TreeSHA, "")
	if err != nil {
		return err
	}
	blobs, err := l.Reader.Blobs(ctx, l.repos.Pipelines, planner.OpenPRBlobs(writes, prFiles))
	if err != nil {
		return err
	}
	planner.KeepOpenPRHeaders(writes, prFiles, blobs)
	return nil
}

// actOnBotPR carries out the decision about the bot PR.
func (l *Loop) actOnBotPR(ctx context.Context, plan planner.BotPRPlan, in planner.BotPRInput, pipes snapshot.Pipelines, cat catalog.Catalog, pc present.ProposeContext) (proposal, error) {
	rendered := in.Proposal.Plan
	unchanged := func(text string, rep present.Report) (proposal, error) {
		return proposal{outcome: work.Outcome{Result: work.Unchanged, Text: text}, report: rep}, nil
	}
	switch plan.Action {
	case planner.PRNone:
		return unchanged(nothingToPropose, present.NoChange(rendered, pc, 0))
	case planner.PRClose:
		if err := l.closeBotPR(ctx, *in.Open, rendered, pc); err != nil {
			return proposal{}, err
		}
		p, _ := unchanged(nothingToPropose+fmt.Sprintf(": bot PR #%d closed", in.Open.Number), present.NoChange(rendered, pc, in.Open.Number))
		p.botPR = in.Open.Number
		return p, nil
	case planner.PRUnchanged:
		p, _ := unchanged(fmt.Sprintf("bot PR #%d already proposes this", in.Open.Number), present.Proposed(*in.Open, rendered, "is up to date"))
		p.botPR = in.Open.Number
		return p, nil
	case planner.PRNotReopened:
		p, _ := unchanged("closed proposal not reopened", present.NotReopened(*in.Last))
		p.notable = true
		return p, nil
	}

	writes := in.Proposal.Writes
	if err := l.Reader.Remember(ctx, writes); err != nil {
		return proposal{}, err
	}
	commit, err := l.GitHub.CommitFiles(ctx, l.repos.Pipelines, pipes.Head, present.CommitMessage(rendered, pc), writes)
	if err != nil {
		return proposal{}, err
	}
	if err := l.GitHub.SetBranch(ctx, l.repos.Pipelines, gh.SyncBranch, commit.SHA); err != nil {
		return proposal{}, err
	}
	title := present.BotPRTitle(rendered)
	number := 0
	if in.Open != nil {
		number = in.Open.Number // the body can link the PR's own files
	}
	body := present.BotPRBody(present.BotPR{Plan: rendered, Meta: plan.Meta, Settings: pipes.Settings,
		Existing: in.Proposal.Existing, Number: number}, pc)
	var pr gh.PullRequest
	verb := "opened"
	if in.Open != nil {
		verb = "updated"
		if err := l.GitHub.EditPR(ctx, l.repos.Pipelines, in.Open.Number, title, body, ""); err != nil {
			return proposal{}, err
		}
		pr = *in.Open
	} else if pr, err = l.GitHub.CreatePR(ctx, l.repos.Pipelines, gh.SyncBranch, pipes.Branch, title, body); err != nil {
		return proposal{}, err
	}
	l.Metrics.BotPR(verb)
	if err := l.GitHub.AddLabels(ctx, l.repos.Pipelines, pr.Number, gh.BotLabel); err != nil {
		return proposal{}, err
	}
	if err := l.Store.BotPRs.Upsert(ctx, record.BotPR{
		Repo: l.repos.Pipelines.String(), Number: pr.Number, State: record.PROpen, HeadSHA: commit.SHA,
		DesiredHash: plan.Meta.Identity, SourceCommits: plan.Meta.SourceCommits,
	}); err != nil {
		return proposal{}, err
	}
	if err := l.recordRendered(ctx, rendered, cat, pc.ConfigCommit); err != nil {
		return proposal{}, err
	}
	l.audit(ctx, verb+"-bot-pr", fmt.Sprintf("#%d", pr.Number), rendered.Summary.Headline(), pc.ConfigCommit)
	return proposal{
		outcome: work.Outcome{Result: work.Changed, Text: fmt.Sprintf("bot PR #%d %s", pr.Number, verb)},
		report:  present.Proposed(pr, rendered, verb), notable: true, botPR: pr.Number,
	}, nil
}

// closeBotPR closes the open bot PR as superseded, saying why.
func (l *Loop) closeBotPR(ctx context.Context, pr gh.PullRequest, plan render.PipelinePlan, pc present.ProposeContext) error {
	if err := l.GitHub.Comment(ctx, l.repos.Pipelines, pr.Number, present.ClosingComment(plan, pc)); err != nil {
		return err
	}
	if err := l.GitHub.EditPR(ctx, l.repos.Pipelines, pr.Number, "", "", "closed"); err != nil {
		return err
	}
	l.Metrics.BotPR("closed")
	l.audit(ctx, "close-bot-pr", fmt.Sprintf("#%d", pr.Number), "superseded: nothing left to change", pc.ConfigCommit)
	return l.Store.BotPRs.Upsert(ctx, record.BotPR{Repo: l.repos.Pipelines.String(), Number: pr.Number, State: record.PRClosed, HeadSHA: pr.HeadSHA})
}

// recordRendered notes, per service, the config commit its pipeline was
// last rendered from, for the status page.
func (l *Loop) recordRendered(ctx context.Context, plan render.PipelinePlan, cat catalog.Catalog, commit string) error {
	for _, c := range plan.Changes {
		if c.Kind != render.KindPipeline || c.Action != render.ActionCreate && c.Action != render.ActionUpdate {
			continue
		}
		st, err := l.Store.Pipelines.Get(ctx, c.Service)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		svc, _ := cat.Lookup(c.Service)
		st.Service, st.Pipeline, st.Path = c.Service, c.Identifier, c.Path
		st.Archetype, st.Team, st.LastRenderedCommit = svc.Archetype, svc.Team, commit
		if err := l.Store.Pipelines.Upsert(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

// BotPRClosed records what became of the bot PR: merged (its catalog
// commit is now the base for field changes) or closed unmerged (not
// reopened for the same proposal).
func (l *Loop) BotPRClosed(ctx context.Context, number int) (work.Outcome, error) {
	pr, err := l.GitHub.GetPR(ctx, l.repos.Pipelines, number)
	if err != nil {
		return work.Outcome{}, err
	}
	state := record.PRClosed
	if pr.Merged {
		state = record.PRMerged
	} else if pr.State == "open" {
		state = record.PROpen
	}
	meta, _ := planner.ParseBotMeta(pr.Body)
	if err := l.Store.BotPRs.Upsert(ctx, record.BotPR{
		Repo: l.repos.Pipelines.String(), Number: pr.Number, State: state, HeadSHA: pr.HeadSHA,
		DesiredHash: meta.Identity, SourceCommits: meta.SourceCommits,
	}); err != nil {
		return work.Outcome{}, err
	}
	if state == record.PRMerged && meta.ConfigCommit != "" {
		if err := l.Store.State.SetMergedCatalog(ctx, meta.ConfigCommit); err != nil {
			return work.Outcome{}, err
		}
	}
	l.audit(ctx, "bot-pr-"+string(state), "#"+strconv.Itoa(pr.Number), "", pr.MergeSHA)
	return work.Outcome{Result: work.Changed, Text: "bot PR #" + strconv.Itoa(pr.Number) + " " + string(state)}, nil
}
