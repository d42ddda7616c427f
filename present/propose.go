package present

import (
	"fmt"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ProposeContext says what a propose run rendered from.
type ProposeContext struct {
	Links       Links
	CatalogPath string
	// Config and ConfigCommit: the config head rendered.
	Config       gh.Repo
	ConfigCommit string
	// Pipelines and PipelinesCommit: the pipelines repo's head.
	Pipelines       gh.Repo
	PipelinesCommit string
}

// Blocked is the sync check run of a propose run that refused to go on.
func Blocked(b planner.Blocked, c ProposeContext) Report {
	var title, summary string
	var anns []gh.Annotation
	atCatalog := func(f string) bool { return f == c.CatalogPath }
	switch b.Reason {
	case planner.BlockedSettings:
		title = "Pipelines repo settings or templates are invalid"
		summary = fmt.Sprintf("At %s:\n\n%s", c.Links.CommitLink(c.Pipelines, c.PipelinesCommit), DiagnosticList(b.Diags))
	case planner.BlockedCatalogMissing:
		title = "Catalog file missing"
		summary = fmt.Sprintf("`%s` does not exist at %s.", c.CatalogPath, c.Links.CommitLink(c.Config, c.ConfigCommit))
	case planner.BlockedCatalogInvalid:
		title = fmt.Sprintf("Invalid catalog: %d problem(s)", len(b.Diags))
		summary = DiagnosticList(b.Diags)
		anns, _ = Annotations(b.Diags, atCatalog)
	case planner.BlockedCatalogEmptied:
		title = "Catalog suddenly empty"
		summary = fmt.Sprintf("`%s` at %s has no services, but the last good catalog (%s) had %d. "+
			"An emptied catalog never turns into deletes: remove services in smaller changes.",
			c.CatalogPath, c.Links.CommitLink(c.Config, c.ConfigCommit), c.Links.CommitLink(c.Config, b.LastGood.Commit), b.Services)
	case planner.BlockedRender:
		title = fmt.Sprintf("%d pipeline(s) cannot be rendered", len(b.Diags))
		summary = DiagnosticList(b.Diags)
		anns, _ = Annotations(b.Diags, atCatalog)
	default:
		title, summary = "Blocked", string(b.Reason)
	}
	return Report{Conclusion: gh.ConclusionFailure, Title: title, Annotations: anns,
		Summary: summary + "\n\nNothing was proposed, and no pipeline will be deleted because of it."}
}

// NoChange is the sync check run when the pipelines repo already matches
// the catalog; closedPR is the bot PR closed as superseded, 0 if none.
func NoChange(plan render.PipelinePlan, c ProposeContext, closedPR int) Report {
	summary := alreadyMatches(plan, c)
	if closedPR > 0 {
		summary += fmt.Sprintf("\n\nThe bot PR #%d was closed as superseded.", closedPR)
	}
	return Report{Conclusion: gh.ConclusionSuccess, Title: "No pipeline changes", Summary: summary}
}

// ClosingComment is the comment on a bot PR closed as superseded.
func ClosingComment(plan render.PipelinePlan, c ProposeContext) string {
	return "Closing: nothing is left to change. " + alreadyMatches(plan, c)
}

func alreadyMatches(plan render.PipelinePlan, c ProposeContext) string {
	summary := "The pipelines repo already matches the catalog at " + c.Links.CommitLink(c.Config, c.ConfigCommit) + "."
	if plan.Summary.ConfigOnly > 0 {
		summary += fmt.Sprintf("\n\n%d service(s) changed only config-only fields: no pipeline changes, the new config takes effect on the next deploy.", plan.Summary.ConfigOnly)
	}
	return summary
}

// NotReopened is the sync check run when the same change was proposed in
// a bot PR closed without merging.
func NotReopened(pr gh.PullRequest) Report {
	return Report{Conclusion: gh.ConclusionNeutral, Title: fmt.Sprintf("Bot PR #%d was closed without merging", pr.Number),
		Summary: fmt.Sprintf("The same change was proposed in [#%d](%s), which was closed without merging. It is not reopened until the desired state changes again.", pr.Number, pr.HTMLURL)}
}

// Proposed is the sync check run linking to the bot PR; verb is
// "opened", "updated" or "is up to date".
func Proposed(pr gh.PullRequest, plan render.PipelinePlan, verb string) Report {
	return Report{Conclusion: gh.ConclusionSuccess,
		Title: fmt.Sprintf("Bot PR #%d %s: %s", pr.Number, verb, plan.Summary.Headline()),
		Summary: fmt.Sprintf("The pipeline changes are proposed in [#%d](%s). Merging it applies them to Harness.\n\n%s%s",
			pr.Number, pr.HTMLURL, plan.Markdown(render.CheckRunTextLimit-300-len(schemaSkippedNote)), schemaNote(plan))}
}
