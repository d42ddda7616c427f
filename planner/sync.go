package planner

import (
	"fmt"
	"sort"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// ServicePath finds a service's pipeline file among files (path → blob):
// the path the store knows if it still exists, else the file named after
// the service; "" when there is none.
func ServicePath(files map[string]string, service, known string) string {
	if _, ok := files[known]; ok && known != "" {
		return known
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if ServiceOfPath(p) == service {
			return p
		}
	}
	return ""
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
	// State is the service's state; Known says whether the store has one.
	State record.PipelineState
	Known bool
	// Head is the pipelines commit read; Path the service's pipeline file
	// there (ServicePath), "" when it has none; Blob its blob SHA.
	Head, Path, Blob string
	// Content is the file at Path, or, when Path is "", the last applied
	// file (Blob is then State.ContentHash); nil when unknown.
	Content []byte
	// HeldDelete: a delete of the service's pipeline waits for the
	// mass-delete label.
	HeldDelete bool
	// Run makes the operation's key unique.
	Run           string
	PipelinesRepo gh.Repo
}

// SyncPlan is what an admin sync enqueues: Op is nil when there is nothing
// to apply (the propose run queued beside it takes care of the rest);
// State, when set, is recorded before the operation is enqueued.
type SyncPlan struct {
	Op    *record.Operation
	State *record.PipelineState
}

// Sync plans the operation that applies the service's pipeline file at the
// pipelines repo's head to Harness again, even if the same change was
// applied before (a create or an update, by what the store knows). When
// the file is gone but the pipeline was applied, the operation is a
// delete; a held delete is never bypassed. A service known neither to the
// store nor to the pipelines repo is refused as not found.
func Sync(in SyncInput) (SyncPlan, error) {
	st := in.State
	if in.Path == "" {
		if !in.Known {
			return SyncPlan{}, &Refusal{NotFound: true, Message: fmt.Sprintf("unknown service %q: not in the store and no pipeline file for it in %s", in.Service, in.PipelinesRepo)}
		}
		if !WasApplied(st) {
			return SyncPlan{}, nil // rendered, never merged: the propose run takes care of it
		}
		if in.HeldDelete {
			return SyncPlan{}, &Refusal{Message: fmt.Sprintf("the delete of %s is held until the bot PR carries the label %s; an admin sync does not bypass it",
				st.Pipeline, gh.MassDeleteLabel)}
		}
		op := NewOperation(Op{
			Kind: record.KindDelete, Pipeline: st.Pipeline, Service: in.Service, Path: st.Path,
			Commit: in.Head, ConfigCommit: st.LastRenderedCommit, Blob: st.ContentHash, YAML: in.Content,
			Reason: "admin sync: " + st.Path + " is no longer in the pipelines repo", Cause: FromAdminSync, Run: in.Run,
		})
		st.HarnessState, st.LastError = record.HarnessPending, ""
		return SyncPlan{Op: &op, State: &st}, nil
	}

	meta, err := render.ReadMeta(in.Content)
	if err != nil {
		return SyncPlan{}, &Refusal{Message: fmt.Sprintf("%s at %s@%s is not a pipeline the app can apply: %v",
			in.Path, in.PipelinesRepo, gh.ShortSHA(in.Head), err)}
	}
	kind := record.KindCreate
	if in.Known && st.ContentHash != "" && st.HarnessState != record.HarnessDeleted {
		kind = record.KindUpdate
	}
	op := NewOperation(Op{
		Kind: kind, Pipeline: meta.Identifier, Service: in.Service, Path: in.Path,
		Commit: in.Head, ConfigCommit: meta.CatalogCommit, Blob: in.Blob, YAML: in.Content,
		Reason: "admin sync of " + in.Path, Cause: FromAdminSync, Run: in.Run,
	})
	plan := SyncPlan{Op: &op}
	switch {
	case !in.Known:
		// A file the store never saw: record it as apply would.
		plan.State = &record.PipelineState{
			Service: in.Service, Pipeline: meta.Identifier, Path: in.Path, ContentHash: in.Blob,
			Archetype: meta.Tags["archetype"], Team: meta.Tags["team"], LastRenderedCommit: meta.CatalogCommit,
			HarnessState: record.HarnessPending,
		}
	case st.Pipeline == meta.Identifier:
		// The rest of the state (what was applied from which file) is
		// apply's: a rename or a newer file is still its to handle.
		st.HarnessState, st.LastError = record.HarnessPending, ""
		plan.State = &st
	}
	return plan, nil
}
