package loop

import (
	"context"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
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
		p, c, err = l.previewTemplates(ctx, req)
	} else {
		p, c, err = l.previewCatalog(ctx, req)
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

func (l *Loop) previewCatalog(ctx context.Context, req PreviewRequest) (planner.Preview, present.PreviewContext, error) {
	pipes, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	c := present.PreviewContext{
		Links: l.Links, CatalogPath: l.repos.CatalogPath, Pipelines: l.repos.Pipelines, PipelinesCommit: pipes.Head.SHA,
		Settings: pipes.Settings, InRepo: func(f string) bool { return f == l.repos.CatalogPath },
	}
	in := planner.CatalogPreviewInput{Pipelines: pipes, Base: snapshot.Catalog{Missing: true},
		Source: l.source(req.SHA, pipes.Head.SHA), Schemas: l.renderSchemas(ctx)}
	if len(pipes.Diags) == 0 {
		if in.Head, err = l.Reader.Catalog(ctx, req.SHA, pipes); err != nil {
			return planner.Preview{}, c, err
		}
		if err := l.readPreviewBase(ctx, req, pipes, &in); err != nil {
			return planner.Preview{}, c, err
		}
	}
	if p := planner.SettleCatalogPreview(in); p != nil {
		return *p, c, nil
	}
	if in.Current, err = l.Reader.EntityContents(ctx, pipes); err != nil {
		return planner.Preview{}, c, err
	}
	return planner.PlanCatalogPreview(in), c, nil
}

func (l *Loop) previewTemplates(ctx context.Context, req PreviewRequest) (planner.Preview, present.PreviewContext, error) {
	base, err := l.Reader.Pipelines(ctx)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	prHead, err := l.GitHub.Resolve(ctx, l.repos.Pipelines, req.SHA)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	head, err := l.Reader.PipelinesAt(ctx, prHead)
	if err != nil {
		return planner.Preview{}, present.PreviewContext{}, err
	}
	c := present.PreviewContext{
		Links: l.Links, CatalogPath: l.repos.CatalogPath, Template: true,
		Pipelines: l.repos.Pipelines, PipelinesCommit: base.Head.SHA, Config: l.repos.Config, Settings: head.Settings,
		InRepo: func(f string) bool { _, ok := head.Files[f]; return ok },
	}
	if p := planner.SettleTemplatePreview(base, head); p != nil {
		return *p, c, nil
	}
	_, cfgHead, err := l.Reader.Head(ctx, l.repos.Config)
	if err != nil {
		return planner.Preview{}, c, err
	}
	c.ConfigCommit = cfgHead.SHA
	in := planner.TemplatePreviewInput{Base: base, Head: head, Source: l.source(cfgHead.SHA, req.SHA), Schemas: l.renderSchemas(ctx)}
	if in.Catalog, err = l.Reader.Catalog(ctx, cfgHead.SHA, head); err != nil {
		return planner.Preview{}, c, err
	}
	if in.Catalog.Valid() {
		if in.Current, err = l.Reader.EntityContents(ctx, base); err != nil {
			return planner.Preview{}, c, err
		}
	}
	return planner.PlanTemplatePreview(in), c, nil
}

// readPreviewBase reads the catalog a PR's change is planned from: at the
// merge base of the PR's head and its base branch (GitHub's compare API),
// so that a branch behind its base is planned for its own change; and,
// when it is behind, at the base branch's head too. Without a comparison
// (an adapter without one, a base unknown or gone) it is the catalog at
// the PR's base commit.
func (l *Loop) readPreviewBase(ctx context.Context, req PreviewRequest, pipes snapshot.Pipelines, in *planner.CatalogPreviewInput) error {
	base := req.Before
	cmp, ok := l.GitHub.(gh.Comparer)
	if ok && (req.BaseRef != "" || req.Before != "") {
		against := req.BaseRef
		if against == "" {
			against = req.Before
		}
		c, err := cmp.Compare(ctx, l.repos.Config, against, req.SHA)
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
	if in.Base, err = l.Reader.Catalog(ctx, base, pipes); err != nil {
		return err
	}
	if in.Behind > 0 && req.Before != "" {
		in.Tip, err = l.Reader.Catalog(ctx, req.Before, pipes)
	}
	return err
}
