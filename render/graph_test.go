package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/catalog"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/templates"
)

// TestChecksBetweenEntities breaks the built-in api pipeline template in
// one way each and expects the check that catches it, on the template
// line that holds the fault.
func TestChecksBetweenEntities(t *testing.T) {
	base := string(templates.Default()["api"+TemplateSuffix])
	tests := []struct {
		name     string
		old, new string
		want     string // in the message of the first error
		wantLine string // in the template line of the first error
	}{
		{
			name:     "a stage deploys another Service",
			old:      "serviceRef: {{$.Service.Identifier}}",
			new:      "serviceRef: {{$.Service.Identifier}}_v1",
			want:     `deploys the Service "payment_service_v1", which is not rendered: this service's Service is "payment_service"`,
			wantLine: "serviceRef:",
		},
		{
			name:     "an environment the settings do not render",
			old:      "environmentRef: {{.Environment.Identifier}}",
			new:      "environmentRef: staging",
			want:     `environmentRef "staging" names no environment the settings render (int_stable, pre_stable, prod)`,
			wantLine: "environmentRef: staging",
		},
		{
			name: "delegate selectors in a KubernetesDirect infrastructure's inputs",
			old:  "              - identifier: {{.Infrastructure}}\n",
			new: "              - identifier: {{.Infrastructure}}\n                inputs:\n                  identifier: {{.Infrastructure}}\n" +
				"                  spec:\n                    delegateSelectors:\n                      - {{quote .DelegateSelector}}\n",
			want:     "inputs sets spec.delegateSelectors, which the infrastructure definition int_stable_euw1_k8s does not have: Harness ignores it",
			wantLine: "delegateSelectors:",
		},
		{
			name:     "serviceInputs that the Service fixes",
			old:      "                            spec:\n                              paths:\n",
			new:      "                            spec:\n                              connectorRef: {{quote $.Settings.Connector}}\n                              paths:\n",
			want:     `serviceInputs sets serviceDefinition.spec.manifests[manifest:k8s_manifests].manifest.spec.store.spec.connectorRef, which the Service payment_service fixes ("github_platform_next_cross_org")`,
			wantLine: "connectorRef:",
		},
		{
			name:     "serviceInputs that the Service does not have",
			old:      "                  artifacts:\n",
			new:      "                  variables:\n                    - {name: imageTag, type: String, value: <+pipeline.variables.imageTag>}\n                  artifacts:\n",
			want:     "serviceInputs sets serviceDefinition.spec.variables, which the Service payment_service does not have",
			wantLine: "variables:",
		},
		{
			name:     "a Service runtime input left unfilled",
			old:      "                          valuesPaths:\n                            - {{quote .ValuesPath}}\n",
			new:      "",
			want:     "leaves unfilled what the Service payment_service marks <+input>: serviceDefinition.spec.manifests[manifest:k8s_manifests].manifest.spec.valuesPaths",
			wantLine: "serviceInputs:",
		},
		{
			name:     "a deployment type other than the Service's",
			old:      "          deploymentType: Kubernetes",
			new:      "          deploymentType: NativeHelm",
			want:     "has deploymentType NativeHelm, and its Service payment_service has type Kubernetes",
			wantLine: "deploymentType: NativeHelm",
		},
		{
			name:     "a pipeline runtime input the trigger does not fill",
			old:      "  stages:\n",
			new:      "    - {name: replicas, type: String, value: <+input>}\n  stages:\n",
			want:     "pipeline.variables[replicas].value is a runtime input (<+input>) that the new-image trigger does not fill",
			wantLine: "replicas",
		},
		{
			name:     "no imageTag for the trigger to set",
			old:      "    - name: imageTag\n",
			new:      "    - name: tag\n",
			want:     "the new-image trigger sets pipeline.variables[imageTag], which the pipeline does not have",
			wantLine: "variables:",
		},
		{
			name:     "an identifier of the template's own",
			old:      "  identifier: {{.Pipeline.Identifier}}",
			new:      "  identifier: {{.Service.Identifier}}_pipeline",
			want:     `the pipeline identifier "payment_service_pipeline" is not the one the application gives it, "payment_service_cd"`,
			wantLine: "_pipeline",
		},
		{
			name:     "no tag service",
			old:      "    service: {{quote .Service.Name}}\n",
			new:      "",
			want:     "the pipeline must carry the tag service: \"payment-service\"",
			wantLine: "tags:",
		},
		{
			name:     "an approver the settings do not declare",
			old:      "userGroups: {{quoteList .Gate.UserGroups}}",
			new:      "userGroups: [account.everyone]",
			want:     `user group "account.everyone" is not one the settings declare (account.prod_approvers)`,
			wantLine: "account.everyone",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.old, tc.new, 1)
			if src == base {
				t.Fatalf("the template has no %q to replace", tc.old)
			}
			tm := templatesWith(t, map[string]string{"templates/api" + TemplateSuffix: src})
			_, err := Pipeline(tm, apiService(), testOpts(t, catalog.DefaultSettings(), testSource()))
			var errs TemplateErrors
			if !errors.As(err, &errs) {
				t.Fatalf("Pipeline() = %v, want TemplateErrors", err)
			}
			e := errs[0]
			if !strings.Contains(e.Message, tc.want) {
				t.Errorf("first error:\n%s\nwant one with\n%s", e, tc.want)
			}
			lines := strings.Split(src, "\n")
			if e.Line < 1 || e.Line > len(lines) || !strings.Contains(lines[e.Line-1], tc.wantLine) {
				t.Errorf("error on template line %d, want the line holding %q:\n%s", e.Line, tc.wantLine, e)
			}
		})
	}
}

// TestExternalEntitiesResolve: a connector or user group declared in
// external resolves; the same reference without it does not.
func TestExternalEntitiesResolve(t *testing.T) {
	src := strings.Replace(string(templates.Default()["api"+TemplateSuffix]), "userGroups: {{quoteList .Gate.UserGroups}}", "userGroups: [account.everyone]", 1)
	tm := templatesWith(t, map[string]string{"templates/api" + TemplateSuffix: src})
	s := catalog.DefaultSettings()
	if _, err := Pipeline(tm, apiService(), testOpts(t, s, testSource())); err == nil {
		t.Fatal("an undeclared user group rendered")
	}
	s.External.UserGroups = []string{"account.everyone"}
	if _, err := Pipeline(tm, apiService(), testOpts(t, s, testSource())); err != nil {
		t.Errorf("with the user group declared: %v", err)
	}
}
