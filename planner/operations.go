package planner

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// Op describes one change to one Harness entity, in the planners' terms.
type Op struct {
	Kind record.OperationKind
	// Entity is the kind of entity; Identifier its Harness identifier;
	// Parent the environment of an infrastructure definition or the
	// pipeline of a trigger.
	Entity             render.Kind
	Identifier, Parent string
	// After are the entities (record.EntityKey) whose earlier operations
	// must finish first.
	After   []string
	Service string
	Path    string // file in the pipelines repository
	// Commit is the pipelines commit the change comes from; ConfigCommit
	// the config commit behind it, when known.
	Commit, ConfigCommit string
	// Blob is the git blob SHA of the file applied (for a delete: of the
	// file that is gone, when known).
	Blob string
	// YAML is the file to apply; for a delete, the removed file when it is
	// known (it names the org and project the entity lives in).
	YAML []byte
	// Org and Project name the entity's scope for a delete whose file is
	// unknown.
	Org, Project string
	Reason       string
	// Cause says where the change comes from: it decides the operation's
	// key and content hash (see NewOperation).
	Cause Cause
	// Run makes the key of a change that must run even if the same change
	// ran before (a drift repair, an admin sync): unique per run.
	Run string
	// Held makes the operation wait for ReleaseHeld (a mass delete).
	Held bool
}

// Cause is where an operation comes from.
type Cause string

// Causes of operations.
const (
	FromApply     Cause = "apply"      // a pipelines commit changed the file
	FromRename    Cause = "renamed"    // the file now defines another pipeline: the old one goes
	FromRemoval   Cause = "deleted"    // the file was removed
	FromReconcile Cause = "reconcile"  // Harness drifted from Git
	FromExtra     Cause = "extra"      // a managed pipeline Git no longer has
	FromAdminSync Cause = "admin-sync" // an operator asked for it
)

// NewOperation builds the operation for o. Its key makes enqueueing
// idempotent: a change caused by a commit has the default key (entity,
// kind, commit, content hash), so replaying an apply of the same commit
// enqueues nothing; a change that must run again whatever ran before (a
// drift repair, an admin sync) gets a key naming its run. A delete whose
// file is unknown gets a minimal document naming the entity and its
// scope.
func NewOperation(o Op) record.Operation {
	if o.Entity == "" {
		o.Entity = render.KindPipeline
	}
	op := record.Operation{
		Entity: string(o.Entity), Identifier: o.Identifier, Parent: o.Parent, After: o.After,
		Service: o.Service, Path: o.Path, Kind: o.Kind,
		Commit: o.Commit, ConfigCommit: o.ConfigCommit, YAML: o.YAML, Reason: o.Reason,
	}
	entity := record.EntityKey(op.Entity, o.Identifier)
	if o.Parent != "" {
		entity += "@" + o.Parent
	}
	switch o.Cause {
	case FromApply:
		op.ContentHash = o.Blob
	case FromRename, FromRemoval:
		op.ContentHash = string(o.Cause) + ":" + o.Blob
	case FromReconcile:
		op.ContentHash = o.Blob
		op.Key = strings.Join([]string{"reconcile", entity, o.Blob, o.Run}, "|")
	case FromExtra:
		op.ContentHash = "extra"
		op.Key = strings.Join([]string{"reconcile", entity, "delete", o.Run}, "|")
	case FromAdminSync:
		op.ContentHash = o.Blob
		if o.Kind == record.KindDelete {
			op.ContentHash = "admin-sync-delete:" + o.Blob
		}
		op.Key = strings.Join([]string{"admin-sync", entity, string(o.Kind), o.Commit, o.Run}, "|")
	}
	if o.Kind == record.KindDelete && op.YAML == nil {
		op.YAML = deleteDoc(o)
	}
	if o.Held {
		op.State = record.OpHeld
	}
	return op
}

// deleteDoc is the minimal document that names an entity to delete whose
// file is unknown: its root key, identifier, parent and scope.
func deleteDoc(o Op) []byte {
	doc := fmt.Sprintf("%s:\n  identifier: %s\n", o.Entity.RootKey(), o.Identifier)
	switch o.Entity {
	case render.KindInfrastructure:
		doc += fmt.Sprintf("  environmentRef: %s\n", o.Parent)
	case render.KindTrigger:
		doc += fmt.Sprintf("  pipelineIdentifier: %s\n", o.Parent)
	}
	if o.Org != "" && o.Project != "" {
		doc += fmt.Sprintf("  orgIdentifier: %s\n  projectIdentifier: %s\n", o.Org, o.Project)
	}
	return []byte(doc)
}

// IsRepair reports whether op repairs drift (a reconcile queued it).
func IsRepair(op record.Operation) bool { return strings.HasPrefix(op.Key, "reconcile|") }

// PlanIsMassDelete applies the settings' mass-delete threshold to a
// rendered plan, counting units (a service with its Service, pipeline and
// trigger; an environment with its infrastructure definitions), not
// files: the one rule the server's propose and preview and the offline
// plan share.
func PlanIsMassDelete(s catalog.Settings, plan render.PipelinePlan) bool {
	return IsMassDelete(s.MassDelete.MaxCount, s.MassDelete.MaxPercent, plan.DeletedUnits(), plan.ExistingUnits)
}

// IsMassDelete applies the settings' threshold: more than maxCount
// deletes, or more than maxPercent percent of the existing units.
func IsMassDelete(maxCount, maxPercent, deletes, existing int) bool {
	if deletes == 0 {
		return false
	}
	if deletes > maxCount {
		return true
	}
	return existing > 0 && deletes*100 > maxPercent*existing
}
