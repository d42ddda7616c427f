package render

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// seedTemplatePath is the api template of the seed architecture document,
// copied unchanged.
const seedTemplatePath = "testdata/seed-template/api-pipeline-template.yaml"

func seedTemplates(tb testing.TB) *Templates {
	tb.Helper()
	src, err := os.ReadFile(seedTemplatePath)
	if err != nil {
		tb.Fatal(err)
	}
	return templatesWith(tb, map[string]string{"templates/api-pipeline-template.yaml": string(src)})
}

// TestSeedTemplateRendersItsPlaceholders executes the seed's template: the
// placeholders substitute, so the raw output names the service everywhere
// the seed meant it to.
func TestSeedTemplateRendersItsPlaceholders(t *testing.T) {
	tm := seedTemplates(t)
	at := tm.byArchetype["api"]
	d, err := newData(apiService(), catalog.DefaultSettings(), testSource(), at.path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := at.execute(d)
	if err != nil {
		t.Fatalf("executing the seed template: %v", err)
	}
	for _, want := range []string{
		`name: "payment-service-cd"`,
		`identifier: "payment-service_cd"`,
		`service: "payment-service"`,
		`team: "payments"`,
		`archetype: "api"`,
		`serviceRef: "payment-service"`,
		"- generated/payment-service/int-stable/euw1/manifests.yaml",
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(string(raw), "{{") {
		t.Errorf("output still holds a placeholder:\n%s", raw)
	}
}

// TestSeedTemplateProblems: the seed's template has known problems, and
// each comes back as an error on its template line, with the JSON pointer.
func TestSeedTemplateProblems(t *testing.T) {
	_, err := Pipeline(seedTemplates(t), apiService(), testOpts(t, catalog.DefaultSettings(), testSource()))
	var errs TemplateErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Pipeline() error = %v, want TemplateErrors", err)
	}
	const path = "templates/api-pipeline-template.yaml"
	want := TemplateErrors{
		{Template: path, Line: 4, Service: "payment-service", Pointer: "/pipeline/identifier",
			Message: `pipeline identifier "payment-service_cd" must start with a letter or _ and hold only letters, digits and _ (pattern ^[a-zA-Z_][0-9a-zA-Z_]{0,127}$)`},
		{Template: path, Line: 8, Service: "payment-service", Pointer: "/pipeline/tags",
			Message: "the pipeline must carry the tag managed_by: pipeline-orchestrator, by which the application recognises its pipelines in Harness"},
		{Template: path, Line: 108, Service: "payment-service", Pointer: "/pipeline/stages/0/stage/spec/execution/rollbackSteps/0/step",
			Message: "the step lacks required keys spec, timeout"},
		{Template: path, Line: 125, Service: "payment-service", Pointer: "/pipeline/triggers",
			Message: `the Harness pipeline schema has no key "triggers" in a pipeline: triggers are separate Harness entities with their own trigger: YAML`},
	}
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	lines := strings.Split(readFile(t, seedTemplatePath), "\n")
	for _, e := range errs {
		t.Logf("%s\n\t%d: %s", e, e.Line, lines[e.Line-1])
	}
}

func readFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
