package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ServiceFiles returns a service's entity files among files (path →
// blob): its Service, pipeline and trigger, found by the service their
// path is named after.
func ServiceFiles(s catalog.Settings, files map[string]string, service string) map[string]string {
	out := map[string]string{}
	for p, sha := range files {
		if render.ServiceOfPath(s, p) == service {
			out[p] = sha
		}
	}
	return out
}

// WasApplied reports whether the service's pipeline may be in Harness: a
// file of it was applied (or is being removed), and it was not deleted.
func WasApplied(st record.PipelineState) bool {
	return st.HarnessState != record.HarnessDeleted && (st.ContentHash != "" || st.LastAppliedCommit != "")
}

// Refusal is a request the planner turns down, with the reason a person
// reads.
type Refusal struct {
	// NotFound: the subject is unknown; otherwise it conflicts with the
	// current state.
	NotFound bool
	Message  string
}

func (r *Refusal) Error() string { return r.Message }

// SyncInput is what an admin sync of one service plans from.
type SyncInput struct {
	Service string
	// State is the service's pipeline state; Known says whether the store
	// has one.
	State record.PipelineState
	Known bool
	// Applied are the service's entity files the store says are applied.
	Applied []record.EntityState
	// Head is the pipelines commit read; Files the service's entity files
	// there (ServiceFiles, path → blob).
	Head  string
	Files map[string]string
	// Contents are the blobs of Files and of Applied.
	Contents map[string][]byte
	// Held are the service's entities whose delete waits for the
	// mass-delete label.
	Held map[EntityID]bool
	// FailedDeletes are the service's deletes that failed and were not
	// followed by another operation on their entity: the entity may still
	// be in Harness.
	FailedDeletes []record.Operation
	// Run makes the operations' keys unique.
	Run           string
	Settings      catalog.Settings
	PipelinesRepo gh.Repo
}

// SyncPlan is what an admin sync enqueues: Ops are empty when there is
// nothing to apply (the propose run queued beside it takes care of the
// rest); State, when set, is recorded before the operations are enqueued.
type SyncPlan struct {
	Ops   []record.Operation
	State *record.PipelineState
}

// Sync plans the operations that apply the service's entity files at the
// pipelines repo's head to Harness again (its Service, pipeline and
// trigger), even if the same change was applied before, and delete the
// entities whose files are gone but which may still be in Harness
// (applied, or their delete failed). A service with a held delete is
// refused: the hold is never bypassed.
// A service known neither to the store nor to the pipelines repo is
// refused as not found; a file that is not an entity of its directory's
// kind is refused.
func Sync(in SyncInput) (SyncPlan, error) {
	if len(in.Files) == 0 && len(in.Applied) == 0 && !in.Known {
		return SyncPlan{}, &Refusal{NotFound: true, Message: fmt.Sprintf(
			"unknown service %q: not in the store and no file of it in %s", in.Service, in.PipelinesRepo)}
	}
	applied := map[EntityID]record.EntityState{}
	for _, st := range in.Applied {
		applied[stateID(st)] = st
	}
	var ops []Op
	wanted := map[EntityID]bool{}
	var pipeline *render.Entity
	for _, p := range sortedPaths(in.Files) {
		e, err := render.ReadEntity(in.Contents[in.Files[p]])
		if k, _ := render.KindOfPath(in.Settings, p); err == nil && k != e.Kind {
			err = fmt.Errorf("the file holds a %s, but files in this directory are %ss", e.Kind, k)
		}
		if err != nil {
			return SyncPlan{}, &Refusal{Message: fmt.Sprintf("%s at %s@%s is not an entity the app can apply: %v",
				p, in.PipelinesRepo, gh.ShortSHA(in.Head), err)}
		}
		id := EntityID{e.Kind, e.Identifier, parentOf(e)}
		wanted[id] = true
		kind := record.KindCreate
		if _, ok := applied[id]; ok {
			kind = record.KindUpdate
		}
		ops = append(ops, Op{
			Kind: kind, Entity: e.Kind, Identifier: e.Identifier, Parent: id.Parent, Service: in.Service, Path: p,
			Commit: in.Head, ConfigCommit: e.CatalogCommit, Blob: in.Files[p], YAML: in.Contents[in.Files[p]],
			Reason: "admin sync of " + p, Cause: FromAdminSync, Run: in.Run,
		})
		if e.Kind == render.KindPipeline {
			pipeline = &e
		}
	}
	if len(in.Held) > 0 {
		var held []string
		for _, id := range sortedIDs(in.Held) {
			held = append(held, id.String())
		}
		return SyncPlan{}, &Refusal{Message: fmt.Sprintf("the delete of %s is held until the bot PR carries the label %s; an admin sync does not bypass it",
			strings.Join(held, ", "), gh.MassDeleteLabel)}
	}
	for _, id := range sortedIDs(applied) {
		if st := applied[id]; !wanted[id] {
			ops = append(ops, Op{
				Kind: record.KindDelete, Entity: id.Kind, Identifier: id.Identifier, Parent: id.Parent, Service: in.Service,
				Path: st.Path, Commit: in.Head, ConfigCommit: st.LastRenderedCommit, Blob: st.ContentHash,
				YAML: in.Contents[st.ContentHash], Reason: "admin sync: " + st.Path + " is no longer in the pipelines repo",
				Cause: FromAdminSync, Run: in.Run,
			})
			wanted[id] = true // deleted once
		}
	}
	for _, f := range in.FailedDeletes {
		if id := IDOf(f); !wanted[id] {
			ops = append(ops, Op{
				Kind: record.KindDelete, Entity: id.Kind, Identifier: id.Identifier, Parent: id.Parent, Service: in.Service,
				Path: f.Path, Commit: in.Head, ConfigCommit: f.ConfigCommit, Blob: strings.TrimPrefix(f.ContentHash, string(FromRemoval)+":"),
				YAML: f.YAML, Reason: "admin sync: the delete of " + id.String() + " failed, and " + f.Path + " is no longer in the pipelines repo",
				Cause: FromAdminSync, Run: in.Run,
			})
			wanted[id] = true
		}
	}
	if len(ops) == 0 {
		return SyncPlan{}, nil // rendered, never merged: the propose run takes care of it
	}
	appliedByPath := map[string]record.EntityState{}
	for _, st := range in.Applied {
		appliedByPath[st.Path] = st
	}
	return SyncPlan{Ops: orderOps(ops, appliedByPath, ManagedConnector(in.Settings)), State: syncState(in, pipeline)}, nil
}

// syncState is the service's pipeline state to record before a sync's
// operations: pending again when the sync applies the pipeline the state
// is about or deletes it, and a new state for a pipeline file the store
// never saw. A rename stays apply's to record.
func syncState(in SyncInput, pipeline *render.Entity) *record.PipelineState {
	st := in.State
	switch {
	case pipeline == nil && WasApplied(st):
		st.HarnessState, st.LastError = record.HarnessPending, ""
		return &st
	case pipeline == nil:
		return nil
	case !in.Known:
		for p, sha := range in.Files {
			if k, _ := render.KindOfPath(in.Settings, p); k == render.KindPipeline {
				st = pipelineApplied(record.PipelineState{}, in.Service, p, sha, *pipeline)
			}
		}
		return &st
	case st.Pipeline == pipeline.Identifier:
		st.HarnessState, st.LastError = record.HarnessPending, ""
		return &st
	}
	return nil
}

func sortedPaths(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
