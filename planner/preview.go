package planner

import (
	"bytes"
	"sort"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
)

// Verdict is what a preview concludes.
type Verdict string

// Verdicts of a preview.
const (
	// VerdictSettingsInvalid: the settings or templates (of the pipelines
	// repo's default branch, or of the PR) are invalid.
	VerdictSettingsInvalid Verdict = "settings-invalid"
	// VerdictCatalogMissing: the catalog file does not exist at the PR head.
	VerdictCatalogMissing Verdict = "catalog-missing"
	// VerdictCatalogInvalid: the catalog at the PR head (or, for a
	// template PR, at the config head under the PR's settings) is invalid.
	VerdictCatalogInvalid Verdict = "catalog-invalid"
	// VerdictNoChange: the PR does not touch the catalog, or no template
	// and not the settings.
	VerdictNoChange Verdict = "no-change"
	// VerdictCatalogEmptied: the PR empties a catalog that had services.
	VerdictCatalogEmptied Verdict = "catalog-emptied"
	// VerdictRenderFailed: some pipelines cannot be rendered.
	VerdictRenderFailed Verdict = "render-failed"
	// VerdictPlanned: the plan of what merging the PR does.
	VerdictPlanned Verdict = "planned"
)

// Preview is the plan check run's content, as a value.
type Preview struct {
	Verdict Verdict
	Diags   catalog.Diagnostics
	Plan    render.PipelinePlan
	// BaseServices is how many services the base catalog had (for an
	// emptied catalog).
	BaseServices int
	// MassDelete flags a plan whose deletes will need the label; Existing
	// is how many pipeline files exist today.
	MassDelete bool
	Existing   int
	// Behind is how many commits the PR's branch is behind its base
	// branch; then the plan is the PR's own change, from the merge base
	// MergeBase. BothSides lists the services changed both by the PR and
	// on the base branch since: updating the branch may change their plan.
	Behind    int
	MergeBase string
	BothSides []string
}

// Rejected reports whether the preview fails the PR.
func (p Preview) Rejected() bool { return p.Verdict != VerdictNoChange && p.Verdict != VerdictPlanned }

// CatalogPreviewInput is a config-repo PR to preview.
type CatalogPreviewInput struct {
	// Pipelines is the pipelines repo's default branch.
	Pipelines snapshot.Pipelines
	// Head is the catalog at the PR head; Base at its base (Missing when
	// the PR has none).
	Head, Base snapshot.Catalog
	// Current is the content of every pipeline file of Pipelines; read
	// only when the first stage (Settle) does not conclude.
	Current map[string][]byte
	Source  render.Source
	// Behind is how many commits the PR's branch is behind its base
	// branch, Base then the catalog at their merge base, and Tip the
	// catalog at the base branch's head: the plan renders the PR's own
	// change from the merge base, not from the tip, where later changes of
	// the base branch would read as the PR undoing them.
	Behind    int
	MergeBase string
	Tip       snapshot.Catalog
	// Schemas are Harness's schemas; nil skips the schema check.
	Schemas *render.Schemas
}

// SettleCatalogPreview concludes a catalog preview without rendering when
// it can: invalid settings, a missing or invalid catalog, an unchanged
// catalog, or an emptied one. nil means the plan must be rendered
// (PlanCatalogPreview).
func SettleCatalogPreview(in CatalogPreviewInput) *Preview {
	switch {
	case len(in.Pipelines.Diags) > 0:
		return &Preview{Verdict: VerdictSettingsInvalid, Diags: in.Pipelines.Diags}
	case in.Head.Missing:
		return &Preview{Verdict: VerdictCatalogMissing}
	case len(in.Head.Diags) > 0:
		return &Preview{Verdict: VerdictCatalogInvalid, Diags: in.Head.Diags}
	case !in.Base.Missing && bytes.Equal(in.Base.Source, in.Head.Source):
		return &Preview{Verdict: VerdictNoChange}
	case in.Base.Valid() && len(in.Base.Catalog.Services) > 0 && len(in.Head.Catalog.Services) == 0:
		return &Preview{Verdict: VerdictCatalogEmptied, BaseServices: len(in.Base.Catalog.Services)}
	}
	return nil
}

// PlanCatalogPreview renders what merging the PR does to the pipelines. A
// branch behind its base is planned from the merge base, whose rendering
// stands for the current files: what the PR itself changes.
func PlanCatalogPreview(in CatalogPreviewInput) Preview {
	base := in.Base.Catalog
	if !in.Base.Valid() {
		base = in.Head.Catalog // no valid base: fields are unknown, actions still exact
	}
	stale := in.Behind > 0 && in.Base.Valid()
	pi := render.PlanInput{
		Base: base, Head: in.Head.Catalog, Settings: in.Pipelines.Settings, Templates: in.Pipelines.Templates,
		Source: in.Source, Current: in.Current, Schemas: in.Schemas,
	}
	if stale {
		pi.Current, pi.BaseSource = nil, in.Source
	}
	plan, diags := render.Plan(pi)
	if len(diags) > 0 {
		return Preview{Verdict: VerdictRenderFailed, Diags: diags}
	}
	p := Preview{Verdict: VerdictPlanned, Plan: plan, Existing: plan.ExistingUnits,
		MassDelete: PlanIsMassDelete(in.Pipelines.Settings, plan)}
	if stale {
		p.Behind, p.MergeBase = in.Behind, in.MergeBase
		if in.Tip.Valid() {
			p.BothSides = changedOnBothSides(base, in.Head.Catalog, in.Tip.Catalog)
		}
	}
	return p
}

// changedOnBothSides lists the services that both head and tip changed
// since base, by name.
func changedOnBothSides(base, head, tip catalog.Catalog) []string {
	changed := func(d catalog.CatalogDiff) map[string]bool {
		m := map[string]bool{}
		for _, group := range [][]catalog.ServiceChange{d.Added, d.Removed, d.Changed} {
			for _, c := range group {
				m[c.Name] = true
			}
		}
		return m
	}
	byHead := changed(catalog.Diff(base, head))
	var both []string
	for name := range changed(catalog.Diff(base, tip)) {
		if byHead[name] {
			both = append(both, name)
		}
	}
	sort.Strings(both)
	return both
}

// TemplatePreviewInput is a pipelines-repo PR to preview: its blast
// radius over the catalog at the config repo's head.
type TemplatePreviewInput struct {
	// Base is the pipelines repo's default branch, Head the PR head.
	Base, Head snapshot.Pipelines
	// Catalog is the config head's catalog, parsed with Head's settings.
	Catalog snapshot.Catalog
	// Current is the content of every pipeline file of Base.
	Current map[string][]byte
	Source  render.Source
	// Schemas are Harness's schemas; nil skips the schema check.
	Schemas *render.Schemas
}

// SettleTemplatePreview concludes a template preview before the catalog is
// read when it can: invalid settings or templates in the PR, or a PR that
// changes neither. nil means read the catalog and plan.
func SettleTemplatePreview(base, head snapshot.Pipelines) *Preview {
	switch {
	case len(head.Diags) > 0:
		return &Preview{Verdict: VerdictSettingsInvalid, Diags: head.Diags}
	case head.InputsHash == base.InputsHash && len(base.Diags) == 0:
		return &Preview{Verdict: VerdictNoChange}
	}
	return nil
}

// PlanTemplatePreview renders the catalog with the PR's settings and
// templates against the current pipelines.
func PlanTemplatePreview(in TemplatePreviewInput) Preview {
	if in.Catalog.Missing {
		return Preview{Verdict: VerdictCatalogMissing}
	}
	if len(in.Catalog.Diags) > 0 {
		return Preview{Verdict: VerdictCatalogInvalid, Diags: in.Catalog.Diags}
	}
	plan, diags := render.Plan(render.PlanInput{
		Base: in.Catalog.Catalog, Head: in.Catalog.Catalog, Settings: in.Head.Settings, Templates: in.Head.Templates,
		Source: in.Source, Current: in.Current, Schemas: in.Schemas,
	})
	if len(diags) > 0 {
		return Preview{Verdict: VerdictRenderFailed, Diags: diags}
	}
	return Preview{Verdict: VerdictPlanned, Plan: plan, Existing: len(in.Current)}
}
