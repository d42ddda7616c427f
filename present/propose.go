package present

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
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

// CommitMessage is the message of the bot branch's commit.
func CommitMessage(plan render.PipelinePlan, c ProposeContext) string {
	return fmt.Sprintf("Sync pipelines with %s@%s\n\n%s", c.Config, gh.ShortSHA(c.ConfigCommit), plan.Summary.Headline())
}

// BotPRTitle is the bot PR's title.
func BotPRTitle(plan render.PipelinePlan) string {
	return "Sync pipelines: " + plan.Summary.Headline()
}

// BotPR is what the bot PR body is made of.
type BotPR struct {
	Plan     render.PipelinePlan
	Meta     planner.BotMeta
	Settings catalog.Settings
	// Existing is how many pipeline files exist today.
	Existing int
}

// BotPRBody describes the proposal: every pipeline change with the
// services and fields behind it, the source commits, and what merging
// does in Harness. The hidden block at the end is read back by the next
// propose run.
func BotPRBody(p BotPR, c ProposeContext) string {
	var b strings.Builder
	s := p.Settings
	b.WriteString("This PR is maintained by pipeline-orchestrator. It renders the Harness pipelines of the service catalog; ")
	b.WriteString("it is updated in place while the catalog changes, and closed when nothing is left to change.\n\n")
	fmt.Fprintf(&b, "**Source:** catalog %s · templates and settings %s\n\n",
		c.Links.CommitLink(c.Config, c.ConfigCommit), c.Links.CommitLink(c.Pipelines, c.PipelinesCommit))
	if p.Meta.MassDelete {
		fmt.Fprintf(&b, "> ⚠️ **Mass delete:** this PR deletes entities of %d of %d services and environments (threshold: more than %d, or more than %d%%). "+
			"After merge, creates and updates reach Harness at once; **the deletes wait for the label `%s`** on this PR.\n\n",
			p.Meta.Deletes, p.Existing, s.MassDelete.MaxCount, s.MassDelete.MaxPercent, gh.MassDeleteLabel)
	}
	b.WriteString("| Pipeline | Change | Service | Caused by | On merge, in Harness |\n|---|---|---|---|---|\n")
	for _, ch := range p.Plan.Changes {
		var effect string
		switch ch.Action {
		case render.ActionCreate:
			effect = "create pipeline `" + ch.Identifier + "`"
		case render.ActionUpdate:
			effect = "update pipeline `" + ch.Identifier + "`"
		case render.ActionDelete:
			effect = "delete pipeline `" + ch.Identifier + "`"
			if p.Meta.MassDelete {
				effect += " (after the label)"
			}
		default:
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", ch.Path, ch.Action, ch.Service, causes(ch), effect)
	}
	if p.Plan.Summary.ConfigOnly > 0 {
		fmt.Fprintf(&b, "\n%d service(s) changed only config-only fields; their pipelines do not change (the config takes effect on the next deploy).\n", p.Plan.Summary.ConfigOnly)
	}
	fmt.Fprintf(&b, "\nHarness org `%s`, project `%s`. Operations are retried until Harness confirms them; results appear as the `%s` check run on the merge commit and on %s.\n",
		s.Org, s.Project, gh.CheckHarness, c.Links.CommitLink(c.Config, c.ConfigCommit))
	fmt.Fprintf(&b, "\n%s\n", p.Meta.Encode())
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
