package present

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ApplyBlocked is the harness check run of a pipelines commit whose
// settings are invalid: without them the pipelines directory is unknown,
// and a guess could read every pipeline as deleted.
func ApplyBlocked(diags catalog.Diagnostics) Report {
	return Report{Conclusion: gh.ConclusionFailure, Title: "Invalid settings: nothing applied",
		Summary: fmt.Sprintf("`%s` is invalid at this commit, so nothing was applied:\n\n%s", catalog.SettingsPath, DiagnosticList(diags))}
}

// Applying is the harness check run opened when operations are queued.
func Applying(ops int) Report {
	title := fmt.Sprintf("Applying %d change(s) to Harness", ops)
	return Report{Title: title, Summary: title + "…"}
}

// HarnessReport summarises a commit's operations: in progress while any is
// pending or running; failure if any failed or a file is not a pipeline;
// action required while deletes are held for the mass-delete label;
// success otherwise. unreadable lists the files that are not pipelines,
// one per line.
func HarnessReport(ops []record.Operation, unreadable string) Report {
	ops = append([]record.Operation(nil), ops...)
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	count := map[record.OperationState]int{}
	var rows []string
	for _, op := range ops {
		count[op.State]++
		status := string(op.State)
		detail := op.Result
		switch op.State {
		case record.OpDone:
			status = "✅ done"
		case record.OpFailed:
			status = "❌ failed"
			detail = op.LastError
		case record.OpPending, record.OpRunning:
			status = "⏳ " + string(op.State)
			if op.LastError != "" {
				detail = fmt.Sprintf("attempt %d failed: %s; retrying", op.Attempts, op.LastError)
			}
		case record.OpHeld:
			status = "⏸️ held"
			detail = "waits for the label `" + gh.MassDeleteLabel + "` on the bot PR"
		case record.OpSuperseded:
			status = "↪️ superseded"
			detail = fmt.Sprintf("by operation %d (a newer commit)", op.SupersededBy)
		}
		rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s |", op.Identifier, op.Kind, status, mdCell(detail)))
	}
	var b strings.Builder
	total := len(ops)
	done := count[record.OpDone] + count[record.OpSuperseded]
	fmt.Fprintf(&b, "%d of %d operation(s) done", done, total)
	if n := count[record.OpFailed]; n > 0 {
		fmt.Fprintf(&b, ", %d failed", n)
	}
	if n := count[record.OpHeld]; n > 0 {
		fmt.Fprintf(&b, ", %d held", n)
	}
	b.WriteString(".\n\n| Pipeline | Operation | State | Detail |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n"))
	b.WriteString("\n")
	if unreadable != "" {
		b.WriteString("\nThese files are not pipelines the app can apply:\n\n- " + strings.ReplaceAll(unreadable, "\n", "\n- ") + "\n")
	}

	rep := Report{Summary: b.String()}
	switch {
	case count[record.OpPending]+count[record.OpRunning] > 0:
		rep.Title = fmt.Sprintf("Applying to Harness: %d of %d done", done, total)
		for _, op := range ops {
			if (op.State == record.OpPending || op.State == record.OpRunning) && op.LastError != "" {
				rep.Title = fmt.Sprintf("Retrying %s: %s", op.Identifier, FirstLine(op.LastError))
				break
			}
		}
	case count[record.OpFailed] > 0 || unreadable != "":
		rep.Conclusion = gh.ConclusionFailure
		rep.Title = fmt.Sprintf("%d Harness operation(s) failed", count[record.OpFailed])
		for _, op := range ops {
			if op.State == record.OpFailed {
				rep.Title = fmt.Sprintf("%s failed: %s", op.Identifier, FirstLine(op.LastError))
				break
			}
		}
		if unreadable != "" && count[record.OpFailed] == 0 {
			rep.Title = "Some files are not valid pipelines"
		}
	case count[record.OpHeld] > 0:
		rep.Conclusion = gh.ConclusionActionRequired
		rep.Title = fmt.Sprintf("%d delete(s) wait for the label %s", count[record.OpHeld], gh.MassDeleteLabel)
	default:
		rep.Conclusion = gh.ConclusionSuccess
		rep.Title = fmt.Sprintf("Harness is up to date: %d operation(s) done", done)
	}
	return rep
}

// DriftCheck is the drift check run of a reconcile run.
func DriftCheck(rep record.DriftReport) Report {
	if rep.Drifted() == 0 && len(rep.Unmanaged) == 0 {
		return Report{Conclusion: gh.ConclusionSuccess, Title: "No drift",
			Summary: fmt.Sprintf("Harness holds exactly the %d entities of this commit.", rep.Checked)}
	}
	var b strings.Builder
	if rep.Drifted() > 0 {
		fmt.Fprintf(&b, "Harness differs from this commit for %d entit%s; %d repair operation(s) were queued.\n\n",
			rep.Drifted(), plural(rep.Drifted(), "y", "ies"), rep.Queued)
	}
	list := func(title string, ids []string) {
		if len(ids) == 0 {
			return
		}
		fmt.Fprintf(&b, "**%s:** ", title)
		for i, id := range ids {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("`" + id + "`")
		}
		b.WriteString("\n\n")
	}
	list("Missing in Harness (re-created)", rep.Missing)
	list("Different in Harness (updated)", rep.Different)
	list("Managed by the app but no longer in Git (deleted)", rep.Extra)
	list("Already being repaired", rep.Skipped)
	list(fmt.Sprintf("In Git, but held in Harness without the tag %s: %s, so never changed by the app (delete or tag them in Harness)",
		render.ManagedByTag, render.ManagedByValue), rep.Unmanaged)
	var parts []string
	if rep.Drifted() > 0 {
		parts = append(parts, fmt.Sprintf("Drift: %d entit%s repaired", rep.Drifted(), plural(rep.Drifted(), "y", "ies")))
	}
	if n := len(rep.Unmanaged); n > 0 {
		parts = append(parts, fmt.Sprintf("%d entit%s in Harness not the app's", n, plural(n, "y", "ies")))
	}
	title := strings.Join(parts, "; ")
	return Report{Conclusion: gh.ConclusionNeutral, Title: title, Summary: b.String()}
}

// plural picks the suffix for n: one or many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
