package render

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

// tinyPipelineSchema has the shape of Harness's pipeline schema (a
// pipeline: root, the pipeline object under definitions/pipeline/pipeline,
// a ServiceDefinition under definitions/pipeline/stages/cd) and a handful
// of rules, so that these tests run without Harness's file.
const tinyPipelineSchema = `{
  "type": "object",
  "required": ["pipeline"],
  "properties": {"pipeline": {"$ref": "#/definitions/pipeline/pipeline"}},
  "definitions": {"pipeline": {
    "pipeline": {
      "type": "object",
      "required": ["name", "identifier"],
      "properties": {
        "name": {"type": "string"}, "identifier": {"type": "string"},
        "orgIdentifier": {"type": "string"}, "projectIdentifier": {"type": "string"},
        "description": {"type": "string"}, "variables": {"type": "array"},
        "tags": {"type": "object"}, "stages": {"type": "array", "minItems": 1}
      }
    },
    "stages": {"cd": {"ServiceDefinition": {
      "type": "object",
      "required": ["type", "spec"],
      "properties": {"type": {"type": "string", "enum": ["Kubernetes", "NativeHelm"]}, "spec": {"type": "object"}}
    }}}
  }}
}`

// tinyTriggerSchema is the same for the trigger schema.
const tinyTriggerSchema = `{
  "type": "object",
  "required": ["trigger"],
  "properties": {"trigger": {"$ref": "#/definitions/trigger/trigger"}},
  "definitions": {"trigger": {"trigger": {
    "type": "object",
    "required": ["identifier", "source"],
    "properties": {"identifier": {"type": "string", "pattern": "^[a-zA-Z_][0-9a-zA-Z_]*$"}, "source": {"type": "object"}}
  }}}
}`

func tinySchemas(tb testing.TB, withTrigger bool) *Schemas {
	tb.Helper()
	var trigger []byte
	if withTrigger {
		trigger = []byte(tinyTriggerSchema)
	}
	s, err := CompileSchemas([]byte(tinyPipelineSchema), trigger)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// value decodes YAML into the JSON-like value the Check methods take.
func value(tb testing.TB, src string) any {
	tb.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestCompileSchemasRefusesWhatIsNoSchema(t *testing.T) {
	tests := []struct {
		name             string
		pipeline, trigge string
		wantIn           string
	}{
		{"no pipeline schema", "", tinyTriggerSchema, "the pipeline schema is required"},
		{"not JSON", "{", "", "reading the Harness pipeline schema"},
		{"not an object", "[]", "", "reading the Harness pipeline schema"},
		{"no pipeline definition", `{"type": "object"}`, "", "no #/definitions/pipeline/pipeline/properties"},
		{"no service definition", strings.Replace(tinyPipelineSchema, `"ServiceDefinition"`, `"Other"`, 1), "", "ServiceDefinition: no such definition"},
		{"dangling $ref", strings.Replace(tinyPipelineSchema, `#/definitions/pipeline/pipeline"`, `#/definitions/pipeline/nothing"`, 1), "", "no such definition"},
		{"bad trigger schema", tinyPipelineSchema, `{"properties": {"trigger": {"$ref": "http://elsewhere/x.json"}}}`, "reading the Harness trigger schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := CompileSchemas([]byte(tt.pipeline), []byte(tt.trigge))
			if err == nil || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("CompileSchemas() = %v, %v; want an error with %q", s, err, tt.wantIn)
			}
		})
	}
}

func TestCompileSchemasKeepsWhatItCompiled(t *testing.T) {
	a := tinySchemas(t, true)
	if b := tinySchemas(t, true); a != b {
		t.Error("compiling the same bytes twice compiled them twice")
	}
	if c := tinySchemas(t, false); c == a || c.HasTrigger() {
		t.Errorf("schemas without the trigger schema came from the cache of those with it (HasTrigger %v)", c.HasTrigger())
	}
}

func TestCheckServiceDefinitionWithATinySchema(t *testing.T) {
	s := tinySchemas(t, false)
	if err := s.CheckServiceDefinition(value(t, "type: Kubernetes\nspec: {}\n")); err != nil {
		t.Errorf("a valid service definition: %v", err)
	}
	err := s.CheckServiceDefinition(value(t, "type: Kubernete\n"))
	var se *SchemaError
	if !errors.As(err, &se) {
		t.Fatalf("CheckServiceDefinition() = %v, want a *SchemaError", err)
	}
	want := &SchemaError{What: "service definition", Violations: []SchemaViolation{
		{Pointer: "", Message: "missing property 'spec'"},
		{Pointer: "/type", Message: "value must be one of 'Kubernetes', 'NativeHelm'"},
	}}
	if diff := cmp.Diff(want, se); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "the service definition does not satisfy the Harness schema: missing property 'spec'; at /type: value must be one of 'Kubernetes', 'NativeHelm'"; got != want {
		t.Errorf("Error() = %q\nwant     %q", got, want)
	}
}

func TestCheckTriggerWithATinySchema(t *testing.T) {
	s := tinySchemas(t, true)
	if err := s.CheckTrigger(value(t, "trigger: {identifier: on_push, source: {}}\n")); err != nil {
		t.Errorf("a valid trigger: %v", err)
	}
	var se *SchemaError
	if err := s.CheckTrigger(value(t, "trigger: {identifier: on-push, source: {}}\n")); !errors.As(err, &se) ||
		len(se.Violations) != 1 || se.Violations[0].Pointer != "/trigger/identifier" {
		t.Errorf("CheckTrigger(identifier on-push) = %v, want one violation at /trigger/identifier", err)
	}
}

func TestCheckWithoutTheSchemaSaysSo(t *testing.T) {
	var none *Schemas
	if err := none.CheckServiceDefinition(value(t, "type: Kubernetes\nspec: {}\n")); !errors.Is(err, ErrNoSchema) {
		t.Errorf("nil Schemas: CheckServiceDefinition() = %v, want ErrNoSchema", err)
	}
	if err := none.CheckTrigger(value(t, "trigger: {}\n")); !errors.Is(err, ErrNoSchema) {
		t.Errorf("nil Schemas: CheckTrigger() = %v, want ErrNoSchema", err)
	}
	if err := tinySchemas(t, false).CheckTrigger(value(t, "trigger: {}\n")); !errors.Is(err, ErrNoSchema) {
		t.Errorf("no trigger schema: CheckTrigger() = %v, want ErrNoSchema", err)
	}
}

// TestPipelineKeysComeFromTheSchema: with a schema, the keys a pipeline may
// hold are the schema's (they follow the account's Harness version);
// without one, the built-in list.
func TestPipelineKeysComeFromTheSchema(t *testing.T) {
	raw := []byte(`pipeline:
  name: x
  identifier: x
  orgIdentifier: o
  projectIdentifier: p
  timeout: 1h
  tags: {managed_by: pipeline-orchestrator}
  stages:
    - stage: {name: s, identifier: s, type: Custom, spec: {}}
`)
	if _, problems := checkPipeline(raw, nil); len(problems) != 0 {
		t.Errorf("without a schema: %v", problems)
	}
	_, problems := checkPipeline(raw, tinySchemas(t, false))
	want := []problem{{pointer: "/pipeline/timeout", line: 6, message: `the Harness pipeline schema has no key "timeout" in a pipeline`}}
	if diff := cmp.Diff(want, problems, cmp.AllowUnexported(problem{})); diff != "" {
		t.Errorf("with a schema that has no timeout (-want +got):\n%s", diff)
	}
}

// TestRenderingWithoutSchemaRunsEveryOtherCheck renders a template that
// only Harness's schema rejects, and one that a check of our own rejects,
// without a schema.
func TestRenderingWithoutSchemaRunsEveryOtherCheck(t *testing.T) {
	src := readFile(t, "testdata/api-multi-region/want/pipelines/payment-service-cd.yaml")
	template := strings.Replace(string(Body([]byte(src))), "duration: 1h", "duration: soon", 1)
	if template == string(Body([]byte(src))) {
		t.Fatal("the golden file has no Wait step of 1h to break")
	}
	tm := templatesWith(t, map[string]string{"templates/api-pipeline-template.yaml": template})
	opts := Options{Settings: catalog.DefaultSettings(), Source: testSource()}
	if _, err := Pipeline(tm, apiService(), opts); err != nil {
		t.Errorf("without a schema, a pipeline only the schema rejects renders; got %v", err)
	}
	if s := testSchemas(t); s != nil {
		opts.Schemas = s
		if _, err := Pipeline(tm, apiService(), opts); err == nil || !strings.Contains(err.Error(), "/spec/duration") {
			t.Errorf("with the schema: error %v, want one about the Wait step's duration", err)
		}
		opts.Schemas = nil
	}

	broken := strings.Replace(template, "identifier: int_stable_euw1", "identifier: int-stable-euw1", 1)
	tm = templatesWith(t, map[string]string{"templates/api-pipeline-template.yaml": broken})
	if _, err := Pipeline(tm, apiService(), opts); err == nil || !strings.Contains(err.Error(), `stage identifier "int-stable-euw1"`) {
		t.Errorf("without a schema, the identifier check still runs; got %v", err)
	}
}

func TestPlanSaysWhetherTheSchemaWasChecked(t *testing.T) {
	tmpl := defaultTemplates(t)
	cat := parsePlanCatalog(t, tmpl, "services:\n"+svcYAML("payment-service", "api", "[int-stable]", "[euw1]"))
	in := PlanInput{Base: cat, Head: cat, Settings: catalog.DefaultSettings(), Templates: tmpl, Source: testPlanSource("head"), Current: map[string][]byte{}}
	if plan, diags := Plan(in); len(diags) > 0 || !plan.SchemaSkipped {
		t.Errorf("without schemas: SchemaSkipped = %v (%v), want true", plan.SchemaSkipped, diags)
	}
	in.Schemas = tinySchemas(t, false)
	if plan, diags := Plan(in); len(diags) > 0 || plan.SchemaSkipped {
		t.Errorf("with schemas: SchemaSkipped = %v (%v), want false", plan.SchemaSkipped, diags)
	}
}

// The tests below use Harness's own schemas.

func TestKnownPipelineKeysMatchTheSchema(t *testing.T) {
	s := requireSchemas(t)
	if diff := cmp.Diff(knownPipelineKeys, s.pipeline.pipelineKeys); diff != "" {
		t.Errorf("knownPipelineKeys differ from the schema's pipeline keys: update the list (-list +schema):\n%s", diff)
	}
}

func TestCheckServiceDefinition(t *testing.T) {
	s := requireSchemas(t)
	tests := []struct {
		name, yaml string
		wantAt     []string // pointers of the violations; nil: valid
	}{
		{"kubernetes with manifests", `type: Kubernetes
spec:
  manifests:
    - manifest:
        identifier: app
        type: K8sManifest
        spec:
          store:
            type: Github
            spec:
              connectorRef: account.github
              gitFetchType: Branch
              branch: main
              paths: [generated/payment-service]
          skipResourceVersioning: false
`, nil},
		{"empty kubernetes spec", "type: Kubernetes\nspec: {}\n", nil},
		{"unknown type", "type: Kubernete\nspec: {}\n", []string{"/type"}},
		{"no spec", "type: Kubernetes\n", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.CheckServiceDefinition(value(t, tt.yaml))
			if tt.wantAt == nil {
				if err != nil {
					t.Errorf("CheckServiceDefinition() = %v, want nil", err)
				}
				return
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("CheckServiceDefinition() = %v, want a *SchemaError", err)
			}
			var at []string
			for _, v := range se.Violations {
				at = append(at, v.Pointer)
			}
			if diff := cmp.Diff(tt.wantAt, at); diff != "" {
				t.Errorf("violations at (-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestCheckTrigger(t *testing.T) {
	s := requireSchemas(t)
	if !s.HasTrigger() {
		t.Skip("the trigger schema is not beside the pipeline schema: trigger checks not run")
	}
	const valid = `trigger:
  name: on image
  identifier: on_image
  enabled: true
  orgIdentifier: default
  projectIdentifier: payments
  pipelineIdentifier: payment_service_cd
  source:
    type: Webhook
    spec:
      type: Custom
      spec:
        payloadConditions: []
        headerConditions: []
  inputYaml: |
    pipeline:
      identifier: payment_service_cd
`
	if err := s.CheckTrigger(value(t, valid)); err != nil {
		t.Errorf("a valid custom webhook trigger: %v", err)
	}
	var se *SchemaError
	if err := s.CheckTrigger(value(t, strings.Replace(valid, "type: Webhook", "type: Webhok", 1))); !errors.As(err, &se) {
		t.Errorf("a trigger of an unknown source type: %v, want a *SchemaError", err)
	}
	if err := s.CheckTrigger(value(t, "pipeline: {}\n")); !errors.As(err, &se) {
		t.Errorf("a pipeline checked as a trigger: %v, want a *SchemaError", err)
	}
}

func TestSharedSchemaFileIsNotInTheRepository(t *testing.T) {
	for _, name := range []string{"harness-pipeline-v0.json", "harness-trigger-v0.json", "SCHEMA.md"} {
		if _, err := os.Stat(name); err == nil {
			t.Errorf("render/%s is in the repository: Harness's schemas come from the account or a file, never from here", name)
		}
	}
}
