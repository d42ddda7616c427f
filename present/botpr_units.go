package present

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// kinds are the entity kinds in the order the bot PR lists them.
var kinds = []render.Kind{render.KindService, render.KindPipeline, render.KindTrigger, render.KindEnvironment, render.KindInfrastructure}

// kindTitle names the files of kind k in a summary.
func kindTitle(k render.Kind) string {
	switch k {
	case render.KindService:
		return "Services"
	case render.KindPipeline:
		return "Pipelines"
	case render.KindTrigger:
		return "Triggers"
	case render.KindEnvironment:
		return "Environments"
	}
	return "Infrastructure definitions"
}

// kindNoun names one entity of kind k in a sentence.
func kindNoun(k render.Kind) string {
	switch k {
	case render.KindService:
		return "Service"
	case render.KindInfrastructure:
		return "infrastructure definition"
	}
	return string(k)
}

// cause is what made a service or an environment change.
type cause int

// The causes, in the order the bot PR counts them.
const (
	// causeCatalog: the service's catalog entry changed, or it is in the
	// catalog without files yet.
	causeCatalog cause = iota
	// causeSettings: a template or the settings changed.
	causeSettings
	// causeHandEdit: a rendered file was edited by hand; merging puts the
	// rendering back.
	causeHandEdit
	// causeRemoval: the service left the catalog (or its pipeline was
	// disabled), or the environment left the settings.
	causeRemoval
	causes
)

var causeLabels = [causes]string{"catalog change", "template or settings change", "hand edit in this repo", "removal"}

// prUnit is a service (its Service, pipeline and trigger) or an
// environment (with its infrastructure definitions) the bot PR changes.
type prUnit struct {
	environment bool
	name        string
	fields      []catalog.FieldChange
	// changes are the files created, updated and deleted, in plan order.
	changes []render.Change
	// all counts the unit's files, unchanged ones included; created and
	// deleted those the plan creates and deletes.
	all, created, deleted int
}

// unitsOf groups the plan's changes by service and environment, in the
// order of each one's first change, leaving out those that write or
// remove no file.
func unitsOf(plan render.PipelinePlan) []*prUnit {
	type key struct {
		environment bool
		name        string
	}
	var all []*prUnit
	index := map[key]*prUnit{}
	for _, c := range plan.Changes {
		k := key{name: c.Service}
		if c.Kind == render.KindEnvironment || c.Kind == render.KindInfrastructure {
			k = key{environment: true, name: c.Environment}
		}
		u := index[k]
		if u == nil {
			u = &prUnit{environment: k.environment, name: k.name, fields: c.Fields}
			index[k] = u
			all = append(all, u)
		}
		u.all++
		switch c.Action {
		case render.ActionCreate:
			u.created++
		case render.ActionDelete:
			u.deleted++
		case render.ActionUpdate:
		default:
			continue
		}
		u.changes = append(u.changes, c)
	}
	out := all[:0]
	for _, u := range all {
		if len(u.changes) > 0 {
			out = append(out, u)
		}
	}
	return out
}

// action is what the unit's file actions amount to.
func (u *prUnit) action() render.Action {
	switch {
	case u.created == u.all:
		return render.ActionCreate
	case u.deleted == u.all:
		return render.ActionDelete
	}
	return render.ActionUpdate
}

// cause says why the unit changes: a cause to count, and the words of its
// row.
func (u *prUnit) cause() (cause, string) {
	action := u.action()
	fields := shapingFields(u.fields)
	switch {
	case u.environment && action == render.ActionDelete:
		return causeRemoval, "environment removed from the settings"
	case u.environment && action == render.ActionCreate:
		return causeSettings, "environment added to the settings"
	case u.environment:
	case action == render.ActionDelete && catalog.WholeService(u.fields, false):
		return causeRemoval, "service removed from the catalog"
	case action == render.ActionDelete && fields != "":
		return causeRemoval, fields
	case action == render.ActionDelete:
		return causeRemoval, "not in the catalog"
	case catalog.WholeService(u.fields, true):
		return causeCatalog, "service added to the catalog"
	case fields != "":
		return causeCatalog, fields
	}
	if p := u.handEdited(); p != "" {
		return causeHandEdit, "hand edit of `" + mdCode(p) + "` undone"
	}
	if !u.environment && action == render.ActionCreate {
		return causeCatalog, "in the catalog, not in this repo yet"
	}
	return causeSettings, "template or settings"
}

// handEdited returns the first file of the unit that merging rewrites
// after it was edited by hand, "" if none.
func (u *prUnit) handEdited() string {
	for _, c := range u.changes {
		if c.Action == render.ActionUpdate && render.HandEdited(c.Old) {
			return c.Path
		}
	}
	return ""
}

// row is the unit's row in a table headed by rowsHead: each file beside
// what merging does to its entity in Harness. held marks the deletes
// that wait for the mass-delete label.
func (u *prUnit) row(held bool) string {
	change := string(u.action())
	switch {
	case held && u.deleted == u.all:
		change += " (waits for the label)"
	case held && u.deleted > 0:
		change += " (its deletes wait for the label)"
	}
	files := make([]string, len(u.changes))
	effects := make([]string, len(u.changes))
	for i, c := range u.changes {
		files[i] = "`" + mdCode(c.Path) + "`"
		effects[i] = fmt.Sprintf("%s %s `%s`", c.Action, kindNoun(c.Kind), mdCode(c.Identifier))
	}
	_, why := u.cause()
	return fmt.Sprintf("| %s | %s | %s | %s | %s |\n", u.label(), change, strings.Join(files, "<br>"), why, strings.Join(effects, "<br>"))
}

// item is the unit in the list of deletes too long to show as rows: its
// name and the kinds it loses.
func (u *prUnit) item() string {
	var lost []string
	for _, c := range u.changes {
		if c.Action == render.ActionDelete {
			lost = append(lost, kindNoun(c.Kind))
		}
	}
	return fmt.Sprintf("- %s: %s\n", u.label(), strings.Join(lost, ", "))
}

// label names the unit: "`name`" or "environment `name`".
func (u *prUnit) label() string {
	if u.environment {
		return "environment `" + mdCode(u.name) + "`"
	}
	return "`" + mdCode(u.name) + "`"
}

// shapingFields lists the changed catalog fields that shape entities, at
// most four, each value cut to 60 characters; "" when there is none.
func shapingFields(fields []catalog.FieldChange) string {
	const most = 4
	var parts []string
	n := 0
	for _, f := range fields {
		if !f.ShapesPipeline {
			continue
		}
		if n++; n <= most {
			parts = append(parts, fmt.Sprintf("`%s`: %s → %s", mdCode(f.Name), fieldValue(f.Old), fieldValue(f.New)))
		}
	}
	if n > most {
		parts = append(parts, fmt.Sprintf("%d more fields", n-most))
	}
	return strings.Join(parts, "; ")
}

// fieldValue shows a catalog value in a table cell, as code: text such
// as <+input> or an HTML comment shows as it is.
func fieldValue(s string) string {
	if s == "" {
		return "—"
	}
	return "`" + mdCode(cutRunes(s, 60)) + "`"
}

// mdCode keeps a value inside one code span of one table cell.
func mdCode(s string) string {
	return strings.ReplaceAll(mdCell(s), "`", "'")
}
