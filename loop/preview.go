package loop

import (
	"context"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// PreviewRequest is a PR commit to preview.
type PreviewRequest struct {
	// Repo is the repository of the PR ("owner/name").
	Repo string
	// SHA is the PR's head commit; Before its base commit, "" if unknown;
	// BaseRef its base branch, "" if unknown.
	SHA, Before, BaseRef string
	// Work names the piece of work, so a retry finds its check run.
	Work string
}

// Preview posts the plan check run on a PR's head commit: for a
// config-repo PR, what its catalog change does to the pipelines; for a
// pipelines-repo PR, which pipelines its template or settings change
// rewrites (its blast radius).
func (l *Loop) Preview(ctx context.Context, req PreviewRequest) (work.Outcome, error) {
	template := l.repos.Pipelines.Is(req.Repo)
	repo, title := l.repos.Config, "Planning pipeline changes"
	if template {
		repo, title = l.repos.Pipelines, "Computing the blast radius"
	}
	run, err := l.Checks.Start(ctx, repo, gh.CheckPlan, req.SHA, req.Work, title)
	if err != nil {
		return work.Outcome{}, err
	}
	var p planner.Preview
	var c present.PreviewContext
	if template {
		p, c, err = l.preview.templates(ctx, req)
	} else {
		p, c, err = l.preview.catalog(ctx, req)
	}
	if err != nil {
		return work.Outcome{}, err
	}
	if p.Verdict == planner.VerdictCatalogInvalid && !template {
		l.Metrics.CatalogInvalid()
	}
	rep := present.PreviewReport(p, c)
	if err := l.Checks.Finish(ctx, run, rep); err != nil {
		return work.Outcome{}, err
	}
	return previewOutcome(p, rep, template), nil
}

// previewOutcome is the run's outcome: the PR's own problems make it
// invalid; an emptied catalog, or broken settings on the pipelines repo's
// default branch (which no catalog PR can fix), block it.
func previewOutcome(p planner.Preview, rep present.Report, template bool) work.Outcome {
	switch {
	case p.Verdict == planner.VerdictNoChange:
		return work.Outcome{Result: work.Unchanged, Text: "no change"}
	case p.Verdict == planner.VerdictPlanned:
		return work.Outcome{Result: work.Changed, Text: "planned: " + rep.Title}
	case p.Verdict == planner.VerdictCatalogEmptied, p.Verdict == planner.VerdictSettingsInvalid && !template:
		return work.Outcome{Result: work.Blocked, Text: "blocked: " + rep.Title}
	}
	return work.Outcome{Result: work.Invalid, Text: "invalid: " + rep.Title}
}

// previewer reads the snapshots a PR's preview is planned from and plans
// it; Loop.Preview reports the plan.
type previewer struct {
	github gh.GitHub
	reader *snapshot.Reader
	repos  snapshot.Repos
	links  present.Links
	// schemas returns Harness's schemas for the renderings
	// (Loop.renderSchemas); it is called only when a rendering needs them.
	schemas func(context.Context) *render.Schemas
}

// catalog plans a config-repo PR: what its catalog change does to the
// pipelines.
func (pv *previewer) catalog(ctx context.Context, req PreviewRequest) (planner.Preview, present.PreviewContext, error) {
	pipes, err := pv.reader.Pipelines(ctx)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	c := present.PreviewContext{
		Links: pv.links, CatalogPath: pv.repos.CatalogPath, Pipelines: pv.repos.Pipelines, PipelinesCommit: pipes.Head.SHA,
		Settings: pipes.Settings, InRepo: func(f string) bool { return f == pv.repos.CatalogPath },
	}
	in := planner.CatalogPreviewInput{Pipelines: pipes, Base: snapshot.Catalog{Missing: true},
		Source: sourceOf(pv.repos, req.SHA, pipes.Head.SHA), Schemas: pv.schemas(ctx)}
	if len(pipes.Diags) == 0 {
		if in.Head, err = pv.reader.Catalog(ctx, req.SHA, pipes); err != nil {
			return planner.Preview{}, c, err
		}
		if err := pv.readBase(ctx, req, pipes, &in); err != nil {
			return planner.Preview{}, c, err
		}
	}
	if p := planner.SettleCatalogPreview(in); p != nil {
		return *p, c, nil
	}
	if in.Current, err = pv.reader.EntityContents(ctx, pipes); err != nil {
		return planner.Preview{}, c, err
	}
	return planner.PlanCatalogPreview(in), c, nil
}

// templates plans a pipelines-repo PR: which pipelines its template or
// settings change rewrites.
func (pv *previewer) templates(ctx context.Context, req PreviewRequest) (planner.Preview, present.PreviewContext, error) {
	base, err := pv.reader.Pipelines(ctx)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	prHead, err := pv.github.Resolve(ctx, pv.repos.Pipelines, req.SHA)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	head, err := pv.reader.PipelinesAt(ctx, prHead)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	c := present.PreviewContext{
		Links: pv.links, CatalogPath: pv.repos.CatalogPath, Template: true,
		Pipelines: pv.repos.Pipelines, PipelinesCommit: base.Head.SHA, Config: pv.repos.Config, Settings: head.Settings,
		InRepo: func(f string) bool { _, ok := head.Files[f]; return ok },
	}
	if p := planner.SettleTemplatePreview(base, head); p != nil {
		return *p, c, nil
	}
	_, cfgHead, err := pv.reader.Head(ctx, pv.repos.Config)
	if err != nil {
		return planner.Preview{}, c, err
	}
	c.ConfigCommit = cfgHead.SHA
	in := planner.TemplatePreviewInput{Base: base, Head: head, Source: sourceOf(pv.repos, cfgHead.SHA, req.SHA), Schemas: pv.schemas(ctx)}
	if in.Catalog, err = pv.reader.Catalog(ctx, cfgHead.SHA, head); err != nil {
		return planner.Preview{}, c, err
	}
	if in.Catalog.Valid() {
		if in.Current, err = pv.reader.EntityContents(ctx, base); err != nil {
			return planner.Preview{}, c, err
		}
	}
	return planner.PlanTemplatePreview(in), c, nil
}

// readBase reads the catalog a PR's change is planned from: at the
// merge base of the PR's head and its base branch (GitHub's compare API),
// so that a branch behind its base is planned for its own change; and,
// when it is behind, at the base branch's head too. Without a comparison
// (an adapter without one, a base unknown or gone) it is the catalog at
// the PR's base commit.
func (pv *previewer) readBase(ctx context.Context, req PreviewRequest, pipes snapshot.Pipelines, in *planner.CatalogPreviewInput) error {
	base := req.Before
	cmp, ok := pv.github.(gh.Comparer)
	if ok && (req.BaseRef != "" || req.Before != "") {
		against := req.BaseRef
		if against == "" {
			against = req.Before
		}
		c, err := cmp.Compare(ctx, pv.repos.Config, against, req.SHA)
		switch {
		case err == nil && c.MergeBase != "":
			base = c.MergeBase
			if c.BehindBy > 0 {
				in.Behind, in.MergeBase = c.BehindBy, c.MergeBase
			}
		case err != nil && !isNotFound(err):
			return err
		}
	}
	if base == "" {
		return nil
	}
	var err error
	if in.Base, err = pv.reader.Catalog(ctx, base, pipes); err != nil {
		return err
	}
	if in.Behind > 0 && req.Before != "" {
		in.Tip, err = pv.reader.Catalog(ctx, req.Before, pipes)
	}
	return err
}
