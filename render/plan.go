package render

import (
	"bytes"
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// Action is what a plan does to one entity file.
type Action string

// Plan actions, in the order a plan lists them.
const (
	ActionCreate     Action = "create"      // the file is new
	ActionUpdate     Action = "update"      // the file changes
	ActionDelete     Action = "delete"      // the file goes away
	ActionConfigOnly Action = "config-only" // the service changed, its files did not
	ActionUnchanged  Action = "unchanged"   // nothing changed
)

// actionOrder is the rank of each action in a plan's list.
var actionOrder = map[Action]int{ActionCreate: 0, ActionUpdate: 1, ActionDelete: 2, ActionConfigOnly: 3, ActionUnchanged: 4}

// Change is the plan for one entity file.
type Change struct {
	Kind Kind
	// Identifier is the entity's Harness identifier.
	Identifier string
	// Service is the catalog service the entity belongs to; "" for
	// environments and infrastructure definitions.
	Service string
	// Environment is the settings environment (its name) an environment
	// or infrastructure definition belongs to; "" for the other kinds.
	Environment string
	// EnvironmentRef is an infrastructure definition's environment
	// identifier, PipelineRef a trigger's pipeline identifier: with
	// Identifier, what Harness's API addresses them by.
	EnvironmentRef string
	PipelineRef    string
	Action         Action
	Path           string // the file in the pipelines repo
	// Fields are the catalog fields of the service that changed between
	// the base and head catalogs (every field for an added or removed
	// service). Empty when the catalog entry did not change (for example
	// an update caused by a template or the settings), and for
	// environments and infrastructure definitions.
	Fields []catalog.FieldChange
	// Old is the current file (nil for a create); New the file to write
	// (nil for a delete; the current file, header included, when only the
	// header would differ).
	Old, New []byte
}

// unit returns the key of the unit the change belongs to: a service (its
// Service, pipeline and trigger) or an environment (with its
// infrastructure definitions).
func (c Change) unit() unitKey {
	if c.Kind == KindEnvironment || c.Kind == KindInfrastructure {
		return unitKey{environment: true, name: c.Environment}
	}
	return unitKey{name: c.Service}
}

// unitKey names a unit: a service, or an environment.
type unitKey struct {
	environment bool
	name        string
}

// Counts counts units or files by what a plan does to them.
type Counts struct {
	Create     int `json:"create"`
	Update     int `json:"update"`
	Delete     int `json:"delete"`
	ConfigOnly int `json:"configOnly"`
	Unchanged  int `json:"unchanged"`
}

// add counts one action.
func (c *Counts) add(a Action) {
	switch a {
	case ActionCreate:
		c.Create++
	case ActionUpdate:
		c.Update++
	case ActionDelete:
		c.Delete++
	case ActionConfigOnly:
		c.ConfigOnly++
	default:
		c.Unchanged++
	}
}

// Changed is the number of files (or units) written or removed.
func (c Counts) Changed() int { return c.Create + c.Update + c.Delete }

// FileCounts counts a plan's files of each kind.
type FileCounts struct {
	Services        Counts `json:"services"`
	Environments    Counts `json:"environments"`
	Infrastructures Counts `json:"infrastructures"`
	Pipelines       Counts `json:"pipelines"`
	Triggers        Counts `json:"triggers"`
}

// Of returns the counts of kind k.
func (f FileCounts) Of(k Kind) Counts { return *f.of(k) }

// of returns where the counts of kind k are kept.
func (f *FileCounts) of(k Kind) *Counts {
	switch k {
	case KindService:
		return &f.Services
	case KindEnvironment:
		return &f.Environments
	case KindInfrastructure:
		return &f.Infrastructures
	case KindTrigger:
		return &f.Triggers
	}
	return &f.Pipelines
}

// total sums the counts of every kind.
func (f FileCounts) total() Counts {
	var t Counts
	for _, k := range ApplyOrder {
		c := f.Of(k)
		t.Create += c.Create
		t.Update += c.Update
		t.Delete += c.Delete
		t.ConfigOnly += c.ConfigOnly
		t.Unchanged += c.Unchanged
	}
	return t
}

// Summary counts a plan's changes. Create … Unchanged count services: a
// service's Service, pipeline and trigger change together, as one unit
// whose action is create when all of its files are new, delete when all
// go away, update when any file is written or removed otherwise,
// config-only when only its catalog entry changed, and unchanged
// otherwise. Environments counts environments the same way, each with its
// infrastructure definitions. Files counts the files of each kind.
type Summary struct {
	Create       int        `json:"create"`
	Update       int        `json:"update"`
	Delete       int        `json:"delete"`
	ConfigOnly   int        `json:"configOnly"`
	Unchanged    int        `json:"unchanged"`
	Environments Counts     `json:"environments"`
	Files        FileCounts `json:"files"`
}

// services returns the service counts as Counts.
func (s Summary) services() Counts {
	return Counts{Create: s.Create, Update: s.Update, Delete: s.Delete, ConfigOnly: s.ConfigOnly, Unchanged: s.Unchanged}
}

// Changed is the number of files, of every kind, the plan writes or
// removes.
func (s Summary) Changed() int { return s.Files.total().Changed() }

// PipelinePlan is the ordered list of what a catalog change does to the
// rendered entities: creates, updates, deletes, config-only changes, then
// unchanged files; in each group the services' files by service name, then
// the environments' by environment name, each unit's files in ApplyOrder.
type PipelinePlan struct {
	Changes []Change
	Summary Summary
	// SchemaSkipped is true when the plan was computed without Harness's
	// schema (PlanInput.Schemas was nil): every other check ran, but the
	// new files were not checked against the schema. Callers should tell
	// the user so.
	SchemaSkipped bool
	// ExistingUnits is the number of units that have at least one
	// generated file in PlanInput.Current: services (each with its
	// Service, pipeline and trigger) and environments (each with its
	// infrastructure definitions). With DeletedUnits it decides whether a
	// proposal is a mass delete (catalog.MassDelete).
	ExistingUnits int
}

// DeletedUnits is the number of units (see ExistingUnits) of which the
// plan deletes at least one file. Removing a service counts once, not
// three times; a settings change that removes one region of an
// environment counts that environment, since Harness loses one of its
// infrastructure definitions.
func (p PipelinePlan) DeletedUnits() int {
	seen := map[unitKey]bool{}
	for _, c := range p.Changes {
		if c.Action == ActionDelete {
			seen[c.unit()] = true
		}
	}
	return len(seen)
}

// Writes returns the files a proposal writes: path → new content, nil for a
// delete. Unchanged and config-only files are not included, so an empty
// map means there is nothing to propose.
func (p PipelinePlan) Writes() map[string][]byte {
	out := map[string][]byte{}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate, ActionUpdate:
			out[c.Path] = c.New
		case ActionDelete:
			out[c.Path] = nil
		}
	}
	return out
}

// PlanInput is everything a plan is computed from.
type PlanInput struct {
	// Base and Head are the catalog before and after the change; both
	// must be valid (returned by catalog.Parse without diagnostics).
	Base, Head catalog.Catalog
	Settings   catalog.Settings
	Templates  *Templates
	// Source names the head's commits in the header of new files.
	Source Source
	// Current holds the entity files as they are now, of every kind, by
	// path. Only files KindOfPath names are considered, and of those,
	// files without the generated header (see IsGenerated) are written by
	// hand: a plan never rewrites or deletes them. When Current is nil,
	// the rendering of Base (with BaseSource) stands for it; a non-nil
	// empty map means there is no entity file yet.
	Current    map[string][]byte
	BaseSource Source
	// Schemas are Harness's compiled schemas to check the renderings
	// against; nil skips those checks (see PipelinePlan.SchemaSkipped).
	Schemas *Schemas
}

// Plan computes what going from in.Base to in.Head does to the rendered
// entities: every service's Service, pipeline and trigger, and the
// environments and infrastructure definitions of the settings (all of
// them, whether or not a service deploys there).
//
// Every entity of the head is rendered and compared with its current
// file. One whose new rendering has the same body (see Body) as its
// current file is unchanged, or config-only if its service's catalog
// entry changed, and keeps its current file, header included: a file's
// header names the commit that last changed it, not the latest one. A
// current generated file that the head does not render is deleted. A
// service whose pipeline is disabled on both sides but whose catalog entry
// changed is listed as config-only.
//
// Files written by hand (without the generated header) are never
// rewritten or deleted: a rendered file whose path such a file takes is a
// diagnostic, and its service or environment is left out of the plan.
//
// Diagnostics report what could not be rendered; the plan leaves the
// files of those services and environments alone (no update, no delete),
// so a caller that acts on a plan with diagnostics never deletes an
// entity by mistake.
func Plan(in PlanInput) (PipelinePlan, catalog.Diagnostics) {
	current := in.Current // only the paths KindOfPath names are looked at
	if in.Current == nil {
		// The base was valid when it was merged; an entity of it that no
		// longer renders is missing here and shows as a create.
		current, _ = All(in.Templates, in.Base, Options{Settings: in.Settings, Source: in.BaseSource, Schemas: in.Schemas})
	}
	// Services whose current files were rendered from the same inputs
	// keep them without being rendered again.
	r := renderAll(in.Templates, in.Head, Options{Settings: in.Settings, Source: in.Source, Schemas: in.Schemas}, current)
	r.refuseHandWritten(in.Settings, current)
	pl := &planner{s: in.Settings, current: current, r: r, diff: catalog.Diff(in.Base, in.Head),
		changes: make([]Change, 0, len(r.files)+len(in.Base.Services)/8)}
	pl.fields = make(map[string][]catalog.FieldChange)
	for _, group := range [][]catalog.ServiceChange{pl.diff.Added, pl.diff.Removed, pl.diff.Changed} {
		for _, c := range group {
			pl.fields[c.Name] = c.Fields
		}
	}
	pl.desired(in.Head)
	pl.deletes()
	pl.configOnly()
	return pl.finish(in.Schemas == nil), r.diags
}

// refuseHandWritten leaves out the services and environments one of whose
// rendered files would replace a file written by hand, and says so.
func (r *rendered) refuseHandWritten(s catalog.Settings, current map[string][]byte) {
	var taken []string
	for p := range r.files {
		if old, ok := current[p]; ok && !IsGenerated(old) {
			taken = append(taken, p)
		}
	}
	if len(taken) == 0 {
		return
	}
	slices.Sort(taken)
	envOf := environmentPaths(s)
	for _, p := range taken {
		k, _ := KindOfPath(s, p)
		e, _ := ReadEntity(r.files[p])
		r.diags = append(r.diags, catalog.Diagnostic{File: p, Message: fmt.Sprintf(
			"%s was written by hand (it has no generated header), and the application renders the %s %s at this path: rename or remove the file, and the next plan writes it",
			p, kindNoun(k)[len("the "):], e.Identifier)})
		if env, ok := envOf[p]; ok {
			r.brokenEnvironments[env] = true
		} else {
			r.brokenServices[serviceOfPath(k, p)] = true
		}
	}
	for p := range r.files {
		k, _ := KindOfPath(s, p)
		if env, ok := envOf[p]; ok && r.brokenEnvironments[env] || !ok && r.brokenServices[serviceOfPath(k, p)] {
			delete(r.files, p)
		}
	}
}

// environmentPaths maps the path of every environment and infrastructure
// file the settings render to its environment's name.
func environmentPaths(s catalog.Settings) map[string]string {
	out := map[string]string{}
	for _, env := range s.Environments {
		out[EnvironmentPath(s, env.Name)] = env.Name
		for _, r := range env.Regions {
			out[InfrastructurePath(s, env.Name, r)] = env.Name
		}
	}
	return out
}

// planner computes one plan.
type planner struct {
	s       catalog.Settings
	current map[string][]byte
	r       rendered
	diff    catalog.CatalogDiff
	fields  map[string][]catalog.FieldChange
	changes []Change
}

// file adds the change of one rendered file, comparing it with the
// current one.
func (pl *planner) file(c Change) {
	old, exists := pl.current[c.Path]
	switch {
	case !exists:
		c.Action = ActionCreate
	case bytes.Equal(Body(old), Body(c.New)):
		c.New, c.Old = old, old
		c.Action = ActionUnchanged
		if len(c.Fields) > 0 {
			c.Action = ActionConfigOnly
		}
	default:
		c.Old = old
		c.Action = ActionUpdate
	}
	pl.changes = append(pl.changes, c)
}

// desired adds the changes of every rendered file.
func (pl *planner) desired(head catalog.Catalog) {
	s := pl.s
	for _, svc := range head.Services {
		if !svc.Pipeline.Enabled || pl.r.brokenServices[svc.Name] {
			continue
		}
		n := pl.r.names[svc.Name]
		for _, c := range []Change{
			{Kind: KindService, Identifier: n.serviceID, Path: n.servicePath},
			{Kind: KindPipeline, Identifier: n.pipelineID, Path: n.pipelinePath},
			{Kind: KindTrigger, Identifier: n.triggerID, PipelineRef: n.pipelineID, Path: n.triggerPath},
		} {
			c.Service, c.Fields, c.New = svc.Name, pl.fields[svc.Name], pl.r.files[c.Path]
			pl.file(c)
		}
	}
	for _, env := range s.Environments {
		if pl.r.brokenEnvironments[env.Name] {
			continue
		}
		id := catalog.EnvironmentID(env.Name)
		pl.file(Change{Kind: KindEnvironment, Identifier: id, Environment: env.Name, Path: EnvironmentPath(s, env.Name), New: pl.r.files[EnvironmentPath(s, env.Name)]})
		for _, r := range env.Regions {
			p := InfrastructurePath(s, env.Name, r)
			if file, ok := pl.r.files[p]; ok {
				pl.file(Change{Kind: KindInfrastructure, Identifier: s.InfrastructureID(env, r), Environment: env.Name, EnvironmentRef: id, Path: p, New: file})
			}
		}
	}
}

// deletes adds a delete for every current generated file that the head
// does not render, except those of services and environments left out.
func (pl *planner) deletes() {
	for p, old := range pl.current {
		if _, keep := pl.r.files[p]; keep || !IsGenerated(old) {
			continue
		}
		k, ok := KindOfPath(pl.s, p)
		if !ok {
			continue
		}
		e, _ := ReadEntity(old)
		c := Change{Kind: k, Identifier: e.Identifier, Action: ActionDelete, Path: p, Old: old}
		if k == KindEnvironment || k == KindInfrastructure {
			c.Environment, c.EnvironmentRef = environmentOf(pl.s, e), e.EnvironmentRef
			if pl.r.brokenEnvironments[c.Environment] {
				continue
			}
		} else {
			// A rendered file is named after its service (names that
			// cannot name a file do not render).
			name := serviceOfPath(k, p)
			c.Service, c.Fields, c.PipelineRef = name, pl.fields[name], e.PipelineRef
			if pl.r.brokenServices[name] {
				continue
			}
		}
		if c.Identifier == "" {
			c.Identifier = strings.TrimSuffix(path.Base(p), k.suffix())
		}
		pl.changes = append(pl.changes, c)
	}
}

// configOnly adds the services with no files on either side (disabled in
// both catalogs) whose entry changed: whatever changed, no entity does.
func (pl *planner) configOnly() {
	for _, c := range pl.diff.Changed {
		if c.Old.Pipeline.Enabled || c.New.Pipeline.Enabled {
			continue
		}
		p := PipelinePath(pl.s, c.Name)
		if _, inCurrent := pl.current[p]; inCurrent {
			continue // a leftover file: deleted above
		}
		pl.changes = append(pl.changes, Change{Kind: KindPipeline, Identifier: Identifier(c.Name + "_cd"), Service: c.Name, Action: ActionConfigOnly, Path: p, Fields: c.Fields})
	}
}

// finish sorts the changes and counts them.
func (pl *planner) finish(schemaSkipped bool) PipelinePlan {
	plan := PipelinePlan{Changes: pl.changes, SchemaSkipped: schemaSkipped, ExistingUnits: existingUnits(pl.s, pl.current)}
	slices.SortFunc(plan.Changes, func(a, b Change) int {
		ua, ub := a.unit(), b.unit()
		return cmp.Or(
			cmp.Compare(actionOrder[a.Action], actionOrder[b.Action]),
			boolCompare(ua.environment, ub.environment),
			strings.Compare(ua.name, ub.name),
			cmp.Compare(applyRank[a.Kind], applyRank[b.Kind]),
			strings.Compare(a.Path, b.Path),
		)
	})
	var services, envs Counts
	for k, t := range unitTallies(plan.Changes) {
		if k.environment {
			envs.add(t.action())
		} else {
			services.add(t.action())
		}
	}
	plan.Summary = Summary{Create: services.Create, Update: services.Update, Delete: services.Delete, ConfigOnly: services.ConfigOnly, Unchanged: services.Unchanged, Environments: envs}
	for _, c := range plan.Changes {
		plan.Summary.Files.of(c.Kind).add(c.Action)
	}
	return plan
}

// boolCompare orders false before true.
func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// existingUnits counts the units that have a generated file in current.
func existingUnits(s catalog.Settings, current map[string][]byte) int {
	seen := map[unitKey]bool{}
	envOf := environmentPaths(s)
	for p, b := range current {
		k, ok := KindOfPath(s, p)
		if !ok || !IsGenerated(b) {
			continue
		}
		switch env, known := envOf[p]; {
		case known:
			seen[unitKey{environment: true, name: env}] = true
		case k == KindEnvironment || k == KindInfrastructure:
			e, _ := ReadEntity(b)
			seen[unitKey{environment: true, name: environmentOf(s, e)}] = true
		default:
			seen[unitKey{name: serviceOfPath(k, p)}] = true
		}
	}
	return len(seen)
}

// planUnit is one unit of a plan that changes: its changes other than
// unchanged files, in plan order, and the action they amount to.
type planUnit struct {
	key     unitKey
	action  Action
	changes []Change
	fields  []catalog.FieldChange
}

// units groups the plan's changes by unit, in the order of each unit's
// first change, leaving out the units that do not change.
func (p PipelinePlan) units() []planUnit {
	var out []planUnit
	index := map[unitKey]int{}
	for _, c := range p.Changes {
		k := c.unit()
		if c.Action == ActionUnchanged {
			continue
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, planUnit{key: k, fields: c.Fields})
		}
		out[i].changes = append(out[i].changes, c)
	}
	tallies := unitTallies(p.Changes)
	for i := range out {
		out[i].action = tallies[out[i].key].action()
	}
	return out
}

// unitTallies counts the file actions of each unit (a service with its
// files, an environment with its infrastructure definitions) in changes.
func unitTallies(changes []Change) map[unitKey]*Counts {
	tallies := map[unitKey]*Counts{}
	for _, c := range changes {
		k := c.unit()
		t := tallies[k]
		if t == nil {
			t = &Counts{}
			tallies[k] = t
		}
		t.add(c.Action)
	}
	return tallies
}

// action is what a unit's file actions, counted in c, amount to.
func (c Counts) action() Action {
	total := c.Create + c.Update + c.Delete + c.ConfigOnly + c.Unchanged
	switch {
	case c.Create == total:
		return ActionCreate
	case c.Delete == total:
		return ActionDelete
	case c.Changed() > 0:
		return ActionUpdate
	case c.ConfigOnly > 0:
		return ActionConfigOnly
	}
	return ActionUnchanged
}

// Diff returns the unified diff of the file; "" when it does not change.
// It is computed on each call, not with the plan: a check run shows only
// the diffs that fit in it, and a plan of thousands of new files would
// otherwise hold a diff of each.
func (c Change) Diff() string {
	switch c.Action {
	case ActionCreate, ActionUpdate, ActionDelete:
		return unified(c.Path, c.Old, c.New)
	}
	return ""
}

// unified returns the unified diff between two versions of a file.
func unified(p string, old, new []byte) string {
	from, to := "a/"+p, "b/"+p
	if old == nil {
		from = "/dev/null"
	}
	if new == nil {
		to = "/dev/null"
	}
	return udiff.Unified(from, to, string(old), string(new))
}
