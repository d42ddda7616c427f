package planner_test

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/planner"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/record"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
)

// inHarness is what Harness holds: the wanted entities as Git has them,
// changed by edit (nil: missing), plus extra ones (tags by entity).
func inHarness(wanted map[planner.EntityID]planner.Wanted, edit map[planner.EntityID][]byte, extra map[planner.EntityID]map[string]string) planner.InHarness {
	h := planner.InHarness{Tags: map[planner.EntityID]map[string]string{}, YAML: map[planner.EntityID][]byte{}}
	for id, w := range wanted {
		content, edited := edit[id]
		if !edited {
			content = w.Content
		}
		if content == nil {
			continue
		}
		h.Tags[id], h.YAML[id] = w.Entity.Tags, content
	}
	for id, tags := range extra {
		h.Tags[id] = tags
	}
	return h
}

func TestReconcile(t *testing.T) {
	files := only(rendered(t, services(2, "small")), "services/", "pipelines/", "triggers/",
		"environments/int-stable", "infrastructures/int-stable")
	shas := map[string]string{}
	for p, c := range files {
		shas[p] = gh.BlobSHA(c)
	}
	scope := planner.Scope{Org: "default", Project: "platform"}
	wanted := planner.WantedEntities(files, shas, catalog.DefaultSettings())[scope]
	managed := map[string]string{"managed_by": "pipeline-orchestrator"}
	pipeline0 := planner.EntityID{Kind: render.KindPipeline, Identifier: "svc_000_cd"}
	service1 := planner.EntityID{Kind: render.KindService, Identifier: "svc_001"}
	trigger1 := planner.EntityID{Kind: render.KindTrigger, Identifier: "svc_001_cd_new_image", Parent: "svc_001_cd"}
	infra := planner.EntityID{Kind: render.KindInfrastructure, Identifier: "int_stable_euw1_k8s", Parent: "int_stable"}
	strayTrigger := planner.EntityID{Kind: render.KindTrigger, Identifier: "old_image", Parent: "svc_000_cd"}
	stray := planner.EntityID{Kind: render.KindPipeline, Identifier: "stray_cd"}
	handMade := planner.EntityID{Kind: render.KindPipeline, Identifier: "hand_made"}
	editedPipeline := bytes.Replace(files["pipelines/svc-000-cd.yaml"], []byte("timeout: 10m"), []byte("timeout: 99m"), 1)
	commented := []byte("# a comment Harness does not keep\n" + string(files["infrastructures/int-stable-euw1.yaml"]))
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)

	tests := map[string]struct {
		harness planner.InHarness
		busy    map[planner.EntityID]bool
		want    record.DriftReport
		ops     []string
		events  []string // drift kind, entity, and whether a repair was queued
	}{
		"Harness matches Git": {
			harness: inHarness(wanted, map[planner.EntityID][]byte{infra: commented}, map[planner.EntityID]map[string]string{handMade: {"team": "x"}}),
			want:    record.DriftReport{Checked: 8},
		},
		"missing, different and extra managed entities are repaired in apply order; others are left alone": {
			harness: inHarness(wanted, map[planner.EntityID][]byte{pipeline0: editedPipeline, service1: nil, trigger1: nil},
				map[planner.EntityID]map[string]string{stray: managed, strayTrigger: managed, handMade: {"team": "x"}}),
			want: record.DriftReport{Checked: 8, Missing: []string{"service svc_001", "trigger svc_001_cd/svc_001_cd_new_image"},
				Different: []string{"pipeline svc_000_cd"}, Extra: []string{"pipeline stray_cd", "trigger svc_000_cd/old_image"}, Queued: 5},
			ops: []string{
				"create service svc_001",
				"update pipeline svc_000_cd",
				"create trigger svc_001_cd_new_image after pipeline/svc_001_cd",
				"delete trigger old_image",
				"delete pipeline stray_cd",
			},
			events: []string{"missing service svc_001 repaired", "different pipeline svc_000_cd repaired",
				"missing trigger svc_001_cd_new_image repaired", "extra pipeline stray_cd repaired", "extra trigger old_image repaired"},
		},
		"drift on an entity with an operation on its way is reported, not repaired again": {
			harness: inHarness(wanted, map[planner.EntityID][]byte{service1: nil}, map[planner.EntityID]map[string]string{stray: managed}),
			busy:    map[planner.EntityID]bool{service1: true, stray: true},
			want: record.DriftReport{Checked: 8, Missing: []string{"service svc_001"}, Extra: []string{"pipeline stray_cd"},
				Skipped: []string{"pipeline stray_cd", "service svc_001"}},
			events: []string{"missing service svc_001 on its way", "extra pipeline stray_cd on its way"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			plan := planner.Reconcile(planner.ReconcileInput{Head: pipelinesHead, Wanted: map[planner.Scope]map[planner.EntityID]planner.Wanted{scope: wanted},
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
				} else if op := plan.Ops[plan.Repair[i]]; op.Identifier != e.Identifier || op.Entity != e.Entity {
					t.Errorf("event %s %s points at the repair of %s %s", e.Entity, e.Identifier, op.Entity, op.Identifier)
				}
				events = append(events, e.Drift+" "+e.Entity+" "+e.Identifier+" "+how)
				if e.Drift == "different" && !strings.Contains(e.Diff, "-                  timeout: 10m") {
					t.Errorf("the diff of %s does not show what changed:\n%s", e.Identifier, e.Diff)
				}
			}
			if d := cmp.Diff(tt.events, events); d != "" {
				t.Errorf("drift events (-want +got):\n%s", d)
			}
			for _, op := range plan.Ops {
				if !strings.HasPrefix(op.Key, "reconcile|"+op.Entity+"/"+op.Identifier) || !strings.HasSuffix(op.Key, "|run1") {
					t.Errorf("repair of %s has key %q: a repair must run even if the same change ran before", op.Identifier, op.Key)
				}
				if op.Kind == record.KindDelete && !bytes.Contains(op.YAML, []byte("orgIdentifier: default")) {
					t.Errorf("the delete of %s does not name its scope:\n%s", op.Identifier, op.YAML)
				}
			}
		})
	}
}

func TestWantedEntitiesGroupsByScope(t *testing.T) {
	files := rendered(t, services(1, "small"))
	other := bytes.Replace(files["pipelines/svc-000-cd.yaml"], []byte("projectIdentifier: platform"), []byte("projectIdentifier: other"), 1)
	other = bytes.Replace(other, []byte("svc_000_cd"), []byte("moved_cd"), 1)
	contents := map[string][]byte{"pipelines/svc-000-cd.yaml": files["pipelines/svc-000-cd.yaml"], "pipelines/moved-cd.yaml": other,
		"pipelines/notes-cd.yaml": []byte("notes: true\n"), "services/svc-000.yaml": files["services/svc-000.yaml"],
		"services/wrong.yaml": files["pipelines/svc-000-cd.yaml"]}
	got := planner.WantedEntities(contents, map[string]string{}, catalog.DefaultSettings())
	ids := map[planner.Scope][]string{}
	for sc, es := range got {
		for id := range es {
			ids[sc] = append(ids[sc], id.String())
		}
		sort.Strings(ids[sc])
	}
	want := map[planner.Scope][]string{{Org: "default", Project: "platform"}: {"pipeline svc_000_cd", "service svc_000"},
		{Org: "default", Project: "other"}: {"pipeline moved_cd"}}
	if d := cmp.Diff(want, ids); d != "" {
		t.Errorf("wanted by scope (-want +got):\n%s", d)
	}
}

// TestReconcileConnector checks that reconcile repairs the connector
// like any entity (the Services' repairs after it), and leaves alone one
// of the same identifier that a person made.
func TestReconcileConnector(t *testing.T) {
	files := only(rendered(t, services(1, "small")), "services/")
	shas := map[string]string{}
	for p, c := range files {
		shas[p] = gh.BlobSHA(c)
	}
	scope := planner.Scope{Org: "default", Project: "platform"}
	wanted := planner.WantedEntities(files, shas, catalog.DefaultSettings())[scope]
	d, err := planner.NewDesiredConnector(catalog.DefaultSettings(), render.ConnectorApp{WebURL: "https://github.com", Owner: "company", AppID: 7, InstallationID: 51})
	if err != nil {
		t.Fatal(err)
	}
	sc, w := d.Wanted()
	if sc != scope {
		t.Fatalf("the connector's scope is %+v, want the settings' %+v", sc, scope)
	}
	wanted[d.ID()] = w
	service := planner.EntityID{Kind: render.KindService, Identifier: "svc_000"}
	oldInstallation := bytes.Replace(d.YAML, []byte(`"51"`), []byte(`"50"`), -1)
	handMade := inHarness(wanted, map[planner.EntityID][]byte{d.ID(): oldInstallation}, nil)
	handMade.Tags[d.ID()] = map[string]string{"owner": "platform-team"}

	tests := map[string]struct {
		harness planner.InHarness
		want    record.DriftReport
		ops     []string
		events  []string
	}{
		"a missing connector is created before the Services repaired with it": {
			harness: inHarness(wanted, map[planner.EntityID][]byte{d.ID(): nil, service: nil}, nil),
			want:    record.DriftReport{Checked: 2, Missing: []string{"connector github_platform_next_cross_org", "service svc_000"}, Queued: 2},
			ops:     []string{"create connector github_platform_next_cross_org", "create service svc_000 after connector/github_platform_next_cross_org"},
			events:  []string{"missing connector github_platform_next_cross_org", "missing service svc_000"},
		},
		"the app's connector on another installation is updated": {
			harness: inHarness(wanted, map[planner.EntityID][]byte{d.ID(): oldInstallation}, nil),
			want:    record.DriftReport{Checked: 2, Different: []string{"connector github_platform_next_cross_org"}, Queued: 1},
			ops:     []string{"update connector github_platform_next_cross_org"},
			events:  []string{"different connector github_platform_next_cross_org"},
		},
		"a person's connector of the same identifier is reported and left alone": {
			harness: handMade,
			want:    record.DriftReport{Checked: 2, Unmanaged: []string{"connector github_platform_next_cross_org"}},
			events:  []string{"unmanaged connector github_platform_next_cross_org"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
			plan := planner.Reconcile(planner.ReconcileInput{Head: pipelinesHead, Wanted: map[planner.Scope]map[planner.EntityID]planner.Wanted{scope: wanted},
				Harness: map[planner.Scope]planner.InHarness{scope: tt.harness}, Same: harness.SameEntity, Run: "run1", Now: now,
				Connector: planner.ManagedConnector(catalog.DefaultSettings())})
			tt.want.At, tt.want.Commit = now, pipelinesHead
			if d := cmp.Diff(tt.want, plan.Report); d != "" {
				t.Errorf("report (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.ops, summarize(plan.Ops)); d != "" {
				t.Errorf("operations (-want +got):\n%s", d)
			}
			var events []string
			for i, e := range plan.Events {
				events = append(events, e.Drift+" "+e.Entity+" "+e.Identifier)
				if e.Drift == record.DriftUnmanaged && (plan.Repair[i] != -1 || !strings.Contains(e.Diff, "without the tag managed_by")) {
					t.Errorf("unmanaged event: repair %d, %q", plan.Repair[i], e.Diff)
				}
			}
			if d := cmp.Diff(tt.events, events); d != "" {
				t.Errorf("drift events (-want +got):\n%s", d)
			}
		})
	}
}
