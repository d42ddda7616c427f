package harnesstest_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/internal/sharedfiles"
)

// Entities as the application renders them, in org default, project
// payments.
const (
	serviceYAML = `service:
  name: payments api
  identifier: payments_api
  tags:
    managed_by: pipeline-orchestrator
  serviceDefinition:
    type: Kubernetes
    spec:
      manifests:
        - manifest:
            identifier: main
            type: K8sManifest
            spec:
              store:
                type: Github
                spec:
                  connectorRef: gh_conn
                  gitFetchType: Branch
                  branch: main
                  paths: <+input>
      artifacts:
        primary:
          primaryArtifactRef: image
          sources:
            - identifier: image
              type: DockerRegistry
              spec:
                connectorRef: registry
                imagePath: company/payments-api
                tag: <+input>
`
	environmentYAML = `environment:
  name: prod
  identifier: prod
  orgIdentifier: default
  projectIdentifier: payments
  type: Production
  tags:
    managed_by: pipeline-orchestrator
`
	infrastructureYAML = `infrastructureDefinition:
  name: prod eu
  identifier: prod_eu
  orgIdentifier: default
  projectIdentifier: payments
  environmentRef: prod
  deploymentType: Kubernetes
  type: KubernetesDirect
  tags:
    managed_by: pipeline-orchestrator
  spec:
    connectorRef: k8s_eu
    namespace: payments
    releaseName: release-payments
  allowSimultaneousDeployments: false
`
	deployPipelineYAML = `pipeline:
  name: payments api cd
  identifier: payments_api_cd
  orgIdentifier: default
  projectIdentifier: payments
  tags:
    managed_by: pipeline-orchestrator
  stages:
    - stage:
        name: prod eu
        identifier: prod_eu
        type: Deployment
        spec:
          deploymentType: Kubernetes
          service:
            serviceRef: payments_api
          environment:
            environmentRef: prod
            deployToAll: false
            infrastructureDefinitions:
              - identifier: prod_eu
          execution:
            steps:
              - step:
                  type: K8sRollingDeploy
                  name: rolling
                  identifier: rolling
                  timeout: 10m
                  spec:
                    skipDryRun: false
        failureStrategies:
          - onFailure:
              errors:
                - AllErrors
              action:
                type: StageRollback
`
	triggerYAML = `trigger:
  name: on new image
  identifier: on_new_image
  enabled: true
  orgIdentifier: default
  projectIdentifier: payments
  pipelineIdentifier: payments_api_cd
  tags:
    managed_by: pipeline-orchestrator
  source:
    type: Webhook
    spec:
      type: Custom
      spec:
        payloadConditions: []
        headerConditions: []
  inputYaml: |
    pipeline:
      identifier: payments_api_cd
      variables:
        - name: imageTag
          type: String
          value: <+trigger.payload.imageTag>
`
	connectorYAML = `connector:
  name: platform next
  identifier: gh_conn
  orgIdentifier: default
  projectIdentifier: payments
  type: Github
  tags:
    managed_by: pipeline-orchestrator
  spec:
    url: https://github.com/company/platform-next
    type: Repo
    executeOnDelegate: false
    authentication:
      type: Http
      spec:
        type: GithubApp
        spec:
          installationId: "123"
          applicationId: "456"
          privateKeyRef: account.po_github_app_key
    apiAccess:
      type: GithubApp
      spec:
        installationId: "123"
        applicationId: "456"
        privateKeyRef: account.po_github_app_key
`
)

// scopeQuery is the query of a call in org default, project payments, with
// extra pairs.
func scopeQuery(srv *harnesstest.Server, extra ...string) url.Values {
	q := url.Values{"accountIdentifier": {srv.AccountID()}, "orgIdentifier": {"default"}, "projectIdentifier": {"payments"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

// ngBody is the JSON request DTO of a service, environment or
// infrastructure definition, built as the client builds it.
func ngBody(tb testing.TB, kind, src string, override map[string]any) string {
	tb.Helper()
	var doc map[string]map[string]any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		tb.Fatal(err)
	}
	root := map[string]string{"service": "service", "environment": "environment", "infrastructure": "infrastructureDefinition"}[kind]
	info := doc[root]
	body := map[string]any{"identifier": info["identifier"], "orgIdentifier": "default", "projectIdentifier": "payments",
		"name": info["name"], "yaml": src}
	switch kind {
	case "environment":
		body["type"] = info["type"]
	case "infrastructure":
		body["type"], body["environmentRef"] = info["type"], info["environmentRef"]
	}
	for k, v := range override {
		if v == nil {
			delete(body, k)
			continue
		}
		body[k] = v
	}
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// connectorBody is ConnectorDTO as JSON for connector YAML.
func connectorBody(tb testing.TB, src string) string {
	tb.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// world is a stand-in with helpers that save entities over HTTP.
type world struct {
	tb  testing.TB
	srv *harnesstest.Server
}

func newWorld(tb testing.TB, opts harnesstest.Options) *world {
	tb.Helper()
	srv := harnesstest.New(opts)
	tb.Cleanup(srv.Close)
	return &world{tb: tb, srv: srv}
}

func (w *world) call(method, path string, q url.Values, contentType, body string) response {
	w.tb.Helper()
	if q == nil {
		q = scopeQuery(w.srv)
	}
	return do(w.tb, w.srv.URL, w.srv, request{method: method, path: path, query: q, contentType: contentType, body: body})
}

var ngPaths = map[string]string{
	"service": "/ng/api/servicesV2", "environment": "/ng/api/environmentsV2", "infrastructure": "/ng/api/infrastructures",
}

func (w *world) saveNG(method, kind, src string, override map[string]any) response {
	w.tb.Helper()
	return w.call(method, ngPaths[kind], nil, "application/json", ngBody(w.tb, kind, src, override))
}

func (w *world) saveConnector(method, src string) response {
	w.tb.Helper()
	return w.call(method, "/ng/api/connectors", nil, "application/json", connectorBody(w.tb, src))
}

func (w *world) savePipeline(method, src string) response {
	w.tb.Helper()
	path := "/pipeline/api/pipelines/v2"
	if method == "PUT" {
		path += "/payments_api_cd"
	}
	return w.call(method, path, nil, "application/yaml", src)
}

func (w *world) saveTrigger(method, src string) response {
	w.tb.Helper()
	path := "/pipeline/api/triggers"
	if method == "PUT" {
		path += "/on_new_image"
	}
	return w.call(method, path, scopeQuery(w.srv, "targetIdentifier", "payments_api_cd"), "application/yaml", src)
}

// must fails the test unless r is a 200 SUCCESS.
func (w *world) must(what string, r response) response {
	w.tb.Helper()
	if r.status != 200 || r.body["status"] != "SUCCESS" {
		w.tb.Fatalf("%s: %d %s", what, r.status, r.raw)
	}
	return r
}

// wantError checks an error answer's status, envelope status, code and
// message (message "" is not checked; a message ending in "…" is a prefix).
func wantError(tb testing.TB, r response, status int, envelope, code, message string) {
	tb.Helper()
	got := fmt.Sprintf("%d %v %v", r.status, r.body["status"], r.body["code"])
	want := fmt.Sprintf("%d %s %s", status, envelope, code)
	if got != want {
		tb.Errorf("answer %s, want %s: %s", got, want, r.raw)
		return
	}
	msg, _ := r.body["message"].(string)
	switch {
	case message == "":
	case strings.HasSuffix(message, "…"):
		if !strings.HasPrefix(msg, strings.TrimSuffix(message, "…")) {
			tb.Errorf("message %q, want a prefix %q", msg, strings.TrimSuffix(message, "…"))
		}
	case msg != message:
		tb.Errorf("message %q, want %q", msg, message)
	}
}

// full stores every entity of the deploy through the API.
func (w *world) full() {
	w.tb.Helper()
	w.srv.PutSecret("account.po_github_app_key", "-----BEGIN RSA PRIVATE KEY-----")
	w.must("connector", w.saveConnector("POST", connectorYAML))
	w.must("environment", w.saveNG("POST", "environment", environmentYAML, nil))
	w.must("infrastructure", w.saveNG("POST", "infrastructure", infrastructureYAML, nil))
	w.must("service", w.saveNG("POST", "service", serviceYAML, nil))
	w.must("pipeline", w.savePipeline("POST", deployPipelineYAML))
	w.must("trigger", w.saveTrigger("POST", triggerYAML))
}

func TestDuplicatesAnswerAsEachKindDoes(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.full()
	wantError(t, w.saveNG("POST", "service", serviceYAML, nil), 400, "ERROR", "INVALID_REQUEST",
		"Error while saving service [payments_api]: Service [payments_api] under Project[payments], Organization [default] in Account [test_account] already exists")
	wantError(t, w.saveNG("POST", "environment", environmentYAML, nil), 400, "ERROR", "INVALID_REQUEST",
		"Error while saving environment [prod]: Environment [prod] under Project[payments], Organization [default] in Account [test_account] already exists")
	wantError(t, w.saveNG("POST", "infrastructure", infrastructureYAML, nil), 400, "ERROR", "DUPLICATE_FIELD",
		"Infrastructure [prod_eu] under Environment [prod] Project[payments], Organization [default] in Account [test_account] already exists")
	wantError(t, w.saveTrigger("POST", triggerYAML), 400, "ERROR", "INVALID_REQUEST",
		"Failed while Saving Trigger: Trigger [on_new_image] already exists or is soft deleted")
	wantError(t, w.saveConnector("POST", connectorYAML), 400, "ERROR", "INVALID_REQUEST",
		"Connector: platform next has been given an identifier: gh_conn that already exists. Please enter a unique ID.")
	wantError(t, w.savePipeline("POST", deployPipelineYAML), 400, "ERROR", "DUPLICATE_FIELD", "")
}

func TestMissingEntitiesAnswerAsEachKindDoes(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("environment", w.saveNG("POST", "environment", environmentYAML, nil))
	env := scopeQuery(w.srv, "environmentIdentifier", "prod")
	pipe := scopeQuery(w.srv, "targetIdentifier", "payments_api_cd")
	tests := []struct {
		name                    string
		method, path            string
		q                       url.Values
		contentType, body       string
		status                  int
		envelope, code, message string
	}{
		// Gets: javax.ws.rs.NotFoundException → 400 FAILURE for the NG
		// manager's kinds; EntityNotFoundException → 404 for triggers.
		{"get service", "GET", "/ng/api/servicesV2/nope", nil, "", "", 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
			"Service with identifier [nope] in project [payments], org [default] not found"},
		{"get environment", "GET", "/ng/api/environmentsV2/nope", nil, "", "", 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
			"Environment with identifier [nope] in project [payments], org [default] not found"},
		{"get infrastructure", "GET", "/ng/api/infrastructures/nope", env, "", "", 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
			"Infrastructure with identifier [nope] in project [payments], org [default], environment [prod] not found"},
		{"get connector", "GET", "/ng/api/connectors/nope", nil, "", "", 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
			"Connector with identifier [nope] not found in project [payments] and org [default]."},
		{"get trigger", "GET", "/pipeline/api/triggers/nope", pipe, "", "", 404, "ERROR", "ENTITY_NOT_FOUND",
			"Trigger nope does not exist"},
		// Updates.
		{"update service", "PUT", "/ng/api/servicesV2", nil, "application/json", ngBody(t, "service", serviceYAML, nil),
			400, "ERROR", "INVALID_REQUEST", "Service [payments_api] under Project[payments], Organization [default] doesn't exist."},
		{"update environment", "PUT", "/ng/api/environmentsV2", nil, "application/json",
			ngBody(t, "environment", strings.ReplaceAll(environmentYAML, "prod", "qa"), nil),
			400, "ERROR", "INVALID_REQUEST", "Environment [qa] under Project[payments], Organization [default] doesn't exist."},
		{"update infrastructure", "PUT", "/ng/api/infrastructures", nil, "application/json", ngBody(t, "infrastructure", infrastructureYAML, nil),
			400, "ERROR", "INVALID_REQUEST", "Infrastructure [prod_eu] under Environment [prod], Project [payments], Organization [default] doesn't exist."},
		{"update connector", "PUT", "/ng/api/connectors", nil, "application/json",
			connectorBody(t, strings.ReplaceAll(connectorYAML, "account.po_github_app_key", "x")),
			400, "ERROR", "INVALID_REQUEST", ""},
		{"update trigger", "PUT", "/pipeline/api/triggers/on_new_image", pipe, "application/yaml", triggerYAML,
			404, "ERROR", "ENTITY_NOT_FOUND", "Trigger on_new_image does not exist"},
		// Deletes.
		{"delete service", "DELETE", "/ng/api/servicesV2/nope", nil, "", "", 400, "ERROR", "INVALID_REQUEST",
			"Service [nope] under Project[payments], Organization [default] doesn't exist."},
		{"delete environment", "DELETE", "/ng/api/environmentsV2/nope", nil, "", "", 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
			"Environment with identifier [nope] in project [payments], org [default] not found"},
		{"delete infrastructure", "DELETE", "/ng/api/infrastructures/nope", env, "", "", 400, "ERROR", "INVALID_REQUEST",
			"Infrastructure [nope] under Environment [prod], Project[payments], Organization [default] doesn't exist."},
		{"delete connector", "DELETE", "/ng/api/connectors/nope", nil, "", "", 400, "ERROR", "INVALID_REQUEST",
			"No connector exists with the identifier nope in account test_account, organisation default, project payments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, w.call(tt.method, tt.path, tt.q, tt.contentType, tt.body), tt.status, tt.envelope, tt.code, tt.message)
		})
	}
	t.Run("update connector without a secret problem", func(t *testing.T) {
		w.srv.PutSecret("account.po_github_app_key", "pem")
		wantError(t, w.saveConnector("PUT", connectorYAML), 400, "ERROR", "INVALID_REQUEST",
			"No connector exists with the  Identifier gh_conn")
	})
	t.Run("delete trigger: no check, data:true", func(t *testing.T) {
		r := w.must("delete trigger", w.call("DELETE", "/pipeline/api/triggers/nope", pipe, "", ""))
		if r.body["data"] != true {
			t.Errorf("data = %v, want true", r.body["data"])
		}
	})
}

func TestInfrastructureNeedsItsEnvironment(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	wantError(t, w.saveNG("POST", "infrastructure", infrastructureYAML, nil), 400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION",
		"Environment with ref [prod] not found")
	wantError(t, w.call("GET", "/ng/api/infrastructures/prod_eu", scopeQuery(w.srv, "environmentIdentifier", "prod"), "", ""),
		400, "FAILURE", "RESOURCE_NOT_FOUND_EXCEPTION", "Environment with ref [prod] not found")
	if n := len(w.srv.Entities(harnesstest.KindInfrastructure, "default", "payments")); n != 0 {
		t.Errorf("%d infrastructures stored, want 0", n)
	}
}

func TestDeploymentTypesCannotChange(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("environment", w.saveNG("POST", "environment", environmentYAML, nil))
	w.must("infrastructure", w.saveNG("POST", "infrastructure", infrastructureYAML, nil))
	w.must("service", w.saveNG("POST", "service", serviceYAML, nil))

	wantError(t, w.saveNG("PUT", "service", strings.Replace(serviceYAML, "type: Kubernetes", "type: NativeHelm", 1), nil),
		400, "ERROR", "INVALID_REQUEST", "Service Deployment Type is not allowed to change.")
	wantError(t, w.saveNG("PUT", "infrastructure", strings.Replace(infrastructureYAML, "deploymentType: Kubernetes", "deploymentType: NativeHelm", 1), nil),
		400, "ERROR", "INVALID_REQUEST", "Infrastructure Deployment Type is not allowed to change.")
	wantError(t, w.saveNG("PUT", "infrastructure", strings.Replace(infrastructureYAML, "type: KubernetesDirect", "type: KubernetesGcp", 1),
		map[string]any{"type": "KubernetesGcp"}),
		400, "ERROR", "INVALID_REQUEST", "Infrastructure Type is not allowed to change.")
	// The same types save.
	w.must("service update", w.saveNG("PUT", "service", strings.Replace(serviceYAML, "payments api", "payments api v2", 1),
		map[string]any{"name": "payments api v2"}))
}

func TestStageDeploymentTypeMustMatchItsService(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	helm := strings.Replace(deployPipelineYAML, "deploymentType: Kubernetes", "deploymentType: NativeHelm", 1)

	// No Service yet: Harness saves the pipeline anyway.
	w.must("pipeline before its service", w.savePipeline("POST", helm))

	w.must("service", w.saveNG("POST", "service", serviceYAML, nil))
	wantError(t, w.savePipeline("PUT", helm), 400, "ERROR", "INVALID_REQUEST",
		"Error while updating pipeline [payments_api_cd]: deploymentType should be the same as in service [payments_api]. Please correct it and try again")
	w.srv.DeletePipeline("default", "payments", "payments_api_cd")
	wantError(t, w.savePipeline("POST", helm), 400, "ERROR", "FILTER_CREATION_ERROR",
		"deploymentType should be the same as in service [payments_api]. Please correct it and try again")
	w.must("matching pipeline", w.savePipeline("POST", deployPipelineYAML))
}

func TestEnvironmentYAMLMustNameTheRequestScope(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	noScope := strings.Replace(strings.Replace(environmentYAML, "  orgIdentifier: default\n", "", 1), "  projectIdentifier: payments\n", "", 1)
	wantError(t, w.saveNG("POST", "environment", noScope, nil), 400, "ERROR", "INVALID_REQUEST",
		"For the environment [name: prod, identifier: prod], Found mismatch in following fields between yaml and requested value respectively: …")
	wantError(t, w.saveNG("POST", "environment", strings.Replace(environmentYAML, "orgIdentifier: default", "orgIdentifier: other", 1), nil),
		400, "ERROR", "INVALID_REQUEST", "For the environment …")
	wantError(t, w.saveNG("POST", "environment", environmentYAML, map[string]any{"type": "PreProduction"}),
		400, "ERROR", "INVALID_REQUEST", "For the environment …")
	// A Service's YAML may leave its scope out: the DTO's counts.
	w.must("service without scope in its yaml", w.saveNG("POST", "service", serviceYAML, nil))
	wantError(t, w.saveNG("POST", "service", serviceYAML, map[string]any{"identifier": "other"}), 400, "ERROR", "INVALID_REQUEST",
		"Service Identifier : other in service request doesn't match with identifier : payments_api given in yaml")
}

func TestRequiredFields(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("environment", w.saveNG("POST", "environment", environmentYAML, nil))
	tests := []struct {
		name                    string
		got                     func() response
		status                  int
		envelope, code, message string
	}{
		{"service identifier", func() response {
			return w.saveNG("POST", "service", serviceYAML, map[string]any{"identifier": nil})
		}, 400, "FAILURE", "INVALID_REQUEST", "identifier: must not be null"},
		{"environment type", func() response {
			return w.saveNG("POST", "environment", strings.Replace(environmentYAML, "prod", "qa", -1), map[string]any{"type": nil})
		}, 400, "FAILURE", "INVALID_REQUEST", "type: must not be null"},
		{"infrastructure deploymentType and namespace", func() response {
			src := strings.Replace(strings.Replace(infrastructureYAML, "  deploymentType: Kubernetes\n", "", 1), "    namespace: payments\n", "", 1)
			return w.saveNG("POST", "infrastructure", src, nil)
		}, 400, "ERROR", "INVALID_REQUEST", "Infrastructure [prod_eu]: missing required fields: deploymentType, spec.namespace"},
		{"infrastructure yaml", func() response {
			return w.saveNG("POST", "infrastructure", infrastructureYAML, map[string]any{"yaml": ""})
		}, 400, "ERROR", "INVALID_REQUEST", ""},
		{"connector name", func() response {
			return w.saveConnector("POST", strings.Replace(connectorYAML, "  name: platform next\n", "", 1))
		}, 400, "FAILURE", "INVALID_REQUEST", "name: must not be null"},
		{"connector type", func() response {
			return w.saveConnector("POST", strings.Replace(connectorYAML, "  type: Github\n", "", 1))
		}, 400, "ERROR", "INVALID_REQUEST", "Connector type cannot be null"},
		{"github app private key", func() response {
			return w.saveConnector("POST", strings.Replace(connectorYAML, "          privateKeyRef: account.po_github_app_key\n", "", 1))
		}, 400, "FAILURE", "INVALID_REQUEST", "connector.spec.authentication.spec.spec.privateKeyRef: must not be null"},
		{"github app installation", func() response {
			return w.saveConnector("POST", strings.Replace(connectorYAML, `          installationId: "123"`+"\n", "", 1))
		}, 400, "FAILURE", "INVALID_REQUEST", "…"},
		{"trigger name", func() response {
			return w.saveTrigger("POST", strings.Replace(triggerYAML, "  name: on new image\n", "", 1))
		}, 400, "ERROR", "INVALID_REQUEST", "Failed while Saving Trigger: Name can not be empty"},
		{"trigger identifier", func() response {
			return w.saveTrigger("POST", strings.Replace(triggerYAML, "  identifier: on_new_image\n", "", 1))
		}, 400, "ERROR", "INVALID_REQUEST", "Failed while Saving Trigger: Identifier can not be empty"},
		{"trigger target", func() response {
			return w.call("POST", "/pipeline/api/triggers", nil, "application/yaml", triggerYAML)
		}, 400, "FAILURE", "INVALID_REQUEST", "targetIdentifier: must not be null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, tt.got(), tt.status, tt.envelope, tt.code, tt.message)
		})
	}
	for _, k := range []harnesstest.Kind{harnesstest.KindService, harnesstest.KindInfrastructure, harnesstest.KindConnector, harnesstest.KindTrigger} {
		if n := len(w.srv.Entities(k, "default", "payments")); n != 0 {
			t.Errorf("%d %ss stored, want 0", n, k)
		}
	}
}

func TestTriggerUpdateMustKeepItsIdentifier(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("trigger", w.saveTrigger("POST", triggerYAML))
	other := strings.Replace(triggerYAML, "identifier: on_new_image", "identifier: on_other", 1)
	wantError(t, w.saveTrigger("PUT", other), 400, "ERROR", "INVALID_REQUEST",
		"Failed while updating Trigger: Identifier in url and yaml do not match")
}

// schemas reads Harness's published schemas, or skips.
func schemas(tb testing.TB) harnesstest.Options {
	tb.Helper()
	var opts harnesstest.Options
	for name, dst := range map[string]*[]byte{"harness-pipeline-v0.json": &opts.PipelineSchema, "harness-trigger-v0.json": &opts.TriggerSchema} {
		path, ok := sharedfiles.Path("schemas", name)
		if !ok {
			tb.Skipf("Harness schema not found at %s: schema checks not run", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		*dst = b
	}
	return opts
}

func TestSchemasOnSave(t *testing.T) {
	w := newWorld(t, schemas(t))
	w.full() // the application's entities satisfy the schemas

	t.Run("pipeline", func(t *testing.T) {
		bad := strings.Replace(deployPipelineYAML, "identifier: prod_eu\n        type: Deployment", "identifier: prod-eu\n        type: Deployment", 1)
		r := w.savePipeline("PUT", bad)
		wantError(t, r, 400, "ERROR", "SCHEMA_VALIDATION_FAILED", "")
		meta, _ := r.body["metadata"].(map[string]any)
		if errs, _ := meta["schemaErrors"].([]any); meta["type"] != "YamlSchemaErrorWrapperDTO" || len(errs) == 0 {
			t.Errorf("metadata = %v, want the schema errors", r.body["metadata"])
		}
	})
	t.Run("service definition", func(t *testing.T) {
		bad := strings.Replace(serviceYAML, "type: K8sManifest", "type: NoSuchManifest", 1)
		r := w.saveNG("PUT", "service", bad, nil)
		wantError(t, r, 400, "ERROR", "SCHEMA_VALIDATION_FAILED", "")
		if msg, _ := r.body["message"].(string); !strings.HasPrefix(msg, "/service/serviceDefinition/") {
			t.Errorf("message %q does not point into the serviceDefinition", msg)
		}
	})
	t.Run("trigger", func(t *testing.T) {
		bad := strings.Replace(triggerYAML, "type: Custom", "type: NoSuchSource", 1)
		wantError(t, w.saveTrigger("PUT", bad), 400, "ERROR", "INVALID_REQUEST", "Failed while updating Trigger: Invalid yaml: …")
	})
	got := w.srv.Pipelines("default", "payments")["payments_api_cd"]
	if string(got) != deployPipelineYAML {
		t.Errorf("a refused update changed the pipeline:\n%s", got)
	}
}

// TestNoSchemasNoSchemaCheck pins what the package documentation lists as
// lenient: without schemas, what a schema would refuse saves.
func TestNoSchemasNoSchemaCheck(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("pipeline whose stage identifier has a hyphen", w.savePipeline("POST",
		strings.Replace(deployPipelineYAML, "identifier: prod_eu\n        type: Deployment", "identifier: prod-eu\n        type: Deployment", 1)))
}

func TestReferencedEntitiesAreNotDeleted(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.full()
	env := scopeQuery(w.srv, "environmentIdentifier", "prod")
	wantError(t, w.call("DELETE", "/ng/api/servicesV2/payments_api", nil, "", ""), 400, "ERROR", "ENTITY_REFERENCE_EXCEPTION",
		"The service payments_api cannot be deleted because it is being referenced in 1 entity. To delete your service, please remove the reference service from these entities.")
	wantError(t, w.call("DELETE", "/ng/api/environmentsV2/prod", nil, "", ""), 400, "ERROR", "ENTITY_REFERENCE_EXCEPTION",
		"The environment prod cannot be deleted because it is being referenced in 1 entity. To delete your environment, please remove the environment references from these entities.")
	wantError(t, w.call("DELETE", "/ng/api/infrastructures/prod_eu", env, "", ""), 400, "ERROR", "ENTITY_REFERENCE_EXCEPTION",
		"The infrastructure prod_eu cannot be deleted because it is being referenced in 1 entity. To delete your infrastructure, please remove the reference infrastructure from these entities.")
	wantError(t, w.call("DELETE", "/ng/api/connectors/gh_conn", nil, "", ""), 400, "ERROR", "ENTITY_REFERENCE_EXCEPTION",
		"Could not delete the connector gh_conn as it is referenced by other entities")
	wantError(t, w.call("DELETE", "/ng/api/servicesV2/payments_api", scopeQuery(w.srv, "forceDelete", "true"), "", ""),
		400, "ERROR", "INVALID_REQUEST", "Force Delete is not enabled for this account. …")

	// In reverse dependency order everything goes.
	for _, c := range []struct {
		path string
		q    url.Values
	}{
		{"/pipeline/api/triggers/on_new_image", scopeQuery(w.srv, "targetIdentifier", "payments_api_cd")},
		{"/pipeline/api/pipelines/payments_api_cd", nil},
		{"/ng/api/servicesV2/payments_api", nil},
		{"/ng/api/infrastructures/prod_eu", env},
		{"/ng/api/environmentsV2/prod", nil},
		{"/ng/api/connectors/gh_conn", nil},
	} {
		w.must("delete "+c.path, w.call("DELETE", c.path, c.q, "", ""))
	}
}

func TestCascades(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.full()
	w.must("second infrastructure", w.saveNG("POST", "infrastructure", strings.ReplaceAll(infrastructureYAML, "prod_eu", "prod_us"), nil))
	// Stop the pipeline from referencing the environment, then delete it.
	w.srv.DeletePipeline("default", "payments", "payments_api_cd")
	w.must("delete environment", w.call("DELETE", "/ng/api/environmentsV2/prod", nil, "", ""))
	if got := w.srv.Entities(harnesstest.KindInfrastructure, "default", "payments"); len(got) != 0 {
		t.Errorf("infrastructures left after their environment was deleted: %v", keys(got))
	}

	w.must("pipeline again", w.savePipeline("POST", deployPipelineYAML))
	w.must("trigger again", w.saveTrigger("POST", triggerYAML)) // DeletePipeline took it
	w.must("delete pipeline", w.call("DELETE", "/pipeline/api/pipelines/payments_api_cd", nil, "", ""))
	if got := w.srv.Entities(harnesstest.KindTrigger, "default", "payments"); len(got) != 0 {
		t.Errorf("triggers left after their pipeline was deleted: %v", keys(got))
	}
	var cascades []string
	for _, e := range w.srv.Effects() {
		if e.Cascade {
			cascades = append(cascades, fmt.Sprintf("%s %s %s/%s", e.Kind, e.Entity, e.Parent, e.ID))
		}
	}
	want := []string{"delete infrastructure prod/prod_eu", "delete infrastructure prod/prod_us", "delete trigger payments_api_cd/on_new_image"}
	if diff := cmp.Diff(want, sorted(cascades)); diff != "" {
		t.Errorf("cascaded deletes (-want +got):\n%s", diff)
	}
}

func TestTriggerOfAMissingPipelineIsSavedDisabled(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	r := w.must("trigger", w.saveTrigger("POST", triggerYAML))
	data, _ := r.body["data"].(map[string]any)
	if data["enabled"] != false || !strings.Contains(data["yaml"].(string), "enabled: false") {
		t.Errorf("trigger of a missing pipeline: enabled %v, yaml:\n%v", data["enabled"], data["yaml"])
	}
	list := w.must("list", w.call("GET", "/pipeline/api/triggers", scopeQuery(w.srv, "targetIdentifier", "payments_api_cd"), "", ""))
	page, _ := list.body["data"].(map[string]any)
	items, _ := page["content"].([]any)
	if len(items) != 1 {
		t.Fatalf("list: %s", list.raw)
	}
	status, _ := items[0].(map[string]any)["triggerStatus"].(map[string]any)
	vs, _ := status["validationStatus"].(map[string]any)
	if vs["detailedMessage"] != "Pipeline with Ref -> test_account:default:payments:payments_api_cd does not exists" {
		t.Errorf("validation status = %v", status)
	}

	// Once the pipeline exists, saving the trigger again enables it.
	w.must("pipeline", w.savePipeline("POST", deployPipelineYAML))
	r = w.must("trigger update", w.saveTrigger("PUT", triggerYAML))
	if data, _ := r.body["data"].(map[string]any); data["enabled"] != true || data["yaml"] != triggerYAML {
		t.Errorf("trigger of an existing pipeline: %s", r.raw)
	}
}

func TestTriggerWebhookTokenSurvivesUpdates(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("pipeline", w.savePipeline("POST", deployPipelineYAML))
	w.must("trigger", w.saveTrigger("POST", triggerYAML))
	token, ok := w.srv.TriggerWebhookToken("default", "payments", "payments_api_cd", "on_new_image")
	if !ok || len(token) != 22 {
		t.Fatalf("token %q, %v; want 22 characters", token, ok)
	}
	r := w.must("update", w.saveTrigger("PUT", strings.Replace(triggerYAML, "on new image", "on a new image", 1)))
	data, _ := r.body["data"].(map[string]any)
	if url, _ := data["webhookUrl"].(string); !strings.Contains(url, "/pipeline/api/webhook/custom/"+token+"/v3?") {
		t.Errorf("webhookUrl %q does not carry the token %q", url, token)
	}
	if again, _ := w.srv.TriggerWebhookToken("default", "payments", "payments_api_cd", "on_new_image"); again != token {
		t.Errorf("token changed on update: %q, then %q", token, again)
	}
}

func TestGitHubAppConnectorNeedsItsPrivateKeySecret(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	wantError(t, w.saveConnector("POST", connectorYAML), 400, "ERROR", "INVALID_REQUEST",
		"Error while validating privateKeyRef field : No secret exists with the id po_github_app_key ")
	project := strings.ReplaceAll(connectorYAML, "account.po_github_app_key", "po_key")
	wantError(t, w.saveConnector("POST", project), 400, "ERROR", "INVALID_REQUEST",
		"Error while validating privateKeyRef field : No secret exists with the id po_key  in organization default in project payments")
	wantError(t, w.saveConnector("POST", strings.ReplaceAll(connectorYAML, "account.po_github_app_key", "project.po_key")),
		400, "ERROR", "INVALID_REQUEST", "Error while validating privateKeyRef field : Invalid Secret Reference …")

	w.srv.PutSecret("account.po_github_app_key", "pem")
	w.must("connector", w.saveConnector("POST", connectorYAML))
	w.srv.PutScopedSecret("default", "payments", "po_key", "pem")
	w.must("connector with a project secret", w.saveConnector("PUT", project))
	if v, ok := w.srv.SecretValue("default", "payments", "account.po_github_app_key"); !ok || v != "pem" {
		t.Errorf("SecretValue = %q, %v", v, ok)
	}
}

func TestTagsAreStoredAndReturned(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.full()
	want := map[string]any{"managed_by": "pipeline-orchestrator"}
	env := scopeQuery(w.srv, "environmentIdentifier", "prod")
	for _, c := range []struct {
		kind, get, list string
		q               url.Values
		wrapper         string
	}{
		{"service", "/ng/api/servicesV2/payments_api", "/ng/api/servicesV2", nil, "service"},
		{"environment", "/ng/api/environmentsV2/prod", "/ng/api/environmentsV2", nil, "environment"},
		{"infrastructure", "/ng/api/infrastructures/prod_eu", "/ng/api/infrastructures", env, "infrastructure"},
		{"connector", "/ng/api/connectors/gh_conn", "", nil, "connector"},
	} {
		got := w.must("get "+c.kind, w.call("GET", c.get, c.q, "", ""))
		data, _ := got.body["data"].(map[string]any)
		if diff := cmp.Diff(want, mapAt(data, c.wrapper)["tags"]); diff != "" {
			t.Errorf("%s get tags (-want +got):\n%s", c.kind, diff)
		}
		var list response
		if c.list != "" {
			list = w.must("list "+c.kind, w.call("GET", c.list, c.q, "", ""))
		} else {
			list = w.must("list connectors", w.call("POST", "/ng/api/connectors/listV2", nil, "application/json", `{"filterType":"Connector"}`))
		}
		page, _ := list.body["data"].(map[string]any)
		items, _ := page["content"].([]any)
		if len(items) != 1 {
			t.Fatalf("%s list: %s", c.kind, list.raw)
		}
		if diff := cmp.Diff(want, mapAt(items[0].(map[string]any), c.wrapper)["tags"]); diff != "" {
			t.Errorf("%s list tags (-want +got):\n%s", c.kind, diff)
		}
	}
	// The DTO's tags override the YAML's.
	w.must("service with DTO tags", w.saveNG("PUT", "service", serviceYAML, map[string]any{"tags": map[string]string{"team": "payments"}}))
	got := w.must("get service", w.call("GET", "/ng/api/servicesV2/payments_api", nil, "", ""))
	if diff := cmp.Diff(map[string]any{"team": "payments"}, mapAt(mapAt(got.body, "data"), "service")["tags"]); diff != "" {
		t.Errorf("tags after a DTO override (-want +got):\n%s", diff)
	}
}

func TestExecuteNeedsModuleType(t *testing.T) {
	w := newWorld(t, harnesstest.Options{})
	w.must("pipeline", w.savePipeline("POST", deployPipelineYAML))
	wantError(t, w.call("POST", "/pipeline/api/pipeline/execute/payments_api_cd", nil, "application/yaml", ""),
		400, "FAILURE", "INVALID_REQUEST", "moduleType: must not be null")
	w.must("execute", w.call("POST", "/pipeline/api/pipeline/execute/payments_api_cd", scopeQuery(w.srv, "moduleType", "cd"),
		"application/yaml", ""))
}

func TestEntityAccessors(t *testing.T) {
	srv := harnesstest.New(harnesstest.Options{})
	t.Cleanup(srv.Close)
	for kind, src := range map[harnesstest.Kind]string{
		harnesstest.KindService: serviceYAML, harnesstest.KindInfrastructure: infrastructureYAML,
		harnesstest.KindTrigger: triggerYAML, harnesstest.KindConnector: connectorYAML,
	} {
		if err := srv.PutEntity(kind, "default", "payments", []byte(src)); err != nil {
			t.Fatalf("PutEntity(%s): %v", kind, err)
		}
	}
	if err := srv.PutEntity(harnesstest.KindService, "default", "payments", []byte(environmentYAML)); err == nil {
		t.Error("PutEntity of an environment as a service: no error")
	}
	for kind, key := range map[harnesstest.Kind]string{
		harnesstest.KindService: "payments_api", harnesstest.KindInfrastructure: "prod/prod_eu",
		harnesstest.KindTrigger: "payments_api_cd/on_new_image", harnesstest.KindConnector: "gh_conn",
	} {
		got := srv.Entities(kind, "default", "payments")
		if _, ok := got[key]; !ok || len(got) != 1 {
			t.Errorf("Entities(%s) keys %v, want [%s]", kind, keys(got), key)
		}
		srv.DeleteEntity(kind, "default", "payments", key)
		if n := len(srv.Entities(kind, "default", "payments")); n != 0 {
			t.Errorf("DeleteEntity(%s, %s) left %d", kind, key, n)
		}
	}
	if _, ok := srv.TriggerWebhookToken("default", "payments", "payments_api_cd", "on_new_image"); ok {
		t.Error("a deleted trigger still has a token")
	}
	if len(srv.Effects()) != 0 {
		t.Errorf("accessors recorded effects: %v", srv.Effects())
	}
}

func mapAt(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
