package present

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// PreviewContext says what a preview was computed from.
type PreviewContext struct {
	Links       Links
	CatalogPath string
	// Template: a pipelines-repo PR (templates or settings), previewed
	// over the config head's catalog.
	Template bool
	// Pipelines and PipelinesCommit: the pipelines repo's default branch
	// head the preview was computed against.
	Pipelines       gh.Repo
	PipelinesCommit string
	// Config and ConfigCommit: the config head (a template preview's
	// catalog).
	Config       gh.Repo
	ConfigCommit string
	// Settings are those the plan was rendered with.
	Settings catalog.Settings
	// InRepo reports whether a file is in the repository the check run is
	// on: only those can be annotated.
	InRepo func(file string) bool
}

// PreviewReport is the plan check run of a PR.
func PreviewReport(p planner.Preview, c PreviewContext) Report {
	if c.Template {
		return templatePreview(p, c)
	}
	fail := func(title, summary string, anns []gh.Annotation) Report {
		return Report{Conclusion: gh.ConclusionFailure, Title: title, Summary: summary, Annotations: anns}
	}
	switch p.Verdict {
	case planner.VerdictSettingsInvalid:
		return fail("Pipelines repo settings or templates are invalid", fmt.Sprintf(
			"The pipelines repo's settings or templates at %s are invalid, so no catalog can be planned until they are fixed:\n\n%s",
			c.Links.CommitLink(c.Pipelines, c.PipelinesCommit), DiagnosticList(p.Diags)), nil)
	case planner.VerdictCatalogMissing:
		return fail("Catalog file missing", fmt.Sprintf(
			"`%s` does not exist at this commit. A missing catalog never turns into deletes: restore the file, or empty it explicitly with `services: []`.",
			c.CatalogPath), nil)
	case planner.VerdictCatalogInvalid:
		anns, other := Annotations(p.Diags, c.InRepo)
		summary := fmt.Sprintf("`%s` has %d problem(s); nothing will be proposed until they are fixed.\n\n%s", c.CatalogPath, len(p.Diags), DiagnosticList(p.Diags))
		if len(other) > 0 {
			summary += "\n"
		}
		return fail(fmt.Sprintf("Invalid catalog: %d problem(s)", len(p.Diags)), summary, anns)
	case planner.VerdictNoChange:
		return Report{Conclusion: gh.ConclusionSuccess, Title: "No pipeline changes",
			Summary: fmt.Sprintf("No pipeline changes: this PR does not change `%s`.", c.CatalogPath)}
	case planner.VerdictCatalogEmptied:
		return fail("Catalog emptied: refusing to plan deletes", fmt.Sprintf(
			"This PR empties `%s` (the base has %d services). An empty catalog never turns into deletes; remove services one change at a time instead.",
			c.CatalogPath, p.BaseServices), nil)
	case planner.VerdictRenderFailed:
		anns, _ := Annotations(p.Diags, c.InRepo)
		return fail(fmt.Sprintf("%d pipeline(s) cannot be rendered", len(p.Diags)),
			fmt.Sprintf("Some pipelines cannot be rendered:\n\n%s", DiagnosticList(p.Diags)), anns)
	}
	note := behindNote(p)
	summary := p.Plan.Markdown(render.CheckRunTextLimit - len(schemaSkippedNote) - len(note))
	if p.MassDelete {
		summary = MassDeleteNote(c.Settings, p.Plan.DeletedUnits(), p.Existing) + "\n\n" + summary
	}
	summary = note + summary
	summary += schemaNote(p.Plan)
	return Report{Conclusion: gh.ConclusionSuccess, Title: p.Plan.Summary.Headline(), Summary: summary}
}

func templatePreview(p planner.Preview, c PreviewContext) Report {
	fail := func(title, summary string, anns []gh.Annotation) Report {
		return Report{Conclusion: gh.ConclusionFailure, Title: title, Summary: summary, Annotations: anns}
	}
	catalogAt := c.Links.CommitLink(c.Config, c.ConfigCommit)
	switch p.Verdict {
	case planner.VerdictSettingsInvalid:
		anns, _ := Annotations(p.Diags, c.InRepo)
		return fail(fmt.Sprintf("%d problem(s) in settings or templates", len(p.Diags)),
			fmt.Sprintf("The settings or templates in this PR are invalid:\n\n%s", DiagnosticList(p.Diags)), anns)
	case planner.VerdictNoChange:
		return Report{Conclusion: gh.ConclusionSuccess, Title: "No pipeline changes",
			Summary: "No pipeline changes: this PR changes no template and not `" + catalog.SettingsPath + "`."}
	case planner.VerdictCatalogMissing:
		return fail("The catalog does not validate with these settings",
			fmt.Sprintf("The catalog `%s` is missing at %s.", c.CatalogPath, catalogAt), nil)
	case planner.VerdictCatalogInvalid:
		return fail("The catalog does not validate with these settings",
			fmt.Sprintf("With this PR's settings and templates, the catalog at %s does not validate:\n\n%s", catalogAt, DiagnosticList(p.Diags)), nil)
	case planner.VerdictRenderFailed:
		anns, _ := Annotations(p.Diags, c.InRepo)
		return fail(fmt.Sprintf("%d pipeline(s) cannot be rendered", len(p.Diags)),
			fmt.Sprintf("Rendering with this PR's templates fails:\n\n%s", DiagnosticList(p.Diags)), anns)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Blast radius:** merging this PR rewrites %d pipeline(s) (catalog at %s).\n\n", p.Plan.Summary.Changed(), catalogAt)
	b.WriteString(p.Plan.Markdown(render.CheckRunTextLimit - b.Len() - len(schemaSkippedNote)))
	b.WriteString(schemaNote(p.Plan))
	return Report{Conclusion: gh.ConclusionSuccess,
		Title: fmt.Sprintf("Blast radius: %d pipeline(s) rewritten", p.Plan.Summary.Changed()), Summary: b.String()}
}

// MassDeleteNote warns, in a preview, that merging flags the bot PR.
func MassDeleteNote(s catalog.Settings, deletes, existing int) string {
	return fmt.Sprintf("> ⚠️ **Mass delete:** %d of %d services and environments would lose entities in Harness (threshold: more than %d, or more than %d%%). "+
		"The bot PR will be flagged, and its deletes wait for the label `%s` before they reach Harness.",
		deletes, existing, s.MassDelete.MaxCount, s.MassDelete.MaxPercent, gh.MassDeleteLabel)
}

// schemaSkippedNote says a plan was rendered without Harness's schema.
const schemaSkippedNote = "\n\n> Harness's pipeline schema was not available (the app fetches it from your Harness account), so the pipelines were not checked against it; every other check ran.\n"

func schemaNote(p render.PipelinePlan) string {
	if p.SchemaSkipped {
		return schemaSkippedNote
	}
	return ""
}

// behindNote says that a PR's branch is behind its base, so the plan is
// its own change from their merge base, and whether updating the branch
// may change it.
func behindNote(p planner.Preview) string {
	if p.Behind == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "> This branch is %d commit(s) behind its base: the plan shows what this PR changes, from their merge base `%s`. ",
		p.Behind, gh.ShortSHA(p.MergeBase))
	if len(p.BothSides) == 0 {
		b.WriteString("Updating the branch would not change it: no service this PR changes was changed on the base since.\n\n")
	} else {
		fmt.Fprintf(&b, "Updating the branch may change it: %s changed on the base since too.\n\n", quotedList(p.BothSides))
	}
	return b.String()
}

// quotedList is names as inline code, comma-separated.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + n + "`"
	}
	return strings.Join(q, ", ")
}
