package planner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

func TestSync(t *testing.T) {
	files := only(rendered(t, services(1, "small")), "services/", "pipelines/", "triggers/")
	shas, contents := map[string]string{}, map[string][]byte{}
	for p, c := range files {
		shas[p], contents[gh.BlobSHA(c)] = gh.BlobSHA(c), c
	}
	entities := applied(t, files, configBefore)
	appliedState := record.PipelineState{Service: "svc-000", Pipeline: "svc_000_cd", Path: "pipelines/svc-000-cd.yaml",
		ContentHash: shas["pipelines/svc-000-cd.yaml"], HarnessState: record.HarnessInSync}
	renderedState := record.PipelineState{Service: "svc-000", Pipeline: "svc_000_cd", Path: "pipelines/svc-000-cd.yaml", HarnessState: record.HarnessPending}
	notAnEntity := []byte("notes: 1\n")
	contents[gh.BlobSHA(notAnEntity)] = notAnEntity
	heldPipeline := map[planner.EntityID]bool{{Kind: render.KindPipeline, Identifier: "svc_000_cd"}: true}
	tests := map[string]struct {
		in       planner.SyncInput
		ops      []string
		refused  string // "not found" or "conflict"
		newState bool
	}{
		"an applied service is applied again": {
			in: planner.SyncInput{State: appliedState, Known: true, Applied: entities, Files: shas},
			ops: []string{"update service svc_000 after connector/github_platform_next_cross_org", "update pipeline svc_000_cd after service/svc_000",
				"update trigger svc_000_cd_new_image after pipeline/svc_000_cd"},
			newState: true,
		},
		"files the store never saw are created": {
			in: planner.SyncInput{Files: shas},
			ops: []string{"create service svc_000 after connector/github_platform_next_cross_org", "create pipeline svc_000_cd after service/svc_000",
				"create trigger svc_000_cd_new_image after pipeline/svc_000_cd"},
			newState: true,
		},
		"a service rendered, never merged": {in: planner.SyncInput{State: renderedState, Known: true}},
		"an applied service whose files are gone is deleted, trigger first": {
			in: planner.SyncInput{State: appliedState, Known: true, Applied: entities},
			ops: []string{"delete trigger svc_000_cd_new_image", "delete pipeline svc_000_cd after trigger/svc_000_cd_new_image",
				"delete service svc_000 after pipeline/svc_000_cd"},
			newState: true,
		},
		"a held delete is not bypassed": {
			in: planner.SyncInput{State: appliedState, Known: true, Applied: entities, Held: heldPipeline}, refused: "conflict",
		},
		"an unknown service": {in: planner.SyncInput{}, refused: "not found"},
		"a file that is not an entity is refused": {
			in: planner.SyncInput{Files: map[string]string{"pipelines/svc-000-cd.yaml": gh.BlobSHA(notAnEntity)}}, refused: "conflict",
		},
		"a file of another kind than its directory's is refused": {
			in: planner.SyncInput{Files: map[string]string{"services/svc-000.yaml": shas["pipelines/svc-000-cd.yaml"]}}, refused: "conflict",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.in.Service, tt.in.Head, tt.in.Run, tt.in.PipelinesRepo = "svc-000", pipelinesHead, "r1", pipelinesRepo
			tt.in.Settings, tt.in.Contents = catalog.DefaultSettings(), contents
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
			if d := cmp.Diff(tt.ops, summarize(plan.Ops)); d != "" {
				t.Fatalf("operations (-want +got):\n%s", d)
			}
			for _, op := range plan.Ops {
				if !strings.HasPrefix(op.Key, "admin-sync|") || !strings.HasSuffix(op.Key, "|r1") {
					t.Errorf("%s of %s has key %q: the same change would not run again", op.Kind, op.Identifier, op.Key)
				}
			}
			if (plan.State != nil) != tt.newState || (plan.State != nil && plan.State.HarnessState != record.HarnessPending) {
				t.Errorf("state = %+v, want pending: %v", plan.State, tt.newState)
			}
		})
	}
}

func TestServiceFiles(t *testing.T) {
	files := map[string]string{"pipelines/a-cd.yaml": "1", "services/a.yaml": "2", "triggers/a-cd-new-image.yaml": "3",
		"pipelines/ab-cd.yaml": "4", "environments/a.yaml": "5", "pipelines/a.yaml": "6"}
	got := planner.ServiceFiles(catalog.DefaultSettings(), files, "a")
	want := map[string]string{"pipelines/a-cd.yaml": "1", "services/a.yaml": "2", "triggers/a-cd-new-image.yaml": "3"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ServiceFiles (-want +got):\n%s", d)
	}
}
