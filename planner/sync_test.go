package planner_test

import (
	"errors"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

func TestSync(t *testing.T) {
	file := rendered(t, services(1, "small"))["pipelines/svc-000-cd.yaml"]
	blob := gh.BlobSHA(file)
	applied := record.PipelineState{Service: "svc-000", Pipeline: "svc_000_cd", Path: "pipelines/svc-000-cd.yaml", ContentHash: blob, HarnessState: record.HarnessInSync}
	rendered := record.PipelineState{Service: "svc-000", Pipeline: "svc_000_cd", Path: "pipelines/svc-000-cd.yaml", HarnessState: record.HarnessPending}
	tests := map[string]struct {
		in       planner.SyncInput
		kind     record.OperationKind // "" when nothing is enqueued
		refused  string               // "not found" or "conflict"
		newState bool
	}{
		"an applied service is applied again":      {in: planner.SyncInput{State: applied, Known: true, Path: applied.Path, Blob: blob, Content: file}, kind: record.KindUpdate, newState: true},
		"a file the store never saw is created":    {in: planner.SyncInput{Path: applied.Path, Blob: blob, Content: file}, kind: record.KindCreate, newState: true},
		"a service rendered, never merged":         {in: planner.SyncInput{State: rendered, Known: true}},
		"an applied service whose file is gone":    {in: planner.SyncInput{State: applied, Known: true, Content: file}, kind: record.KindDelete, newState: true},
		"a held delete is not bypassed":            {in: planner.SyncInput{State: applied, Known: true, HeldDelete: true}, refused: "conflict"},
		"an unknown service":                       {in: planner.SyncInput{}, refused: "not found"},
		"a file that is not a pipeline is refused": {in: planner.SyncInput{Path: "pipelines/svc-000-cd.yaml", Content: []byte("notes: 1\n")}, refused: "conflict"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.in.Service, tt.in.Head, tt.in.Run, tt.in.PipelinesRepo = "svc-000", pipelinesHead, "r1", pipelinesRepo
			plan, err := planner.Sync(tt.in)
			var refusal *planner.Refusal
			switch {
			case tt.refused != "":
				if !errors.As(err, &refusal) || refusal.NotFound != (tt.refused == "not found") {
					t.Fatalf("err = %v, want a %s refusal", err, tt.refused)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if tt.kind == "" {
				if plan.Op != nil {
					t.Fatalf("enqueued %+v, want nothing", plan.Op)
				}
				return
			}
			if plan.Op == nil || plan.Op.Kind != tt.kind || plan.Op.Identifier != "svc_000_cd" {
				t.Fatalf("operation = %+v, want a %s of svc_000_cd", plan.Op, tt.kind)
			}
			if plan.Op.Key == "" {
				t.Error("an admin sync's operation has the default key: the same change would not run again")
			}
			if (plan.State != nil) != tt.newState || (plan.State != nil && plan.State.HarnessState != record.HarnessPending) {
				t.Errorf("state = %+v, want pending: %v", plan.State, tt.newState)
			}
		})
	}
}

func TestServicePath(t *testing.T) {
	files := map[string]string{"pipelines/a-cd.yaml": "1", "pipelines/b-cd.yaml": "2"}
	for _, tt := range []struct{ service, known, want string }{
		{"a", "", "pipelines/a-cd.yaml"},
		{"a", "pipelines/b-cd.yaml", "pipelines/b-cd.yaml"}, // the file the store knows wins while it exists
		{"a", "pipelines/gone-cd.yaml", "pipelines/a-cd.yaml"},
		{"c", "", ""},
	} {
		if got := planner.ServicePath(files, tt.service, tt.known); got != tt.want {
			t.Errorf("ServicePath(%s, %q) = %q, want %q", tt.service, tt.known, got, tt.want)
		}
	}
}
