package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/store"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

func (w *world) reconcile() store.DriftReport {
	w.t.Helper()
	if err := w.App.App.Enqueue(context.Background(), work.Reconcile, "test"); err != nil {
		w.t.Fatal(err)
	}
	w.settle()
	rep, ok := w.lastDrift()
	if !ok {
		w.t.Fatal("no drift report after reconcile")
	}
	return rep
}

func TestReconcileRepairsDrift(t *testing.T) {
	t.Parallel()
	w := onboarded(t, genServices(3), nil)
	gitVersion := func(id string) []byte {
		p := "pipelines/" + strings.ReplaceAll(strings.TrimSuffix(id, "_cd"), "_", "-") + "-cd.yaml"
		s, ok := w.GitHub.File(w.PipelinesRepo, sandbox.DefaultBranch, p)
		if !ok {
			t.Fatalf("no %s in the pipelines repo", p)
		}
		return []byte(s)
	}

	// Behind the app's back: one pipeline edited, one deleted, one managed
	// pipeline that Git does not have, and one pipeline that is not the app's.
	edited := strings.Replace(string(gitVersion("svc_000_cd")), "timeout: 10m", "timeout: 99m", 1)
	w.Harness.PutPipeline("default", "platform", "svc_000_cd", []byte(edited))
	w.Harness.DeletePipeline("default", "platform", "svc_001_cd")
	stray := strings.ReplaceAll(string(gitVersion("svc_002_cd")), "svc_002", "stray_one")
	stray = strings.ReplaceAll(stray, "svc-002", "stray-one")
	w.Harness.PutPipeline("default", "platform", "stray_one_cd", []byte(stray))
	unmanaged := "pipeline:\n  name: hand made\n  identifier: hand_made\n  orgIdentifier: default\n  projectIdentifier: platform\n  stages: []\n"
	w.Harness.PutPipeline("default", "platform", "hand_made", []byte(unmanaged))

	// And an environment edited in the Harness UI.
	env, _ := w.GitHub.File(w.PipelinesRepo, sandbox.DefaultBranch, "environments/int-stable.yaml")
	editedEnv := strings.Replace(env, "type: PreProduction", "type: Production", 1)
	if err := w.Harness.PutEntity(harnesstest.KindEnvironment, "default", "platform", []byte(editedEnv)); err != nil {
		t.Fatal(err)
	}

	rep := w.reconcile()
	// Deleting a pipeline deleted its trigger too. Checked: 3 Services,
	// pipelines and triggers, 3 environments, 4 infrastructure
	// definitions and the GitHub connector.
	want := store.DriftReport{Missing: []string{"pipeline svc_001_cd", "trigger svc_001_cd/svc_001_cd_new_image"},
		Different: []string{"environment int_stable", "pipeline svc_000_cd"}, Extra: []string{"pipeline stray_one_cd"}, Queued: 5, Checked: 17}
	if diff := cmp.Diff(want, rep, cmpDrift); diff != "" {
		t.Errorf("drift report (-want +got):\n%s", diff)
	}

	got := w.harnessPipelines()
	if diff := cmp.Diff([]string{"hand_made", "svc_000_cd", "svc_001_cd", "svc_002_cd"}, sortedKeys(got)); diff != "" {
		t.Errorf("Harness after reconcile (-want +got):\n%s", diff)
	}
	for _, id := range []string{"svc_000_cd", "svc_001_cd"} {
		if same, err := harness.SameYAML(got[id], gitVersion(id)); err != nil || !same {
			t.Errorf("%s in Harness differs from Git after reconcile", id)
		}
	}
	if string(got["hand_made"]) != unmanaged {
		t.Error("reconcile changed a pipeline the app does not manage")
	}
	head := w.GitHub.Head(w.PipelinesRepo, sandbox.DefaultBranch)
	if c := w.check(w.PipelinesRepo, head, gh.CheckDrift); c.Conclusion != "neutral" || !strings.Contains(c.Summary, "svc_001_cd") {
		t.Errorf("drift check run = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}

	// A second run finds nothing left to repair.
	if rep := w.reconcile(); rep.Drifted() != 0 {
		t.Errorf("second reconcile found drift: %+v", rep)
	}
	if c := w.check(w.PipelinesRepo, head, gh.CheckDrift); c.Conclusion != "success" {
		t.Errorf("drift check run after repair = %s %q", c.Conclusion, c.Title)
	}

	// The drift left a trace that outlives the repair: the record of what
	// differed (with the hand edit), and the counters.
	events, err := w.App.DB.Drift.List(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var record []string
	for _, e := range events {
		record = append(record, fmt.Sprintf("%s %s %s repaired=%v", e.Drift, e.Entity, e.Identifier, !e.RepairedAt.IsZero()))
		if e.Drift == "different" && e.Entity == "pipeline" && !strings.Contains(e.Diff, "timeout: 99m") {
			t.Errorf("the record of %s does not show the hand edit:\n%s", e.Identifier, e.Diff)
		}
	}
	sort.Strings(record)
	wantRecord := []string{"different environment int_stable repaired=true", "different pipeline svc_000_cd repaired=true",
		"extra pipeline stray_one_cd repaired=true", "missing pipeline svc_001_cd repaired=true",
		"missing trigger svc_001_cd_new_image repaired=true"}
	if diff := cmp.Diff(wantRecord, record); diff != "" {
		t.Errorf("drift record (-want +got):\n%s", diff)
	}
	metrics := getMetrics(t, w.App.App.Handler())
	for _, want := range []string{
		`pipeline_orchestrator_drift_found_total{drift="different",entity="pipeline"} 1`,
		`pipeline_orchestrator_drift_found_total{drift="missing",entity="pipeline"} 1`,
		`pipeline_orchestrator_drift_found_total{drift="different",entity="environment"} 1`,
		`pipeline_orchestrator_drift_found_total{drift="missing",entity="trigger"} 1`,
		`pipeline_orchestrator_drift_repaired_total{entity="pipeline"} 3`,
		`pipeline_orchestrator_drift_repaired_total{entity="environment"} 1`,
		`pipeline_orchestrator_drift_repaired_total{entity="trigger"} 1`,
		`pipeline_orchestrator_drift_entities{kind="different"} 0`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// getMetrics returns GET /metrics.
func getMetrics(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	return rec.Body.String()
}

var cmpDrift = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".At", ".Commit":
		return true
	}
	return false
}, cmp.Ignore())
