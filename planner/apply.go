package planner

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ApplyDiff is what apply must read before it plans: which entity files
// differ from what was last applied.
type ApplyDiff struct {
	// Applied is what is applied, by path.
	Applied map[string]record.EntityState
	// Changed are the files whose content differs from what was applied
	// there (new files included); Removed the applied files that are gone.
	Changed, Removed []string
	// Blobs are the contents apply needs: the changed files, and the
	// removed ones (they name the org and project their entity lives in).
	Blobs []string
}

// DiffApplied compares the entity files of a pipelines commit (path →
// blob SHA, snapshot.Pipelines.EntityFiles) with what the store says is
// applied. It compares with the last applied state, not with a push's
// before..after, so duplicate, late, reordered or force pushes all
// converge alike.
func DiffApplied(files map[string]string, applied []record.EntityState) ApplyDiff {
	d := ApplyDiff{Applied: make(map[string]record.EntityState, len(applied))}
	for _, st := range applied {
		if st.ContentHash != "" && st.Path != "" {
			d.Applied[st.Path] = st
		}
	}
	for p, sha := range files {
		if d.Applied[p].ContentHash != sha {
			d.Changed = append(d.Changed, p)
		}
	}
	for p := range d.Applied {
		if _, ok := files[p]; !ok {
			d.Removed = append(d.Removed, p)
		}
	}
	sort.Strings(d.Changed)
	sort.Strings(d.Removed)
	for _, p := range d.Changed {
		d.Blobs = append(d.Blobs, files[p])
	}
	for _, p := range d.Removed {
		d.Blobs = append(d.Blobs, d.Applied[p].ContentHash)
	}
	return d
}

// ApplyInput is everything apply plans from.
type ApplyInput struct {
	Diff ApplyDiff
	// Head is the pipelines commit applied; Files its entity files.
	Head  string
	Files map[string]string
	// Contents are the blobs Diff.Blobs named.
	Contents map[string][]byte
	// Services are the services' pipeline states, by service: apply keeps
	// them up to date for the pipelines it changes.
	Services   map[string]record.PipelineState
	Settings   catalog.Settings
	ConfigRepo gh.Repo
	// Connector is the cross-org GitHub connector the settings and the
	// App's installation call for; nil when it is unknown (the App is not
	// installed where the manifests are) or not the application's to
	// manage. ConnectorApplied is the connector as apply last enqueued it.
	Connector        *DesiredConnector
	ConnectorApplied record.ConnectorState
}

// ApplyPlan is what apply enqueues and records.
type ApplyPlan struct {
	// Ops are in the order Harness must receive them: creates and updates
	// in render.ApplyOrder, then deletes in the reverse order, each
	// waiting (Operation.After) for the entities it depends on.
	Ops []record.Operation
	// Entities are the entity files now applied; Gone the paths no longer
	// applied.
	Entities []record.EntityState
	Gone     []string
	// States are the services' pipeline states to record with the
	// operations.
	States []record.PipelineState
	// Unreadable lists the changed files that are not entities the app
	// can apply, with why.
	Unreadable []string
	// ConfigCommits are the config commits behind the changes, sorted: they
	// get a harness check run too.
	ConfigCommits []string
	// Deletes is the number of delete operations; DeletedUnits and
	// ExistingUnits count services and environments (see
	// render.PipelinePlan.ExistingUnits) for the mass-delete threshold.
	Deletes, DeletedUnits, ExistingUnits int
	// MassDelete: the deletes cross the settings' threshold; they wait for
	// the mass-delete label unless Hold is not called.
	MassDelete bool
	// Held: the deletes wait for the mass-delete label (Hold).
	Held bool
	// Connector is the connector to record as enqueued (with the
	// operations); nil when it did not change.
	Connector *record.ConnectorState
}

// Hold makes the plan's deletes wait for the mass-delete label.
func (p *ApplyPlan) Hold() {
	p.Held = true
	for i := range p.Ops {
		if p.Ops[i].Kind == record.KindDelete {
			p.Ops[i].State = record.OpHeld
		}
	}
}

// EntityID is an entity's identity in Harness: its kind, identifier and
// parent (the environment of an infrastructure definition, the pipeline
// of a trigger).
type EntityID struct {
	Kind               render.Kind
	Identifier, Parent string
}

func (id EntityID) String() string {
	if id.Parent != "" {
		return fmt.Sprintf("%s %s/%s", id.Kind, id.Parent, id.Identifier)
	}
	return fmt.Sprintf("%s %s", id.Kind, id.Identifier)
}

// IDOf is the entity an operation changes.
func IDOf(op record.Operation) EntityID {
	kind := render.Kind(op.Entity)
	if kind == "" {
		kind = render.KindPipeline
	}
	return EntityID{kind, op.Identifier, op.Parent}
}

func stateID(st record.EntityState) EntityID {
	return EntityID{render.Kind(st.Kind), st.Identifier, st.Parent}
}

func parentOf(e render.Entity) string {
	switch e.Kind {
	case render.KindInfrastructure:
		return e.EnvironmentRef
	case render.KindTrigger:
		return e.PipelineRef
	}
	return ""
}

// readChanged reads the changed files: the entities to create or update,
// by path, and why the others cannot be applied. A file must hold the kind
// of its directory, and two files must not define the same entity (then
// neither is applied: which one Git means is unknown).
func readChanged(in ApplyInput) (map[string]render.Entity, []string) {
	read := map[string]render.Entity{}
	var unreadable []string
	for _, p := range in.Diff.Changed {
		e, err := render.ReadEntity(in.Contents[in.Files[p]])
		if err != nil {
			unreadable = append(unreadable, fmt.Sprintf("`%s`: %v", p, err))
			continue
		}
		if k, _ := render.KindOfPath(in.Settings, p); k != e.Kind {
			unreadable = append(unreadable, fmt.Sprintf("`%s`: the file holds a %s (%s:), but files in %s/ are %ss",
				p, e.Kind, e.Kind.RootKey(), path.Dir(p), k))
			continue
		}
		read[p] = e
	}
	// Every entity Git has: the unchanged files as applied, the changed
	// ones as read.
	defined := map[EntityID][]string{}
	for p, st := range in.Diff.Applied {
		if _, changed := read[p]; !changed && in.Files[p] == st.ContentHash {
			defined[stateID(st)] = append(defined[stateID(st)], p)
		}
	}
	for p, e := range read {
		id := EntityID{e.Kind, e.Identifier, parentOf(e)}
		defined[id] = append(defined[id], p)
	}
	for id, paths := range defined {
		if len(paths) < 2 {
			continue
		}
		sort.Strings(paths)
		for _, p := range paths {
			if _, ok := read[p]; ok {
				delete(read, p)
				unreadable = append(unreadable, fmt.Sprintf("`%s`: %s is defined by %d files (%s); none of them is applied until one is left",
					p, id, len(paths), strings.Join(paths, ", ")))
			}
		}
	}
	sort.Strings(unreadable)
	return read, unreadable
}

// Apply plans one operation per changed entity file (create or update,
// and a delete of the old entity when the file now defines another one),
// one delete per removed file whose entity no other file defines, and
// the connector's create or update when it differs from what was last
// enqueued.
// Operations are ordered and linked so that Harness receives each entity
// after those it refers to, and deletes before those they referred to.
// MassDelete says whether the deletes cross the settings' threshold: the
// caller then holds them (Hold) unless the label allows them.
func Apply(in ApplyInput) ApplyPlan {
	read, unreadable := readChanged(in)
	a := applier{in: in, plan: ApplyPlan{Unreadable: unreadable}, wanted: map[EntityID]bool{}, applied: map[EntityID]bool{},
		commits: map[string]bool{}, removedUnits: map[string]bool{}}
	for p, st := range in.Diff.Applied {
		a.applied[stateID(st)] = true
		if _, present := in.Files[p]; present {
			if _, changed := read[p]; !changed {
				a.wanted[stateID(st)] = true
			}
		}
	}
	for _, e := range read {
		a.wanted[EntityID{e.Kind, e.Identifier, parentOf(e)}] = true
	}
	for _, p := range in.Diff.Changed {
		if e, ok := read[p]; ok {
			a.write(p, e)
		}
	}
	for _, p := range in.Diff.Removed {
		a.remove(p)
	}
	if op, st := connectorOp(in.Connector, in.ConnectorApplied, in.Head); op != nil {
		a.ops, a.plan.Connector = append(a.ops, *op), st
	}
	plan := a.plan
	plan.Ops = orderOps(a.ops, in.Diff.Applied, ManagedConnector(in.Settings))
	plan.countDeletes(in, len(a.removedUnits))
	for c := range a.commits {
		plan.ConfigCommits = append(plan.ConfigCommits, c)
	}
	sort.Strings(plan.ConfigCommits)
	return plan
}

// applier gathers what Apply plans.
type applier struct {
	in   ApplyInput
	plan ApplyPlan
	ops  []Op
	// wanted are the entities Git defines now; applied those the store
	// says were applied, at any path.
	wanted, applied map[EntityID]bool
	commits         map[string]bool // config commits behind the changes
	removedUnits    map[string]bool // units a removed file belonged to
}

// write plans the create or update of the entity e that the changed file
// p defines, and the delete of the entity p defined before, if Git no
// longer has it.
func (a *applier) write(p string, e render.Entity) {
	in := a.in
	blob, prev := in.Files[p], in.Diff.Applied[p]
	id := EntityID{e.Kind, e.Identifier, parentOf(e)}
	service := e.Service
	if service == "" {
		service = render.ServiceOfPath(in.Settings, p)
	}
	kind := record.KindCreate
	if a.applied[id] {
		kind = record.KindUpdate // here or, before a move, at another path
	}
	if prev.ContentHash != "" && stateID(prev) != id && !a.wanted[stateID(prev)] {
		a.ops = append(a.ops, deleteOf(prev, in, "the file "+p+" now defines "+id.String(), FromRename))
	}
	a.ops = append(a.ops, Op{
		Kind: kind, Entity: e.Kind, Identifier: e.Identifier, Parent: id.Parent, Service: service, Path: p,
		Commit: in.Head, ConfigCommit: e.CatalogCommit, Blob: blob, YAML: in.Contents[blob],
		Reason: "changed in " + p, Cause: FromApply,
	})
	if e.CatalogCommit != "" && in.ConfigRepo.Is(e.CatalogRepo) {
		a.commits[e.CatalogCommit] = true
	}
	a.plan.Entities = append(a.plan.Entities, record.EntityState{Path: p, Kind: string(e.Kind), Identifier: e.Identifier,
		Parent: id.Parent, Service: service, ContentHash: blob, LastRenderedCommit: e.CatalogCommit})
	if e.Kind == render.KindPipeline {
		a.plan.States = append(a.plan.States, pipelineApplied(in.Services[service], service, p, blob, e))
	}
}

// remove plans the delete of the entity the removed file p defined,
// unless another file defines it now.
func (a *applier) remove(p string) {
	prev := a.in.Diff.Applied[p]
	a.plan.Gone = append(a.plan.Gone, p)
	if a.wanted[stateID(prev)] {
		return // another file defines it now: nothing to delete
	}
	a.ops = append(a.ops, deleteOf(prev, a.in, "removed from "+path.Dir(p), FromRemoval))
	a.removedUnits[unitOf(render.Kind(prev.Kind), prev.Identifier, prev.Parent, prev.Service)] = true
	if prev.LastRenderedCommit != "" {
		a.commits[prev.LastRenderedCommit] = true
	}
	if st, ok := a.in.Services[prev.Service]; ok && prev.Kind == string(render.KindPipeline) && st.Pipeline == prev.Identifier {
		st.ContentHash, st.HarnessState, st.LastError = "", record.HarnessPending, ""
		a.plan.States = append(a.plan.States, st)
	}
}

// deleteOf is the delete of the entity an applied file defined.
func deleteOf(prev record.EntityState, in ApplyInput, reason string, cause Cause) Op {
	return Op{
		Kind: record.KindDelete, Entity: render.Kind(prev.Kind), Identifier: prev.Identifier, Parent: prev.Parent,
		Service: prev.Service, Path: prev.Path, Commit: in.Head, ConfigCommit: prev.LastRenderedCommit,
		Blob: prev.ContentHash, YAML: in.Contents[prev.ContentHash], Reason: reason, Cause: cause,
	}
}

// pipelineApplied is a service's pipeline state once the pipeline file p
// (blob) is being applied.
func pipelineApplied(st record.PipelineState, service, p, blob string, e render.Entity) record.PipelineState {
	st.Service, st.Pipeline, st.Path, st.ContentHash = service, e.Identifier, p, blob
	st.HarnessState, st.LastError = record.HarnessPending, ""
	if e.CatalogCommit != "" {
		st.LastRenderedCommit = e.CatalogCommit
	}
	if st.Archetype == "" {
		st.Archetype = e.Tags["archetype"]
	}
	if st.Team == "" {
		st.Team = e.Tags["team"]
	}
	return st
}

// unitOf names the unit an entity belongs to: its service, or for an
// environment and its infrastructure definitions the environment.
func unitOf(kind render.Kind, identifier, parent, service string) string {
	switch {
	case service != "":
		return "service " + service
	case kind == render.KindEnvironment:
		return "environment " + identifier
	case kind == render.KindInfrastructure:
		return "environment " + parent
	}
	return string(kind) + " " + identifier
}

// countDeletes counts the plan's deletes and the units that exist, and
// applies the mass-delete threshold to the units whose files were removed
// (a file that now defines another entity replaces it: as the bot PR
// showed, an update).
func (p *ApplyPlan) countDeletes(in ApplyInput, removedUnits int) {
	existing := map[string]bool{}
	for _, st := range in.Diff.Applied {
		existing[unitOf(render.Kind(st.Kind), st.Identifier, st.Parent, st.Service)] = true
	}
	for _, op := range p.Ops {
		if op.Kind == record.KindDelete {
			p.Deletes++
		}
	}
	p.DeletedUnits, p.ExistingUnits = removedUnits, len(existing)
	s := in.Settings.MassDelete
	p.MassDelete = IsMassDelete(s.MaxCount, s.MaxPercent, p.DeletedUnits, p.ExistingUnits)
}

// MassDeleteAllowed reports whether the mass-delete label allows the
// deletes: on the most recent bot PR, or on a merged bot PR that an event
// behind this run is about (the label may be added after the merge, when
// the app has already opened the next bot PR). labelled are those merged
// PRs, read by the caller; only the bot PR's label counts (from repo's
// own sync branch and opened by a bot: a fork's branch of the same name
// does not).
func MassDeleteAllowed(repo gh.Repo, last *gh.PullRequest, labelled []gh.PullRequest) bool {
	if last != nil && last.HasLabel(gh.MassDeleteLabel) {
		return true
	}
	for _, pr := range labelled {
		if pr.Merged && pr.IsBotPR(repo, "") && pr.HasLabel(gh.MassDeleteLabel) {
			return true
		}
	}
	return false
}
