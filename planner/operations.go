package planner

import (
	"fmt"
	"strings"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

// Op describes one change to one Harness pipeline, in the planners' terms.
type Op struct {
	Kind     record.OperationKind
	Pipeline string // Harness pipeline identifier
	Service  string
	Path     string // file in the pipelines repository
	// Commit is the pipelines commit the change comes from; ConfigCommit
	// the config commit behind it, when known.
	Commit, ConfigCommit string
	// Blob is the git blob SHA of the file applied (for a delete: of the
	// file that is gone, when known).
	Blob string
	// YAML is the file to apply; for a delete, the removed file when it is
	// known (it names the org and project the pipeline lives in).
	YAML []byte
	// Org and Project name the pipeline's scope for a delete whose file is
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
// idempotent: a change caused by a commit has the default key (pipeline,
// kind, commit, content hash), so replaying an apply of the same commit
// enqueues nothing; a change that must run again whatever ran before (a
// drift repair, an admin sync) gets a key naming its run. A delete whose
// file is unknown gets a minimal document naming the pipeline and its
// scope.
func NewOperation(o Op) record.Operation {
	op := record.Operation{
		Identifier: o.Pipeline, Service: o.Service, Path: o.Path, Kind: o.Kind,
		Commit: o.Commit, ConfigCommit: o.ConfigCommit, YAML: o.YAML, Reason: o.Reason,
	}
	switch o.Cause {
	case FromApply:
		op.ContentHash = o.Blob
	case FromRename, FromRemoval:
		op.ContentHash = string(o.Cause) + ":" + o.Blob
	case FromReconcile:
		op.ContentHash = o.Blob
		op.Key = strings.Join([]string{"reconcile", o.Pipeline, o.Blob, o.Run}, "|")
	case FromExtra:
		op.ContentHash = "extra"
		op.Key = strings.Join([]string{"reconcile", o.Pipeline, "delete", o.Run}, "|")
	case FromAdminSync:
		op.ContentHash = o.Blob
		if o.Kind == record.KindDelete {
			op.ContentHash = "admin-sync-delete:" + o.Blob
		}
		op.Key = strings.Join([]string{"admin-sync", o.Pipeline, string(o.Kind), o.Commit, o.Run}, "|")
	}
	if o.Kind == record.KindDelete && op.YAML == nil {
		doc := fmt.Sprintf("pipeline:\n  identifier: %s\n", o.Pipeline)
		if o.Org != "" && o.Project != "" {
			doc += fmt.Sprintf("  orgIdentifier: %s\n  projectIdentifier: %s\n", o.Org, o.Project)
		}
		op.YAML = []byte(doc)
	}
	if o.Held {
		op.State = record.OpHeld
	}
	return op
}

// IsRepair reports whether op repairs drift (a reconcile queued it).
func IsRepair(op record.Operation) bool { return strings.HasPrefix(op.Key, "reconcile|") }

// IsMassDelete applies the settings' threshold: more than maxCount
// deletes, or more than maxPercent percent of the existing pipelines.
func IsMassDelete(maxCount, maxPercent, deletes, existing int) bool {
	if deletes == 0 {
		return false
	}
	if deletes > maxCount {
		return true
	}
	return existing > 0 && deletes*100 > maxPercent*existing
}
