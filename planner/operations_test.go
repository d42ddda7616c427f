package planner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// TestNewOperationKeys pins what makes enqueueing idempotent: a change a
// commit caused keeps the default key (replaying the commit enqueues
// nothing), while repairs and admin syncs name their run (they must run
// even if the same change ran before).
func TestNewOperationKeys(t *testing.T) {
	base := planner.Op{Kind: record.KindUpdate, Identifier: "p_cd", Commit: "c1", Blob: "b1", Run: "r1", YAML: []byte("pipeline: {}\n")}
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
		{with(planner.FromReconcile, record.KindCreate), "reconcile|pipeline/p_cd|b1|r1", "b1"},
		{with(planner.FromExtra, record.KindDelete), "reconcile|pipeline/p_cd|delete|r1", "extra"},
		{with(planner.FromAdminSync, record.KindUpdate), "admin-sync|pipeline/p_cd|update|c1|r1", "b1"},
		{with(planner.FromAdminSync, record.KindDelete), "admin-sync|pipeline/p_cd|delete|c1|r1", "admin-sync-delete:b1"},
	}
	for _, tt := range tests {
		got := planner.NewOperation(tt.op)
		if got.Key != tt.key || got.ContentHash != tt.hash {
			t.Errorf("%s %s: key %q hash %q, want %q %q", tt.op.Cause, tt.op.Kind, got.Key, got.ContentHash, tt.key, tt.hash)
		}
	}
}

func TestDeleteWithoutItsFileNamesTheEntityAndScope(t *testing.T) {
	got := planner.NewOperation(planner.Op{Kind: record.KindDelete, Identifier: "p_cd", Org: "o", Project: "pr", Cause: planner.FromExtra})
	want := "pipeline:\n  identifier: p_cd\n  orgIdentifier: o\n  projectIdentifier: pr\n"
	if d := cmp.Diff(want, string(got.YAML)); d != "" {
		t.Errorf("delete document (-want +got):\n%s", d)
	}
	trigger := planner.NewOperation(planner.Op{Kind: record.KindDelete, Entity: render.KindTrigger, Identifier: "on_image", Parent: "p_cd",
		Org: "o", Project: "pr", Cause: planner.FromExtra, Run: "r1"})
	want = "trigger:\n  identifier: on_image\n  pipelineIdentifier: p_cd\n  orgIdentifier: o\n  projectIdentifier: pr\n"
	if d := cmp.Diff(want, string(trigger.YAML)); d != "" {
		t.Errorf("trigger delete document (-want +got):\n%s", d)
	}
	if trigger.Entity != "trigger" || trigger.Parent != "p_cd" || trigger.Key != "reconcile|trigger/on_image@p_cd|delete|r1" {
		t.Errorf("trigger delete = %s %s parent %q key %q", trigger.Entity, trigger.Identifier, trigger.Parent, trigger.Key)
	}
	held := planner.NewOperation(planner.Op{Kind: record.KindDelete, Identifier: "p_cd", Held: true, Cause: planner.FromRemoval})
	if held.State != record.OpHeld {
		t.Errorf("a held delete is %q", held.State)
	}
}
