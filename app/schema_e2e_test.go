package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// typoTemplatePR opens a pipelines-repo PR whose api template has a step
// type with a typo, which only Harness's schema catches, and returns the
// template preview's check run.
func typoTemplatePR(t *testing.T, w *world) (conclusion, summary string) {
	t.Helper()
	tmpl := apiTemplate(t)
	broken := strings.Replace(tmpl, "type: K8sRollingDeploy", "type: K8sRollingDeplo", 1)
	if broken == tmpl {
		t.Fatal("the api template has no K8sRollingDeploy step to break")
	}
	sha := w.GitHub.Commit(w.PipelinesRepo, "typo", "Rename the deploy step type", map[string]*string{"templates/api-pipeline-template.yaml": &broken})
	w.GitHub.OpenPR(w.PipelinesRepo, "typo", sandbox.DefaultBranch, "Rename the deploy step type", "")
	w.settle()
	c := w.check(w.PipelinesRepo, sha, gh.CheckPlan)
	return c.Conclusion, c.Summary
}

// schemaCalls returns the statuses Harness answered the app's schema
// fetches with.
func schemaCalls(w *world) []int {
	var out []int
	for _, c := range w.Harness.Calls() {
		if c.Method == http.MethodGet && c.Path == "/pipeline/api/yaml-schema" {
			out = append(out, c.Status)
		}
	}
	return out
}

// TestTemplatePreviewChecksTheAccountsSchema: the app fetches the schema
// from the (stand-in) Harness account and the preview reports what only
// the schema rejects.
func TestTemplatePreviewChecksTheAccountsSchema(t *testing.T) {
	t.Parallel()
	if p, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json"); !ok {
		t.Skipf("Harness schema not found at %s: schema checks not run", p)
	}
	w := newWorld(t, catalogOf(genServices(1)), nil)
	conclusion, summary := typoTemplatePR(t, w)
	if conclusion != "failure" || !strings.Contains(summary, `type "K8sRollingDeplo" is not one the schema knows here`) {
		t.Errorf("template plan = %s\n%s", conclusion, summary)
	}
	calls := schemaCalls(w)
	if len(calls) == 0 || calls[0] != http.StatusOK {
		t.Errorf("schema fetches answered %v, want a first 200", calls)
	}
}

// TestHarnessWithoutSchemaRendersWithoutTheSchemaCheck: when Harness cannot
// serve a schema and none is kept, the loop still renders, with every
// other check, rather than stopping.
func TestHarnessWithoutSchemaRendersWithoutTheSchemaCheck(t *testing.T) {
	t.Parallel()
	env, err := sandbox.Start(context.Background(), sandbox.Options{
		StandInOptions: sandbox.StandInOptions{
			ConfigFiles:    map[string]string{catalogPath: catalogOf(genServices(1))},
			PipelinesFiles: map[string]string{"README.md": "# pipelines\n"},
			WithoutSchemas: true,
		},
		Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})
	w := &world{t: t, Env: env}
	w.settle()
	conclusion, summary := typoTemplatePR(t, w)
	if conclusion != "success" {
		t.Errorf("template plan without a schema = %s, want success\n%s", conclusion, summary)
	}
	calls := schemaCalls(w)
	if len(calls) == 0 || calls[0] != http.StatusBadRequest {
		t.Errorf("schema fetches answered %v, want a first 400", calls)
	}
}
