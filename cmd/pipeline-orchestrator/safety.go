package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/present"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/snapshot"
)

// The offline commands apply the server's deletion safety through the
// server's own code: planner.Gate refuses an emptied catalog (and an
// invalid one), planner.PlanIsMassDelete flags a plan that deletes too
// much, and the words are present's, those of the plan check run a pull
// request gets.

// maxListed is how many diagnostics of one list the CLI prints; the others
// are counted in a last line, and the exit summary gives the total.
const maxListed = 50

// printDiagnostics prints diags on stderr, one per line in the compiler
// form PATH:LINE:COL: message, at most maxListed of them, then how many
// more there are.
func (c *cli) printDiagnostics(diags catalog.Diagnostics) {
	for i, d := range diags {
		if i == maxListed {
			fmt.Fprintf(c.stderr, "… and %d more\n", len(diags)-maxListed)
			return
		}
		fmt.Fprintln(c.stderr, d.String())
	}
}

// capLines caps an error that lists problems one per line after a first
// line ("invalid configuration:"): the first maxListed of them, then how
// many more there are and the total.
func capLines(msg string) string {
	lines := strings.Split(msg, "\n")
	if len(lines) <= maxListed+1 {
		return msg
	}
	n := len(lines) - 1
	return strings.Join(lines[:maxListed+1], "\n") + fmt.Sprintf("\n… and %d more (%d in all)", n-maxListed, n)
}

// invalid prints diags (see printDiagnostics) and returns the error that
// makes the command exit 1 with summary as its last line.
func (c *cli) invalid(summary string, diags catalog.Diagnostics) error {
	c.printDiagnostics(diags)
	return invalidError{msg: summary}
}

// checkRun is the plan check run the server would post for a preview of
// the catalog at catalogPath, whose words the CLI uses.
func checkRun(p planner.Preview, catalogPath string) present.Report {
	return present.PreviewReport(p, present.PreviewContext{CatalogPath: catalogPath, InRepo: func(string) bool { return false }})
}

// catalogInvalid, renderFailed and settingsInvalid are the exit summaries
// of diagnostics in a catalog, in renderings, and in the settings or
// templates: the titles of the server's check runs, with the count.
func catalogInvalid(catalogPath string, diags catalog.Diagnostics) string {
	return checkRun(planner.Preview{Verdict: planner.VerdictCatalogInvalid, Diags: diags}, catalogPath).Title
}

func renderFailed(catalogPath string, diags catalog.Diagnostics) string {
	return checkRun(planner.Preview{Verdict: planner.VerdictRenderFailed, Diags: diags}, catalogPath).Title
}

func settingsInvalid(diags catalog.Diagnostics) string {
	title := checkRun(planner.Preview{Verdict: planner.VerdictSettingsInvalid, Diags: diags}, "").Title
	return fmt.Sprintf("%s: %d problem(s)", title, len(diags))
}

// safetyFlags are the flags that accept what the server refuses or flags.
type safetyFlags struct {
	allowEmptyCatalog bool
	allowMassDelete   bool
}

// register declares the flags on fs; verb is what the command does with a
// plan ("plan", "write").
func (f *safetyFlags) register(fs *flag.FlagSet, verb string) {
	fs.BoolVar(&f.allowEmptyCatalog, "allow-empty-catalog", false,
		"go on with a catalog that has no services where there were some (refused otherwise, as the app refuses it: an emptied catalog never turns into deletes)")
	fs.BoolVar(&f.allowMassDelete, "allow-mass-delete", false, fmt.Sprintf(
		"%s a plan whose deletes cross the settings' mass-delete threshold and exit 0 (otherwise it exits %d; the app holds such deletes until the bot PR gets a label)",
		verb, exitMassDelete))
}

// gate applies planner.Gate to the catalog at catalogPath: it must not be
// empty when lastServices services had entities (unless
// --allow-empty-catalog), nor invalid. The refusal carries the plan check
// run's words.
func (c *cli) gate(f safetyFlags, loaded inputs, head snapshot.Catalog, catalogPath string, lastServices int) error {
	lastGood := record.LastGoodCatalog{Services: lastServices}
	if f.allowEmptyCatalog {
		lastGood = record.LastGoodCatalog{}
	}
	b := planner.Gate(snapshot.Pipelines{Settings: loaded.settings, Templates: loaded.templates}, head, lastGood)
	if b == nil {
		return nil
	}
	if b.Reason == planner.BlockedCatalogEmptied {
		rep := checkRun(planner.Preview{Verdict: planner.VerdictCatalogEmptied, BaseServices: b.Services}, catalogPath)
		return invalidError{msg: rep.Title + "\n" + rep.Summary + "\n(--allow-empty-catalog goes on anyway)"}
	}
	return c.invalid(catalogInvalid(catalogPath, b.Diags), b.Diags)
}

// massDelete reports a plan the planner flagged as crossing the
// settings' mass-delete threshold (planner.PlanIsMassDelete): note is the
// plan check run's warning ("" when not flagged), and err the exit 3,
// unless --allow-mass-delete. held says what the command did not do.
func massDelete(f safetyFlags, flagged bool, s catalog.Settings, plan render.PipelinePlan, held string) (note string, err error) {
	if !flagged {
		return "", nil
	}
	note = present.MassDeleteNote(s, plan.DeletedUnits(), plan.ExistingUnits)
	if f.allowMassDelete {
		return note, nil
	}
	return note, massDeleteError{msg: fmt.Sprintf(
		"mass delete: %d of %d services and environments would lose entities%s (--allow-mass-delete accepts it)",
		plan.DeletedUnits(), plan.ExistingUnits, held)}
}

// servicesWithFiles counts the services that have a generated file among
// files (path → content): what a pipelines checkout says the last good
// catalog held.
func servicesWithFiles(s catalog.Settings, files map[string][]byte) int {
	seen := map[string]bool{}
	for p, b := range files {
		if name := render.ServiceOfPath(s, p); name != "" && render.IsGenerated(b) {
			seen[name] = true
		}
	}
	return len(seen)
}
