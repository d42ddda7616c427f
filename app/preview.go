package app

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
)

// preview posts the plan check run on a PR's head commit: for a config-repo
// PR, what its catalog change does to the pipelines; for a pipelines-repo
// PR, which pipelines its template or settings change rewrites.
func (a *App) preview(ctx context.Context, d store.Delivery) (string, error) {
	if decodeWorkData(d).Repo == a.pipelinesRepo.String() || d.Repo == a.pipelinesRepo.String() {
		return a.previewTemplates(ctx, d)
	}
	chk, err := a.startCheck(ctx, a.configRepo, CheckPlan, d.SHA, d.ID, "Planning pipeline changes")
	if err != nil {
		return "", err
	}
	_, pipeHead, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return "", err
	}
	snap, err := a.readPipelinesRepo(ctx, pipeHead)
	if err != nil {
		return "", err
	}
	if len(snap.Diags) > 0 {
		summary := fmt.Sprintf("The pipelines repo's settings or templates at %s are invalid, so no catalog can be planned until they are fixed:\n\n%s",
			a.commitLink(a.pipelinesRepo, pipeHead.SHA), diagnosticList(snap.Diags))
		return "blocked: invalid settings or templates", a.finish(ctx, chk, conclusionFailure, "Pipelines repo settings or templates are invalid", summary, nil)
	}
	head, err := a.readCatalog(ctx, d.SHA, snap)
	if err != nil {
		return "", err
	}
	base := catalogSnapshot{Missing: true}
	if d.Before != "" {
		if base, err = a.readCatalog(ctx, d.Before, snap); err != nil {
			return "", err
		}
	}
	catalogPath := a.cfg.ConfigRepo.CatalogPath
	switch {
	case head.Missing:
		summary := fmt.Sprintf("`%s` does not exist at this commit. A missing catalog never turns into deletes: restore the file, or empty it explicitly with `services: []`.", catalogPath)
		return "invalid: catalog missing", a.finish(ctx, chk, conclusionFailure, "Catalog file missing", summary, nil)
	case len(head.Diags) > 0:
		anns, other := annotations(head.Diags, func(f string) bool { return f == catalogPath })
		summary := fmt.Sprintf("`%s` has %d problem(s); nothing will be proposed until they are fixed.\n\n%s", catalogPath, len(head.Diags), diagnosticList(head.Diags))
		if len(other) > 0 {
			summary += "\n"
		}
		a.metrics.catalogInvalid()
		return "invalid: catalog", a.finish(ctx, chk, conclusionFailure, fmt.Sprintf("Invalid catalog: %d problem(s)", len(head.Diags)), summary, anns)
	case !base.Missing && bytes.Equal(base.Source, head.Source):
		return "no change", a.finish(ctx, chk, conclusionSuccess, "No pipeline changes",
			fmt.Sprintf("No pipeline changes: this PR does not change `%s`.", catalogPath), nil)
	}
	if !base.Missing && len(base.Diags) == 0 && len(base.Catalog.Services) > 0 && len(head.Catalog.Services) == 0 {
		summary := fmt.Sprintf("This PR empties `%s` (the base has %d services). An empty catalog never turns into deletes; remove services one change at a time instead.",
			catalogPath, len(base.Catalog.Services))
		return "blocked: empty catalog", a.finish(ctx, chk, conclusionFailure, "Catalog emptied: refusing to plan deletes", summary, nil)
	}

	current, err := a.currentPipelines(ctx, snap)
	if err != nil {
		return "", err
	}
	baseCatalog := base.Catalog
	if base.Missing || len(base.Diags) > 0 {
		baseCatalog = head.Catalog // no valid base: fields are unknown, actions still exact
	}
	plan, diags := render.Plan(render.PlanInput{
		Base: baseCatalog, Head: head.Catalog, Settings: snap.Settings, Templates: snap.Templates,
		Source:  a.source(d.SHA, pipeHead.SHA),
		Current: current,
		Schemas: a.renderSchemas(ctx),
	})
	if len(diags) > 0 {
		anns, _ := annotations(diags, func(f string) bool { return f == catalogPath })
		summary := fmt.Sprintf("Some pipelines cannot be rendered:\n\n%s", diagnosticList(diags))
		return "invalid: render", a.finish(ctx, chk, conclusionFailure, fmt.Sprintf("%d pipeline(s) cannot be rendered", len(diags)), summary, anns)
	}
	summary := plan.Markdown(render.CheckRunTextLimit)
	if note := a.massDeleteNote(snap.Settings, plan.Summary.Delete, len(current)); note != "" {
		summary = note + "\n\n" + summary
	}
	return "planned: " + plan.Summary.Headline(), a.finish(ctx, chk, conclusionSuccess, plan.Summary.Headline(), summary, nil)
}

// source names the inputs of a rendering in pipeline headers.
func (a *App) source(catalogCommit, templatesCommit string) render.Source {
	return render.Source{
		CatalogRepo: a.configRepo.String(), CatalogPath: a.cfg.ConfigRepo.CatalogPath,
		CatalogCommit: catalogCommit, TemplatesCommit: templatesCommit,
	}
}

// isMassDelete applies the settings' threshold: more than MaxCount deletes,
// or more than MaxPercent percent of the existing pipelines.
func isMassDelete(s catalog.Settings, deletes, existing int) bool {
	if deletes == 0 {
		return false
	}
	if deletes > s.MassDelete.MaxCount {
		return true
	}
	return existing > 0 && deletes*100 > s.MassDelete.MaxPercent*existing
}

func (a *App) massDeleteNote(s catalog.Settings, deletes, existing int) string {
	if !isMassDelete(s, deletes, existing) {
		return ""
	}
	return fmt.Sprintf("> ⚠️ **Mass delete:** %d of %d pipelines would be deleted (threshold: more than %d, or more than %d%%). "+
		"The bot PR will be flagged, and its deletes wait for the label `%s` before they reach Harness.",
		deletes, existing, s.MassDelete.MaxCount, s.MassDelete.MaxPercent, MassDeleteLabel)
}

// previewTemplates posts the plan check run on a pipelines-repo PR: the
// blast radius of its template or settings change.
func (a *App) previewTemplates(ctx context.Context, d store.Delivery) (string, error) {
	chk, err := a.startCheck(ctx, a.pipelinesRepo, CheckPlan, d.SHA, d.ID, "Computing the blast radius")
	if err != nil {
		return "", err
	}
	_, baseHead, err := a.head(ctx, a.pipelinesRepo)
	if err != nil {
		return "", err
	}
	prHead, err := a.gh.Resolve(ctx, a.pipelinesRepo, d.SHA)
	if err != nil {
		return "", err
	}
	baseSnap, err := a.readPipelinesRepo(ctx, baseHead)
	if err != nil {
		return "", err
	}
	headSnap, err := a.readPipelinesRepo(ctx, prHead)
	if err != nil {
		return "", err
	}
	inRepo := func(f string) bool { _, ok := headSnap.Files[f]; return ok }
	if len(headSnap.Diags) > 0 {
		anns, _ := annotations(headSnap.Diags, inRepo)
		summary := fmt.Sprintf("The settings or templates in this PR are invalid:\n\n%s", diagnosticList(headSnap.Diags))
		return "invalid: settings or templates", a.finish(ctx, chk, conclusionFailure, fmt.Sprintf("%d problem(s) in settings or templates", len(headSnap.Diags)), summary, anns)
	}
	if headSnap.InputsHash == baseSnap.InputsHash && len(baseSnap.Diags) == 0 {
		return "no change", a.finish(ctx, chk, conclusionSuccess, "No pipeline changes",
			"No pipeline changes: this PR changes no template and not `"+SettingsPath+"`.", nil)
	}
	_, cfgHead, err := a.head(ctx, a.configRepo)
	if err != nil {
		return "", err
	}
	cat, err := a.readCatalog(ctx, cfgHead.SHA, headSnap)
	if err != nil {
		return "", err
	}
	if cat.Missing || len(cat.Diags) > 0 {
		summary := fmt.Sprintf("With this PR's settings and templates, the catalog at %s does not validate:\n\n%s",
			a.commitLink(a.configRepo, cfgHead.SHA), diagnosticList(cat.Diags))
		if cat.Missing {
			summary = fmt.Sprintf("The catalog `%s` is missing at %s.", a.cfg.ConfigRepo.CatalogPath, a.commitLink(a.configRepo, cfgHead.SHA))
		}
		return "invalid: catalog under new settings", a.finish(ctx, chk, conclusionFailure, "The catalog does not validate with these settings", summary, nil)
	}
	current, err := a.currentPipelines(ctx, baseSnap)
	if err != nil {
		return "", err
	}
	plan, diags := render.Plan(render.PlanInput{
		Base: cat.Catalog, Head: cat.Catalog, Settings: headSnap.Settings, Templates: headSnap.Templates,
		Source: a.source(cfgHead.SHA, d.SHA), Current: current,
		Schemas: a.renderSchemas(ctx),
	})
	if len(diags) > 0 {
		anns, _ := annotations(diags, inRepo)
		summary := fmt.Sprintf("Rendering with this PR's templates fails:\n\n%s", diagnosticList(diags))
		return "invalid: render", a.finish(ctx, chk, conclusionFailure, fmt.Sprintf("%d pipeline(s) cannot be rendered", len(diags)), summary, anns)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Blast radius:** merging this PR rewrites %d pipeline(s) (catalog at %s).\n\n", plan.Summary.Changed(), a.commitLink(a.configRepo, cfgHead.SHA))
	b.WriteString(plan.Markdown(render.CheckRunTextLimit - b.Len()))
	title := fmt.Sprintf("Blast radius: %d pipeline(s) rewritten", plan.Summary.Changed())
	return "planned: " + title, a.finish(ctx, chk, conclusionSuccess, title, b.String(), nil)
}
