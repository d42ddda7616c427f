package planner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

// TestNewOperationKeys pins what makes enqueueing idempotent: a change a
// commit caused keeps the default key (replaying the commit enqueues
// nothing), while repairs and admin syncs name their run (they must run
// even if the same change ran before).
func TestNewOperationKeys(t *testing.T) {
	base := planner.Op{Kind: record.KindUpdate, Pipeline: "p_cd", Commit: "c1", Blob: "b1", Run: "r1", YAML: []byte("pipeline: {}\n")}
	with := func(c planner.Cause, k record.OperationKind) planner.Op {
		o := base
		o.Cause, o.Kind = c, k
		return o
	}
	tests := []struct {
		op        planner.Op
		key, hash string
	}{
		{with(planner.FromApply, record.KindUpdate), "", "b1"},
		{with(planner.FromRemoval, record.KindDelete), "", "deleted:b1"},
		{with(planner.FromRename, record.KindDelete), "", "renamed:b1"},
		{with(planner.FromReconcile, record.KindCreate), "reconcile|p_cd|b1|r1", "b1"},
		{with(planner.FromExtra, record.KindDelete), "reconcile|p_cd|delete|r1", "extra"},
		{with(planner.FromAdminSync, record.KindUpdate), "admin-sync|p_cd|update|c1|r1", "b1"},
		{with(planner.FromAdminSync, record.KindDelete), "admin-sync|p_cd|delete|c1|r1", "admin-sync-delete:b1"},
	}
	for _, tt := range tests {
		got := planner.NewOperation(tt.op)
		if got.Key != tt.key || got.ContentHash != tt.hash {
			t.Errorf("%s %s: key %q hash %q, want %q %q", tt.op.Cause, tt.op.Kind, got.Key, got.ContentHash, tt.key, tt.hash)
		}
	}
}

func TestDeleteWithoutItsFileNamesThePipelineAndScope(t *testing.T) {
	got := planner.NewOperation(planner.Op{Kind: record.KindDelete, Pipeline: "p_cd", Org: "o", Project: "pr", Cause: planner.FromExtra})
	want := "pipeline:\n  identifier: p_cd\n  orgIdentifier: o\n  projectIdentifier: pr\n"
	if d := cmp.Diff(want, string(got.YAML)); d != "" {
		t.Errorf("delete document (-want +got):\n%s", d)
	}
	held := planner.NewOperation(planner.Op{Kind: record.KindDelete, Pipeline: "p_cd", Held: true, Cause: planner.FromRemoval})
	if held.State != record.OpHeld {
		t.Errorf("a held delete is %q", held.State)
	}
}
