package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/render"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// permissiveSchema has the shape of Harness's pipeline schema and accepts
// every pipeline key; written for these tests, it lets them run without
// Harness's file.
const permissiveSchema = `{
  "type": "object",
  "properties": {"pipeline": {"$ref": "#/definitions/pipeline/pipeline"}},
  "definitions": {"pipeline": {
    "pipeline": {"type": "object", "properties": {
      "allowStageExecutions": {}, "delegateSelectors": {}, "description": {}, "fixedInputsOnRerun": {},
      "flowControl": {}, "identifier": {}, "name": {}, "notificationRules": {}, "orgIdentifier": {},
      "projectIdentifier": {}, "properties": {}, "stages": {}, "tags": {}, "template": {}, "timeout": {},
      "variables": {}
    }},
    "stages": {"cd": {"ServiceDefinition": {"type": "object"}}}
  }}
}`

// TestSchemaNote: without a schema each rendering command says, in one
// line on stderr, that it skipped the schema check and how to enable it;
// a command that stops before rendering does not.
func TestSchemaNote(t *testing.T) {
	out := t.TempDir()
	for _, args := range [][]string{
		{"validate", examplesBase},
		{"render", "--catalog", examplesBase, "--out", out},
		{"plan", "--base", examplesBase, "--head", examplesHead},
	} {
		t.Run(args[0], func(t *testing.T) {
			r := runCLIEnv(t, nil, args...)
			if want := "pipeline-orchestrator " + args[0] + schemaSkippedText + "\n"; r.code != 0 || r.stderr != want {
				t.Errorf("exit code %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
			}
		})
	}
	nope := filepath.Join(out, "nope.yaml")
	if r := runCLIEnv(t, nil, "validate", nope); r.code != 2 || strings.Contains(r.stderr, schemaSkippedText) {
		t.Errorf("validate of a missing file: exit code %d, stderr %q; want 2 and no note", r.code, r.stderr)
	}
}

// TestSchemaFlagChecksTheSchema renders templates with a step type that
// only Harness's schema rejects: with --schema (or its variable) the
// commands fail on it, without it they render and say they skipped it.
func TestSchemaFlagChecksTheSchema(t *testing.T) {
	schema, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json")
	if !ok {
		t.Skipf("Harness schema not found at %s: schema checks not run", schema)
	}
	trigger, _ := sharedfiles.Path("schemas", "harness-trigger-v0.json")
	tmpl := string(templates.Default()["api-pipeline-template.yaml"])
	typo := strings.Replace(tmpl, "type: K8sRollingDeploy", "type: K8sRollingDeplo", 1)
	if typo == tmpl {
		t.Fatal("the api template has no K8sRollingDeploy step to break")
	}
	dir := filepath.Join(t.TempDir(), "templates")
	writeFile(t, dir, "api-pipeline-template.yaml", typo)
	const complaint = `type "K8sRollingDeplo" is not one the schema knows here`

	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"--schema", nil, []string{"validate", "--schema", schema, "--templates", dir, examplesBase}},
		{"--schema and --trigger-schema", nil, []string{"validate", "--schema", schema, "--trigger-schema", trigger, "--templates", dir, examplesBase}},
		{"the environment", map[string]string{envPipelineSchema: schema}, []string{"validate", "--templates", dir, examplesBase}},
		{"plan", map[string]string{envPipelineSchema: schema}, []string{"plan", "--templates", dir, "--base", examplesBase, "--head", examplesHead}},
		{"render", map[string]string{envPipelineSchema: schema}, []string{"render", "--templates", dir, "--catalog", examplesBase, "--out", t.TempDir()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLIEnv(t, tt.env, tt.args...)
			if r.code != 1 || !strings.Contains(r.stderr, complaint) || strings.Contains(r.stderr, schemaSkippedText) {
				t.Errorf("exit code %d, stderr:\n%s\nwant 1, %q and no note", r.code, r.stderr, complaint)
			}
		})
	}
	r := runCLIEnv(t, nil, "validate", "--templates", dir, examplesBase)
	if r.code != 0 || !strings.Contains(r.stderr, schemaSkippedText) {
		t.Errorf("without a schema: exit code %d, stderr %q; want 0 and the note", r.code, r.stderr)
	}
}

// TestSchemaFileMayBeHarnessAnswer: --schema takes the schema itself or
// Harness's whole answer, as saved from the API.
func TestSchemaFileMayBeHarnessAnswer(t *testing.T) {
	dir := t.TempDir()
	bare := writeFile(t, dir, "schema.json", permissiveSchema)
	answer := writeFile(t, dir, "answer.json", `{"status":"SUCCESS","data":`+permissiveSchema+`,"metaData":null,"correlationId":"c1"}`)
	for _, p := range []string{bare, answer} {
		r := runCLIEnv(t, nil, "validate", "--schema", p, examplesBase)
		if r.code != 0 || r.stderr != "" || r.stdout != "ok: 13 services\n" {
			t.Errorf("--schema %s: exit code %d, stdout %q, stderr %q; want 0, ok and nothing", filepath.Base(p), r.code, r.stdout, r.stderr)
		}
	}
}

func TestSchemaFileErrors(t *testing.T) {
	dir := t.TempDir()
	nope := filepath.Join(dir, "nope.json")
	notSchema := writeFile(t, dir, "empty.json", `{}`)
	schema := writeFile(t, dir, "schema.json", permissiveSchema)
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"missing file", nil, []string{"validate", "--schema", nope, examplesBase}, 2,
			"pipeline-orchestrator validate: open " + nope + ": no such file or directory\n"},
		{"missing file from the environment", map[string]string{envPipelineSchema: nope}, []string{"validate", examplesBase}, 2,
			"pipeline-orchestrator validate: open " + nope + ": no such file or directory\n"},
		{"not a pipeline schema", nil, []string{"validate", "--schema", notSchema, examplesBase}, 1,
			"pipeline-orchestrator validate: " + notSchema + ": reading the Harness pipeline schema: no #/definitions/pipeline/pipeline/properties\n"},
		{"not a trigger schema", nil, []string{"validate", "--schema", schema, "--trigger-schema", schema + "x", examplesBase}, 2,
			"pipeline-orchestrator validate: open " + schema + "x: no such file or directory\n"},
		{"trigger schema alone", nil, []string{"validate", "--trigger-schema", schema, examplesBase}, 2,
			"pipeline-orchestrator validate: a trigger schema needs the pipeline schema too (--schema FILE or " + envPipelineSchema + ")\n"},
		{"trigger schema alone from the environment", map[string]string{envTriggerSchema: schema}, []string{"plan", "--base", examplesBase, "--head", examplesHead}, 2,
			"pipeline-orchestrator plan: a trigger schema needs the pipeline schema too (--schema FILE or " + envPipelineSchema + ")\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLIEnv(t, tt.env, tt.args...)
			if r.code != tt.wantCode || r.stderr != tt.wantStderr || r.stdout != "" {
				t.Errorf("exit code %d, stdout %q, stderr:\n%q\nwant %d and:\n%q", r.code, r.stdout, r.stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}

// TestRenderedExamplesSatisfyHarnessSchemas renders the examples' catalog
// with the examples' settings, then checks each file against the Harness
// schema that covers its kind: every pipeline against the pipeline schema,
// every trigger against the trigger schema, and every Service's
// serviceDefinition against the pipeline schema's
// #/definitions/pipeline/stages/cd/ServiceDefinition.
func TestRenderedExamplesSatisfyHarnessSchemas(t *testing.T) {
	pipelinePath, ok := sharedfiles.Path("schemas", "harness-pipeline-v0.json")
	if !ok {
		t.Skipf("Harness schema not found at %s: schema checks not run", pipelinePath)
	}
	triggerPath, ok := sharedfiles.Path("schemas", "harness-trigger-v0.json")
	if !ok {
		t.Skipf("Harness trigger schema not found at %s: schema checks not run", triggerPath)
	}
	pipelineJSON, err := os.ReadFile(pipelinePath)
	if err != nil {
		t.Fatal(err)
	}
	triggerJSON, err := os.ReadFile(triggerPath)
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := render.CompileSchemas(pipelineJSON, triggerJSON)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	// Rendered without --schema, so that the check below is the only one.
	if r := runCLIEnv(t, nil, "render", "--catalog", examplesBase, "--settings", examplesSettings, "--out", out); r.code != 0 {
		t.Fatalf("render: exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	checked := map[string]int{}
	for p, content := range readTree(t, out) {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(content), &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		dir := strings.SplitN(p, "/", 2)[0]
		switch dir {
		case "pipelines":
			err = schemas.CheckPipeline(doc)
		case "triggers":
			err = schemas.CheckTrigger(doc)
		case "services":
			svc, _ := doc["service"].(map[string]any)
			err = schemas.CheckServiceDefinition(svc["serviceDefinition"])
		default:
			continue
		}
		checked[dir]++
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if want := map[string]int{"pipelines": 12, "triggers": 12, "services": 12}; !maps.Equal(want, checked) {
		t.Errorf("checked %v files, want %v", checked, want)
	}
}
