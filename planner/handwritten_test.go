package planner_test

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// TestHandWrittenFilesOneRule follows files without the generated header
// through the loop: apply applies them like any entity file Git has,
// reconcile wants them, and no proposal rewrites or deletes them, even
// when the catalog drops the service whose path one of them took.
func TestHandWrittenFilesOneRule(t *testing.T) {
	files := rendered(t, services(2, "small"))
	const manualPath, takenPath = "pipelines/manual-cd.yaml", "pipelines/svc-001-cd.yaml"
	manual := bytes.ReplaceAll(render.Body(files["pipelines/svc-000-cd.yaml"]), []byte("svc_000_cd"), []byte("manual_cd"))
	taken := render.Body(files[takenPath]) // the header removed by hand
	merged := maps.Clone(files)
	merged[manualPath], merged[takenPath] = manual, taken

	// Merging them applies them.
	applied := summarize(applyPlan(t, merged, files).Ops)
	for _, want := range []string{"create pipeline manual_cd after service/svc_000", "update pipeline svc_001_cd after service/svc_001"} {
		if !slices.Contains(applied, want) {
			t.Errorf("apply lacks %q: %v", want, applied)
		}
	}

	// Reconcile wants them: Harness keeps them.
	shas := map[string]string{}
	for p, c := range merged {
		shas[p] = gh.BlobSHA(c)
	}
	wanted := planner.WantedEntities(merged, shas, catalog.DefaultSettings())[planner.Scope{Org: "default", Project: "platform"}]
	for _, id := range []planner.EntityID{{Kind: render.KindPipeline, Identifier: "manual_cd"}, {Kind: render.KindPipeline, Identifier: "svc_001_cd"}} {
		if _, ok := wanted[id]; !ok {
			t.Errorf("reconcile does not want %s", id)
		}
	}

	// The catalog drops svc-001: its generated files go, the hand-written
	// ones stay as they are.
	pipes := repoWith(t, merged, nil)
	prop := planner.Propose(planner.ProposeInput{Pipelines: pipes, Head: catalogAt(t, configHead, services(1, "small"), pipes),
		Current: merged, Source: source(configHead)})
	if prop.Blocked != nil {
		t.Fatalf("blocked: %+v", prop.Blocked)
	}
	var writes []string
	for p, content := range prop.Writes {
		if content == nil {
			p = "-" + p
		}
		writes = append(writes, p)
	}
	slices.Sort(writes)
	if diff := cmp.Diff([]string{"-services/svc-001.yaml", "-triggers/svc-001-cd-new-image.yaml"}, writes); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}

	// While svc-001 is in the catalog, the file written by hand at its
	// path is an error, not overwritten.
	prop = planner.Propose(planner.ProposeInput{Pipelines: pipes, Head: catalogAt(t, configHead, services(2, "small"), pipes),
		Current: merged, Source: source(configHead)})
	if prop.Blocked == nil || len(prop.Blocked.Diags) != 1 || !strings.Contains(prop.Blocked.Diags[0].Message, "was written by hand") {
		t.Fatalf("Blocked = %+v, want the hand-written %s named", prop.Blocked, takenPath)
	}
	if _, ok := prop.Writes[manualPath]; ok {
		t.Errorf("the proposal writes %s", manualPath)
	}
}
