package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
)

func TestLoadTemplates(t *testing.T) {
	tests := []struct {
		name          string
		files         map[string]string
		wantArch      []string
		wantBuiltin   map[string]bool
		wantDiags     catalog.Diagnostics
		wantPathOfAPI string
	}{
		{
			name:          "no repo templates: the four defaults",
			wantArch:      []string{"api", "job", "listener", "scheduler"},
			wantBuiltin:   map[string]bool{"api": true, "job": true, "listener": true, "scheduler": true},
			wantPathOfAPI: "api-pipeline-template.yaml (built-in)",
		},
		{
			name: "repo templates replace defaults and add archetypes",
			files: map[string]string{
				"templates/api-pipeline-template.yaml":        "pipeline: {}\n",
				"templates/batch-pipeline-template.yaml":      "pipeline: {}\n",
				"templates/batch-service-template.yaml":       "service: {}\n",
				"templates/README.md":                         "# not a template\n",
				"templates/sub/worker-pipeline-template.yaml": "pipeline: {}\n",
				"templates/sub/worker-service-template.yaml":  "service: {}\n",
			},
			wantArch:      []string{"api", "batch", "job", "listener", "scheduler", "worker"},
			wantBuiltin:   map[string]bool{"api": false, "batch": false, "job": true, "listener": true, "scheduler": true},
			wantPathOfAPI: "templates/api-pipeline-template.yaml",
		},
		{
			name: "a template that does not parse stays, broken, with its line",
			files: map[string]string{
				"templates/api-pipeline-template.yaml": "pipeline:\n  name: {{quote .Pipeline.Name}}\n  identifier: {{nosuchfunc}}\n",
			},
			wantArch:      []string{"api", "job", "listener", "scheduler"},
			wantBuiltin:   map[string]bool{"api": false},
			wantPathOfAPI: "templates/api-pipeline-template.yaml",
			wantDiags: catalog.Diagnostics{{
				File: "templates/api-pipeline-template.yaml", Pos: catalog.Pos{Line: 3},
				Message: `template does not parse: function "nosuchfunc" not defined`,
			}},
		},
		{
			name: "misnamed and duplicate templates are reported",
			files: map[string]string{
				"templates/api-template.yaml":          "pipeline: {}\n",
				"templates/Api-pipeline-template.yaml": "pipeline: {}\n",
				"templates/job-pipeline-template.yaml": "pipeline: {}\n",
				"other/job-pipeline-template.yaml":     "pipeline: {}\n",
			},
			wantArch:      []string{"api", "job", "listener", "scheduler"},
			wantBuiltin:   map[string]bool{"api": true, "job": false},
			wantPathOfAPI: "api-pipeline-template.yaml (built-in)",
			wantDiags: catalog.Diagnostics{
				{File: "templates/Api-pipeline-template.yaml", Message: "not a template: the name must be <archetype>-pipeline-template.yaml or <archetype>-service-template.yaml, with a lower-case archetype"},
				{File: "templates/api-template.yaml", Message: "not a template: the name must be <archetype>-pipeline-template.yaml or <archetype>-service-template.yaml, with a lower-case archetype"},
				{File: "templates/job-pipeline-template.yaml", Message: `second pipeline template for archetype "job" (first: other/job-pipeline-template.yaml)`},
			},
		},
		{
			name: "an archetype needs both templates",
			files: map[string]string{
				"templates/batch-pipeline-template.yaml": "pipeline: {}\n",
				"templates/cron-service-template.yaml":   "service: {}\n",
				"templates/api-service-template.yaml":    "service: {}\n",
			},
			wantArch:      []string{"api", "batch", "job", "listener", "scheduler"},
			wantBuiltin:   map[string]bool{"api": true, "batch": false},
			wantPathOfAPI: "api-pipeline-template.yaml (built-in)",
			wantDiags: catalog.Diagnostics{
				{File: "templates/batch-pipeline-template.yaml", Message: `archetype "batch" has a pipeline template and no Service template: add batch-service-template.yaml beside it`},
				{File: "templates/cron-service-template.yaml", Message: `archetype "cron" has a Service template and no pipeline template: add cron-pipeline-template.yaml beside it, or remove this file`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string][]byte{}
			for p, s := range tt.files {
				files[p] = []byte(s)
			}
			got, diags := LoadTemplates(files)
			if diff := cmp.Diff(tt.wantDiags, diags); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantArch, got.Archetypes()); diff != "" {
				t.Errorf("Archetypes() (-want +got):\n%s", diff)
			}
			for arch, want := range tt.wantBuiltin {
				if got.Builtin(arch) != want {
					t.Errorf("Builtin(%q) = %v, want %v", arch, !want, want)
				}
			}
			if p, _ := got.Path("api"); p != tt.wantPathOfAPI {
				t.Errorf("Path(api) = %q, want %q", p, tt.wantPathOfAPI)
			}
		})
	}
}

// TestBrokenTemplateFailsItsServices: a repo template that does not parse
// is not replaced by the default; each service of the archetype fails.
func TestBrokenTemplateFailsItsServices(t *testing.T) {
	tm, _ := LoadTemplates(map[string][]byte{"templates/api-pipeline-template.yaml": []byte("pipeline:\n  name: {{\n")})
	_, err := Pipeline(tm, apiService(), testOpts(t, catalog.DefaultSettings(), testSource()))
	var errs TemplateErrors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Service != "payment-service" || errs[0].Line != 3 {
		t.Fatalf("Pipeline() error = %v, want the parse error (unclosed action, reported on line 3) for payment-service", err)
	}
}

// TestTemplateErrors renders small templates with one mistake each and
// expects the mistake's line, pointer and a message that names it.
func TestTemplateErrors(t *testing.T) {
	// stage renders one Deployment stage with the given steps.
	stage := func(steps string) string {
		return `pipeline:
  name: x
  identifier: {{.Pipeline.Identifier}}
  orgIdentifier: default
  projectIdentifier: platform
  tags: {managed_by: pipeline-orchestrator}
  stages:
    - stage:
        name: s
        identifier: s
        type: Deployment
        spec:
          deploymentType: Kubernetes
          service: {serviceRef: svc, serviceInputs: <+input>}
          environment: {environmentRef: env, infrastructureDefinitions: [{identifier: infra}]}
          execution:
            steps:
` + steps + `
        failureStrategies: []
`
	}
	step := func(typ, id, spec string) string {
		return "              - step:\n                  type: " + typ + "\n                  name: n\n                  identifier: " + id +
			"\n                  timeout: 10m\n                  spec: " + spec
	}
	tests := []struct {
		name        string
		template    string
		wantLine    int
		wantPointer string
		wantIn      string
		wantCount   int // 0 means 1
		// needsSchema marks the problems only Harness's schema finds.
		needsSchema bool
	}{
		{
			name:     "missing key in the data",
			template: "pipeline:\n  name: {{.Pipeline.Nmae}}\n",
			wantLine: 2, wantIn: "can't evaluate field Nmae",
		},
		{
			name:     "output is not YAML",
			template: "pipeline:\n  name: x\n   bad: indentation\n",
			wantLine: 3, wantIn: "not valid YAML",
		},
		{
			name:     "two documents",
			template: "pipeline: {}\n---\npipeline: {}\n",
			wantLine: 2, wantIn: "more than one YAML document",
		},
		{
			name:     "duplicate key",
			template: "pipeline:\n  name: x\n  name: y\n",
			wantLine: 3, wantPointer: "/pipeline/name", wantIn: `key "name" appears twice`,
		},
		{
			name:     "anchor",
			template: "pipeline:\n  tags: &t {a: b}\n  x: *t\n",
			wantLine: 2, wantPointer: "/pipeline/tags", wantIn: "anchors and aliases", wantCount: 2,
		},
		{
			name:     "not a pipeline",
			template: "stages: []\n",
			wantLine: 1, wantPointer: "/stages", wantIn: "unknown top-level key", wantCount: 2,
		},
		{
			name:     "duplicate stage identifier",
			template: strings.Replace(stage(step("K8sRollingDeploy", "a", "{}")), "  stages:\n", "  stages:\n    - stage: {name: t, identifier: s, type: Deployment, spec: {deploymentType: Kubernetes, service: {serviceRef: svc}, environment: {environmentRef: env}, execution: {steps: [{step: {type: Wait, name: w, identifier: w, spec: {duration: 1m}}}]}}, failureStrategies: []}\n", 1),
			wantLine: 11, wantPointer: "/pipeline/stages/1/stage/identifier", wantIn: `stage identifier "s" is already used by the stage at /pipeline/stages/0/stage`,
		},
		{
			name:     "duplicate step identifier",
			template: stage(step("K8sRollingDeploy", "a", "{}") + "\n" + step("K8sRollingDeploy", "a", "{}")),
			wantLine: 27, wantPointer: "/pipeline/stages/0/stage/spec/execution/steps/1/step/identifier", wantIn: `step identifier "a" is already used in this stage`,
		},
		{
			name:     "reserved step identifier",
			template: stage(step("K8sRollingDeploy", "parallel", "{}")),
			wantLine: 21, wantPointer: "/pipeline/stages/0/stage/spec/execution/steps/0/step/identifier", wantIn: "reserves",
		},
		{
			name:     "unknown step type",
			template: stage(step("K8sRollingDeplo", "a", "{}")),
			wantLine: 18, wantPointer: "/pipeline/stages/0/stage/spec/execution/steps/0/step", wantIn: `type "K8sRollingDeplo" is not one the schema knows here`,
			needsSchema: true,
		},
		{
			name:     "schema: wrong value in a step spec",
			template: stage(step("Wait", "w", "{duration: soon}")),
			wantLine: 23, wantPointer: "/pipeline/stages/0/stage/spec/execution/steps/0/step/spec/duration", wantIn: "does not match pattern",
			needsSchema: true,
		},
		{
			name:     "schema: approval without approvers",
			template: stage(step("HarnessApproval", "a", "{includePipelineExecutionHistory: true}")),
			wantLine: 23, wantPointer: "/pipeline/stages/0/stage/spec/execution/steps/0/step/spec", wantIn: "missing property 'approvers'",
			needsSchema: true,
		},
		{
			name:     "schema: unknown deployment type",
			template: strings.Replace(stage(step("Wait", "w", "{duration: 1m}")), "deploymentType: Kubernetes", "deploymentType: Kube", 1),
			wantLine: 13, wantPointer: "/pipeline/stages/0/stage/spec/deploymentType", wantIn: "value must be one of",
			needsSchema: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsSchema {
				requireSchemas(t)
			}
			tm := templatesWith(t, map[string]string{"templates/api-pipeline-template.yaml": tt.template})
			_, err := Pipeline(tm, apiService(), testOpts(t, catalog.DefaultSettings(), testSource()))
			var errs TemplateErrors
			if !errors.As(err, &errs) {
				t.Fatalf("Pipeline() error = %v, want TemplateErrors", err)
			}
			e := errs[0]
			if want := max(tt.wantCount, 1); len(errs) != want {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), want, errs)
			}
			if e.Template != "templates/api-pipeline-template.yaml" || e.Line != tt.wantLine || e.Pointer != tt.wantPointer || !strings.Contains(e.Message, tt.wantIn) {
				t.Errorf("got %s\nwant line %d, pointer %q, message with %q", e, tt.wantLine, tt.wantPointer, tt.wantIn)
			}
		})
	}
}
