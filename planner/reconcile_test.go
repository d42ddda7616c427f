package planner_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
)

func TestReconcile(t *testing.T) {
	files := rendered(t, services(3, "small"))
	shas := map[string]string{}
	for p, c := range files {
		shas[p] = gh.BlobSHA(c)
	}
	scope := planner.Scope{Org: "default", Project: "platform"}
	wanted := planner.WantedPipelines(files, shas, scope)
	managed := map[string]string{"managed_by": "pipeline-orchestrator"}
	same := func(id string) []byte {
		return files["pipelines/"+strings.ReplaceAll(strings.TrimSuffix(id, "_cd"), "_", "-")+"-cd.yaml"]
	}
	edited := bytes.Replace(same("svc_000_cd"), []byte("timeout: 10m"), []byte("timeout: 99m"), 1)
	reordered := []byte("# a comment Harness does not keep\n" + string(same("svc_002_cd")))
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	tests := map[string]struct {
		harness planner.InHarness
		busy    map[string]bool
		want    record.DriftReport
		ops     []opSummary
		events  []string // drift kind, identifier, and whether a repair was queued
	}{
		"Harness matches Git": {
			harness: planner.InHarness{
				Tags: map[string]map[string]string{"svc_000_cd": managed, "svc_001_cd": managed, "svc_002_cd": managed},
				YAML: map[string][]byte{"svc_000_cd": same("svc_000_cd"), "svc_001_cd": same("svc_001_cd"), "svc_002_cd": reordered},
			},
			want: record.DriftReport{Checked: 3},
		},
		"missing, different and extra managed pipelines are repaired; others are left alone": {
			harness: planner.InHarness{
				Tags: map[string]map[string]string{"svc_000_cd": managed, "svc_002_cd": managed, "stray_cd": managed, "hand_made": {"team": "x"}},
				YAML: map[string][]byte{"svc_000_cd": edited, "svc_002_cd": same("svc_002_cd")},
			},
			want:   record.DriftReport{Checked: 3, Missing: []string{"svc_001_cd"}, Different: []string{"svc_000_cd"}, Extra: []string{"stray_cd"}, Queued: 3},
			ops:    []opSummary{{"update", "svc_000_cd", false}, {"create", "svc_001_cd", false}, {"delete", "stray_cd", false}},
			events: []string{"different svc_000_cd repaired", "missing svc_001_cd repaired", "extra stray_cd repaired"},
		},
		"a pipeline that vanished between the list and the read is missing": {
			harness: planner.InHarness{
				Tags: map[string]map[string]string{"svc_000_cd": managed, "svc_001_cd": managed, "svc_002_cd": managed},
				YAML: map[string][]byte{"svc_000_cd": same("svc_000_cd"), "svc_002_cd": same("svc_002_cd")},
			},
			want:   record.DriftReport{Checked: 3, Missing: []string{"svc_001_cd"}, Queued: 1},
			ops:    []opSummary{{"create", "svc_001_cd", false}},
			events: []string{"missing svc_001_cd repaired"},
		},
		"drift on a pipeline with an operation on its way is reported, not repaired again": {
			harness: planner.InHarness{Tags: map[string]map[string]string{"svc_000_cd": managed, "svc_002_cd": managed, "stray_cd": managed},
				YAML: map[string][]byte{"svc_000_cd": same("svc_000_cd"), "svc_002_cd": same("svc_002_cd")}},
			busy:   map[string]bool{"svc_001_cd": true, "stray_cd": true},
			want:   record.DriftReport{Checked: 3, Missing: []string{"svc_001_cd"}, Extra: []string{"stray_cd"}, Skipped: []string{"stray_cd", "svc_001_cd"}},
			events: []string{"missing svc_001_cd on its way", "extra stray_cd on its way"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			plan := planner.Reconcile(planner.ReconcileInput{Head: pipelinesHead, Wanted: wanted,
				Harness: map[planner.Scope]planner.InHarness{scope: tt.harness}, Busy: tt.busy,
				Same: harness.SameYAML, Run: "run1", Now: now})
			tt.want.At, tt.want.Commit = now, pipelinesHead
			if d := cmp.Diff(tt.want, plan.Report); d != "" {
				t.Errorf("report (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.ops, summarize(plan.Ops)); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			var events []string
			for i, e := range plan.Events {
				how := "repaired"
				if plan.Repair[i] < 0 {
					how = "on its way"
				} else if plan.Ops[plan.Repair[i]].Identifier != e.Identifier {
					t.Errorf("event %s points at the repair of %s", e.Identifier, plan.Ops[plan.Repair[i]].Identifier)
				}
				events = append(events, e.Drift+" "+e.Identifier+" "+how)
				if e.Drift == "different" && !strings.Contains(e.Diff, "-                  timeout: 10m") {
					t.Errorf("the diff of %s does not show what changed:\n%s", e.Identifier, e.Diff)
				}
			}
			if d := cmp.Diff(tt.events, events); d != "" {
				t.Errorf("drift events (-want +got):\n%s", d)
			}
			for _, op := range plan.Ops {
				if !strings.HasPrefix(op.Key, "reconcile|"+op.Identifier+"|") || !strings.HasSuffix(op.Key, "|run1") {
					t.Errorf("repair of %s has key %q: a repair must run even if the same change ran before", op.Identifier, op.Key)
				}
				if op.Kind == record.KindDelete && !bytes.Contains(op.YAML, []byte("orgIdentifier: default")) {
					t.Errorf("the delete of %s does not name its scope:\n%s", op.Identifier, op.YAML)
				}
			}
		})
	}
}

func TestWantedPipelinesGroupsByScope(t *testing.T) {
	files := rendered(t, services(1, "small"))
	other := bytes.Replace(files["pipelines/svc-000-cd.yaml"], []byte("projectIdentifier: platform"), []byte("projectIdentifier: other"), 1)
	other = bytes.Replace(other, []byte("svc_000_cd"), []byte("moved_cd"), 1)
	contents := map[string][]byte{"pipelines/svc-000-cd.yaml": files["pipelines/svc-000-cd.yaml"], "pipelines/moved-cd.yaml": other,
		"pipelines/notes-cd.yaml": []byte("notes: true\n")}
	got := planner.WantedPipelines(contents, map[string]string{}, planner.Scope{Org: "default", Project: "platform"})
	ids := map[planner.Scope][]string{}
	for sc, ps := range got {
		ids[sc] = keys(ps)
	}
	want := map[planner.Scope][]string{{Org: "default", Project: "platform"}: {"svc_000_cd"}, {Org: "default", Project: "other"}: {"moved_cd"}}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("wanted by scope (-want +got):\n%s", d)
	}
}
