package harnesstest_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

const (
	fixtureDir = "testdata/exec"
	appID      = 42
	imageTagIn = "pipeline:\n  identifier: payments_api_cd\n  variables:\n    - name: imageTag\n      type: String\n      value: v2.3.1\n"
)

var appKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// pemKey writes key as PEM: PKCS#8 ("BEGIN PRIVATE KEY"), what Harness
// reads, or PKCS#1 ("BEGIN RSA PRIVATE KEY"), what GitHub hands out.
func pemKey(tb testing.TB, key *rsa.PrivateKey, pkcs8 bool) string {
	tb.Helper()
	if !pkcs8 {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// deployWorld is a stand-in Harness whose runs read the config repo
// company/platform-next from a GitHub stand-in, where the App is installed
// on company (inst) and on company-harness (other).
type deployWorld struct {
	*world
	gh          *githubtest.Server
	inst, other int64
	files       map[string]string // the fixtures by file name, editable before saving
}

func newDeployWorld(tb testing.TB, opts harnesstest.Options) *deployWorld {
	tb.Helper()
	key, err := appKey()
	if err != nil {
		tb.Fatal(err)
	}
	gh := githubtest.New(githubtest.Options{AppID: appID, AppPublicKey: &key.PublicKey, AppSlug: "pipeline-orchestrator"})
	tb.Cleanup(gh.Close)
	d := &deployWorld{gh: gh, inst: gh.AddInstallation("company"), other: gh.AddInstallation("company-harness"),
		files: map[string]string{}}
	repo := map[string]string{}
	root := filepath.Join(fixtureDir, "repo")
	err = filepath.WalkDir(fixtureDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
			repo[filepath.ToSlash(rel)] = string(b)
			return nil
		}
		d.files[filepath.Base(p)] = string(b)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	gh.CreateRepo("company", "platform-next", "main", repo)
	gh.CreateRepo("company-harness", "harness-pipelines", "main", map[string]string{"README.md": "pipelines\n"})
	opts.GitHubAPIURL = gh.URL
	if opts.TimeScale == 0 {
		opts.TimeScale = 6000 // a 10m wait takes 100ms
	}
	d.world = newWorld(tb, opts)
	d.edit("connector-github.yaml", "APP_ID", strconv.Itoa(appID))
	d.edit("connector-github.yaml", "INSTALLATION_ID", strconv.FormatInt(d.inst, 10))
	d.srv.PutSecret("account.po_github_app_key", pemKey(tb, key, true))
	return d
}

// edit replaces old with new (every occurrence) in a fixture.
func (d *deployWorld) edit(file, old, new string) {
	d.tb.Helper()
	src, ok := d.files[file]
	if !ok || !strings.Contains(src, old) {
		d.tb.Fatalf("fixture %s has no %q", file, old)
	}
	d.files[file] = strings.ReplaceAll(src, old, new)
}

// save stores fixtures through the API, each by its kind.
func (d *deployWorld) save(files ...string) {
	d.tb.Helper()
	for _, f := range files {
		src := d.files[f]
		switch {
		case strings.HasPrefix(f, "connector-"):
			d.must(f, d.saveConnector("POST", src))
		case strings.HasPrefix(f, "environment-"):
			d.must(f, d.saveNG("POST", "environment", src, nil))
		case strings.HasPrefix(f, "infrastructure-"):
			d.must(f, d.saveNG("POST", "infrastructure", src, nil))
		case strings.Contains(f, "service"):
			d.must(f, d.saveNG("POST", "service", src, nil))
		case strings.Contains(f, "pipeline"):
			d.must(f, d.savePipeline("POST", src))
		case f == "trigger.yaml":
			d.must(f, d.saveTrigger("POST", src))
		default:
			d.tb.Fatalf("no kind for fixture %s", f)
		}
	}
}

// graph is every fixture of the deploy that runs, in dependency order.
var graph = []string{"connector-github.yaml", "connector-gcp.yaml", "connector-k8s-eu.yaml", "connector-k8s-us.yaml",
	"environment-staging.yaml", "environment-prod.yaml", "infrastructure-staging-eu.yaml", "infrastructure-prod-us.yaml",
	"service.yaml", "pipeline.yaml", "trigger.yaml"}

// without returns graph without the named fixtures.
func without(names ...string) []string {
	var out []string
	for _, g := range graph {
		if !contains(names, g) {
			out = append(out, g)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// execute starts a run over the API and returns its id.
func (d *deployWorld) execute(inputs string) string {
	d.tb.Helper()
	r := d.must("execute", d.call("POST", "/pipeline/api/pipeline/execute/payments_api_cd",
		scopeQuery(d.srv, "moduleType", "cd"), "application/yaml", inputs))
	id, _ := mapAt(mapAt(r.body, "data"), "planExecution")["uuid"].(string)
	if id == "" {
		d.tb.Fatalf("execute: no uuid: %s", r.raw)
	}
	return id
}

// await waits for the run to reach one of statuses (or end).
func (d *deployWorld) await(id string, statuses ...string) harnesstest.ExecutionRecord {
	d.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec, err := d.srv.AwaitExecution(ctx, id, statuses...)
	if err != nil {
		d.tb.Fatalf("awaiting %s in %v: %v (record %+v)", id, statuses, err, rec)
	}
	return rec
}

// v1 calls the v1 approvals API for a run.
func (d *deployWorld) v1(method, execID, body string) response {
	d.tb.Helper()
	u := d.srv.URL + "/gateway/pipeline/api/v1/orgs/default/projects/payments/approvals/execution/" + execID
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		d.tb.Fatal(err)
	}
	req.Header.Set("x-api-key", d.srv.APIKey())
	req.Header.Set("Harness-Account", d.srv.AccountID())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

func TestRunDeploysWhatTheGraphSays(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.save(graph...)
	id := d.execute(imageTagIn)

	rec := d.await(id, harnesstest.StatusApprovalWaiting)
	// The approval instance, found by the run's id through the v1 API.
	list := d.v1("GET", id, "")
	var approvals []map[string]any
	if err := json.Unmarshal([]byte(list.raw), &approvals); err != nil || list.status != 200 || len(approvals) != 1 {
		t.Fatalf("v1 approvals of the run: %d %s", list.status, list.raw)
	}
	a := approvals[0]
	if a["status"] != "WAITING" || a["type"] != "HarnessApproval" ||
		mapAt(a, "details")["approvalMessage"] != "Deploy payments api v2.3.1 to prod?" {
		t.Errorf("approval instance: %s", list.raw)
	}
	approvalID := a["id"].(string)
	if got := rec.Stages[1].Steps[1].ApprovalID; got != approvalID {
		t.Errorf("step record's approval %q, v1 API's %q", got, approvalID)
	}
	if rec.Stages[2].Status != harnesstest.StatusNotStarted {
		t.Errorf("prod stage %s while the gate waits", rec.Stages[2].Status)
	}
	// Approved through the v0 resource, by instance id.
	d.must("approve", d.call("POST", "/pipeline/api/approvals/"+approvalID+"/harness/activity",
		url.Values{"accountIdentifier": {d.srv.AccountID()}}, "application/json",
		`{"action":"APPROVE","comments":"ship it","approverInputs":[]}`))
	rec = d.await(id)

	if rec.Status != harnesstest.StatusSuccess {
		t.Fatalf("run %s: %s", rec.Status, rec.FailureMessage)
	}
	if diff := cmp.Diff([]string{"Running", "WaitStepRunning", "Running", "ApprovalWaiting", "Running", "Success"},
		rec.StatusHistory); diff != "" {
		t.Errorf("status history (-want +got):\n%s", diff)
	}
	const image = "gcr.io/company-project/payments-api:v2.3.1"
	for _, want := range []struct {
		stage, env, region, infra, namespace, cluster string
	}{
		{"staging_eu", "staging", "eu", "staging_eu", "payments-staging", "k8s_eu"},
		{"prod_us", "prod", "us", "prod_us", "payments", "k8s_us"},
	} {
		var st harnesstest.StageRecord
		for _, s := range rec.Stages {
			if s.Identifier == want.stage {
				st = s
			}
		}
		dir := "generated/payments-api/" + want.env + "/" + want.region + "/"
		got := struct {
			Service, Env, Infra, Namespace, Cluster, Image string
			Images                                         []string
			Paths                                          []string
		}{st.Service, st.Environment, st.Infrastructure, st.Namespace, st.ClusterConnector, st.Image, st.Images, nil}
		for _, f := range st.Fetched {
			if f.ConnectorRef != "platform_next" || f.Repo != "company/platform-next" || f.Ref != "main" || len(f.Commit) != 40 {
				t.Errorf("%s fetched %+v", want.stage, f)
			}
			got.Paths = append(got.Paths, f.Path)
		}
		wantGot := got
		wantGot.Service, wantGot.Env, wantGot.Infra = "payments_api", want.env, want.infra
		wantGot.Namespace, wantGot.Cluster, wantGot.Image = want.namespace, want.cluster, image
		wantGot.Images = []string{image}
		wantGot.Paths = []string{dir + "manifests.yaml", dir + "values.yaml"}
		if diff := cmp.Diff(wantGot, got); diff != "" {
			t.Errorf("stage %s (-want +got):\n%s", want.stage, diff)
		}
		if !strings.Contains(st.Manifests, "region: "+want.region) || !strings.Contains(st.Manifests, "image: "+image) {
			t.Errorf("stage %s applied:\n%s", want.stage, st.Manifests)
		}
	}
	// The files were read as the App's installation on company.
	reads := 0
	for _, r := range d.gh.Requests() {
		if strings.Contains(r.Path, "/contents/") {
			reads++
			if r.Auth != "installation:"+strconv.FormatInt(d.inst, 10) || r.Status != 200 {
				t.Errorf("GitHub read %s as %s: %d", r.Path, r.Auth, r.Status)
			}
		}
	}
	if reads != 4 {
		t.Errorf("%d file reads on GitHub, want 4", reads)
	}

	// The execution record over the wire.
	got := d.must("details", d.call("GET", "/pipeline/api/pipelines/execution/v2/"+id,
		scopeQuery(d.srv, "renderFullBottomGraph", "true"), "", ""))
	data := mapAt(got.body, "data")
	summary := mapAt(data, "pipelineExecutionSummary")
	if summary["status"] != "Success" {
		t.Errorf("summary status %v", summary["status"])
	}
	layout := mapAt(summary, "layoutNodeMap")
	var order []string
	for n, _ := summary["startingNodeId"].(string); n != ""; {
		node := mapAt(layout, n)
		order = append(order, node["nodeIdentifier"].(string)+" "+node["status"].(string))
		next, _ := mapAt(node, "edgeLayoutList")["nextIds"].([]any)
		n = ""
		if len(next) > 0 {
			n = next[0].(string)
		}
	}
	if diff := cmp.Diff([]string{"staging_eu Success", "prod_gate Success", "prod_us Success"}, order); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	var outcome map[string]any
	for _, n := range mapAt(mapAt(data, "executionGraph"), "nodeMap") {
		node := n.(map[string]any)
		if node["baseFqn"] == "pipeline.stages.prod_us.spec.execution.steps.rolling_deploy" {
			outcome = mapAt(mapAt(node, "outcomes"), "harnesstest")
		}
	}
	if imgs, _ := outcome["images"].([]any); len(imgs) != 1 || imgs[0] != image || outcome["namespace"] != "payments" {
		t.Errorf("prod_us rolling deploy outcome: %v", outcome)
	}
	if d.must("no graph", d.call("GET", "/pipeline/api/pipelines/execution/v2/"+id, nil, "", "")).body["data"].(map[string]any)["executionGraph"] != nil {
		t.Error("executionGraph without renderFullBottomGraph or stageNodeId")
	}
}

func TestCustomWebhookStartsARun(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.save(graph...)
	token, ok := d.srv.TriggerWebhookToken("default", "payments", "payments_api_cd", "on_new_image")
	if !ok {
		t.Fatal("no webhook token")
	}
	d.srv.HoldWebhookEvents(true)
	q := url.Values{"accountIdentifier": {d.srv.AccountID()}, "orgIdentifier": {"default"}, "projectIdentifier": {"payments"},
		"pipelineIdentifier": {"payments_api_cd"}, "triggerIdentifier": {"on_new_image"}}
	fired := do(t, d.srv.URL, d.srv, request{method: "POST", path: "/pipeline/api/webhook/custom/" + token + "/v3",
		query: q, key: ptr(""), contentType: "application/json", body: `{"imageTag":"v2.3.1"}`})
	event, _ := mapAt(fired.body, "data")["eventCorrelationId"].(string)
	if fired.status != 200 || event == "" {
		t.Fatalf("webhook: %d %s", fired.status, fired.raw)
	}
	details := func() response {
		return do(t, d.srv.URL, d.srv, request{method: "GET", path: "/pipeline/api/webhook/triggerProcessingDetails",
			query: url.Values{"accountIdentifier": {d.srv.AccountID()}, "eventId": {event}}, key: ptr("")})
	}
	wantError(t, details(), 400, "ERROR", "INVALID_REQUEST", "Trigger event history doesn't exist for event with eventId "+event)
	d.srv.HoldWebhookEvents(false)
	after := details()
	data := mapAt(after.body, "data")
	id, _ := data["pipelineExecutionId"].(string)
	if after.status != 200 || data["status"] != "TARGET_EXECUTION_REQUESTED" || id == "" {
		t.Fatalf("processing details: %d %s", after.status, after.raw)
	}
	d.await(id, harnesstest.StatusApprovalWaiting)
	// POST on the v1 path approves the run's single waiting approval.
	if r := d.v1("POST", id, `{"action":"APPROVE","comments":"ok"}`); r.status != 200 || r.body["status"] != "APPROVED" {
		t.Fatalf("v1 approve: %d %s", r.status, r.raw)
	}
	rec := d.await(id)
	if rec.Status != harnesstest.StatusSuccess || rec.Trigger != "on_new_image" ||
		rec.Stages[2].Image != "gcr.io/company-project/payments-api:v2.3.1" {
		t.Errorf("triggered run: %s %q trigger %q image %q", rec.Status, rec.FailureMessage, rec.Trigger, rec.Stages[2].Image)
	}

	// What Harness refuses at once.
	wantError(t, do(t, d.srv.URL, d.srv, request{method: "POST", path: "/pipeline/api/webhook/custom/nosuchtoken/v3",
		query: q, key: ptr(""), body: `{}`}), 400, "ERROR", "INVALID_REQUEST",
		"No custom trigger found for the used custom webhook token: nosuchtoken")
	wantError(t, do(t, d.srv.URL, d.srv, request{method: "POST", path: "/pipeline/api/webhook/custom/v2",
		query: q, key: ptr(""), body: `{}`}), 400, "ERROR", "INVALID_REQUEST",
		"This webhook url is no longer supported for newly created custom webhook triggers. We are migrating to new webhook urls using custom webhook tokens in the url.")
	// A trigger saved before its pipeline is disabled, and its token refused.
	d.must("trigger of another pipeline", d.call("POST", "/pipeline/api/triggers", scopeQuery(d.srv, "targetIdentifier", "other"),
		"application/yaml", strings.ReplaceAll(strings.ReplaceAll(d.files["trigger.yaml"], "payments_api_cd", "other"), "on_new_image", "t2")))
	t2, _ := d.srv.TriggerWebhookToken("default", "payments", "other", "t2")
	wantError(t, do(t, d.srv.URL, d.srv, request{method: "POST", path: "/pipeline/api/webhook/custom/" + t2 + "/v3",
		query: q, key: ptr(""), body: `{}`}), 400, "ERROR", "INVALID_REQUEST",
		"No enabled custom trigger found for the used custom webhook token: "+t2)
}

// TestStageFailsAsHarnessSays runs the graph with one thing changed and
// checks the first stage fails with Harness's message.
func TestStageFailsAsHarnessSays(t *testing.T) {
	for name, tc := range map[string]struct {
		setup  func(d *deployWorld) []string // the fixtures to save
		inputs string
		stage  string
		want   string
	}{
		"no service": {
			setup: func(d *deployWorld) []string { return without("service.yaml") },
			want:  "service with ref: [payments_api] not found",
		},
		"no environment": {
			setup: func(d *deployWorld) []string {
				return without("environment-staging.yaml", "infrastructure-staging-eu.yaml")
			},
			want: "Environment with ref: [staging] not found",
		},
		"no infrastructure": {
			setup: func(d *deployWorld) []string { return without("infrastructure-staging-eu.yaml") },
			want:  "Infrastructure definition staging_eu not found in environment staging",
		},
		"service ref left a runtime input": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "serviceRef: payments_api", "serviceRef: <+input>")
				return without("trigger.yaml")
			},
			want: "Expression (<+input>) given for service ref could not be resolved. ",
		},
		"service without a definition": {
			setup: func(d *deployWorld) []string {
				// Null, a fixed leaf: the stage's serviceInputs cannot fill it
				// (a Service without the key would take the stage's whole
				// serviceDefinition, see merge.go).
				d.files["service.yaml"] = "service:\n  name: payments api\n  identifier: payments_api\n  serviceDefinition: null\n"
				return without()
			},
			want: "Service Definition is not defined for service [Name: payments api, Identifier: payments_api]",
		},
		"service of another deployment type": {
			setup: func(d *deployWorld) []string {
				d.edit("service.yaml", "type: Kubernetes", "type: NativeHelm")
				// Saved after the pipeline, which the type check on save
				// would otherwise refuse.
				return append(without("service.yaml"), "service.yaml")
			},
			want: "Deployment type of the stage [Kubernetes] and the service [NativeHelm] do not match",
		},
		"artifact connector missing": {
			setup: func(d *deployWorld) []string { return without("connector-gcp.yaml") },
			want:  "Connector not found for identifier : [gcr]",
		},
		"artifact connector of another type": {
			setup: func(d *deployWorld) []string {
				d.edit("connector-gcp.yaml", "type: Gcp", "type: DockerRegistry")
				return without()
			},
			want: "Provided Connector gcr is not compatible with Gcr Artifact",
		},
		"image tag not given": {
			setup:  func(d *deployWorld) []string { return without() },
			inputs: "-",
			want:   "Unresolved expressions: <+pipeline.variables.imageTag>",
		},
		"image tag never reaches the artifact": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "tag: <+pipeline.variables.imageTag>", "tag: <+input>")
				return without()
			},
			want: "Artifact source [image] of service [payments_api]: tag is a runtime input (<+input>) and no value was provided",
		},
		"two artifact sources and no ref": {
			setup: func(d *deployWorld) []string {
				d.edit("service.yaml", "          primaryArtifactRef: image\n", "")
				d.edit("service.yaml", "          sources:\n", "          sources:\n            - identifier: other\n              type: Gcr\n              spec:\n                connectorRef: gcr\n                registryHostname: gcr.io\n                imagePath: x/y\n                tag: \"1\"\n")
				return without()
			},
			want: "Primary artifact ref cannot be empty when multiple sources are present",
		},
		"manifest connector missing": {
			setup: func(d *deployWorld) []string { return without("connector-github.yaml") },
			want:  "Could not fetch manifests. Connectors with identifier(s) [platform_next] not found",
		},
		"manifest paths left a runtime input": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "                              paths:\n                                - generated/payments-api/staging/eu/manifests.yaml\n", "")
				return without()
			},
			want: "Invalid argument(s): paths: is required for store type 'Github' and manifest type 'K8sManifest' in manifest with identifier: main",
		},
		"manifest file missing": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "staging/eu/manifests.yaml", "staging/eu/nothing.yaml")
				return without()
			},
			want: "Unable to fetch files for filePath [generated/payments-api/staging/eu/nothing.yaml] for Branch: main",
		},
		"branch missing": {
			setup: func(d *deployWorld) []string {
				d.edit("service.yaml", "branch: main", "branch: release")
				return without()
			},
			want: "Unable to fetch files for filePath [generated/payments-api/staging/eu/manifests.yaml] for Branch: release",
		},
		"installation not on the repo's owner": {
			setup: func(d *deployWorld) []string {
				d.edit("connector-github.yaml", `installationId: "`+strconv.FormatInt(d.inst, 10)+`"`,
					`installationId: "`+strconv.FormatInt(d.other, 10)+`"`)
				return without()
			},
			want: "Unable to fetch files for filePath [generated/payments-api/staging/eu/manifests.yaml] for Branch: main",
		},
		"app key in PKCS#1": {
			setup: func(d *deployWorld) []string {
				key, _ := appKey()
				d.srv.PutSecret("account.po_github_app_key", pemKey(d.tb, key, false))
				return without()
			},
			want: "Failed to generate token for url {gh}, installation id {inst}, cause: Invalid Github App key, Validate key is copied properly by trimming end line",
		},
		"app key of another app": {
			setup: func(d *deployWorld) []string {
				other, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					d.tb.Fatal(err)
				}
				d.srv.PutSecret("account.po_github_app_key", pemKey(d.tb, other, true))
				return without()
			},
			want: "Failed to generate token for url {gh}, installation id {inst}, cause: 401 A JSON web token could not be decoded",
		},
		"values expression without an artifact": {
			setup: func(d *deployWorld) []string {
				d.files["service.yaml"] = d.files["service.yaml"][:strings.Index(d.files["service.yaml"], "      artifacts:")]
				d.edit("pipeline.yaml", "                  artifacts:\n                    primary:\n                      primaryArtifactRef: image\n                      sources:\n                        - identifier: image\n                          type: Gcr\n                          spec:\n                            tag: <+pipeline.variables.imageTag>\n", "")
				return without()
			},
			want: "Unresolved expressions: <+artifacts.primary.image>",
		},
		"namespace left a runtime input": {
			setup: func(d *deployWorld) []string {
				d.edit("infrastructure-staging-eu.yaml", "namespace: payments-staging", "namespace: <+input>")
				return without()
			},
			want: "Invalid argument(s): namespace:  set as runtime input but no value was provided",
		},
		"infrastructure of another deployment type": {
			setup: func(d *deployWorld) []string {
				d.edit("infrastructure-staging-eu.yaml", "deploymentType: Kubernetes", "deploymentType: NativeHelm")
				return without()
			},
			want: "Deployment type of the stage [Kubernetes] and the infrastructure [NativeHelm] do not match",
		},
		"manifest paths not a list": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "paths:\n                                - generated/payments-api/staging/eu/manifests.yaml",
					"paths: generated/payments-api/staging/eu/manifests.yaml")
				return without()
			},
			want: "Incorrect value [generated/payments-api/staging/eu/manifests.yaml] for field [paths] in manifest [main] \n" +
				"Hint: Please check provided field [paths] for manifest id [main]. If using runtime input make sure that valid input is provided for manifest [main]. Service Input yaml should contain identifier [main]",
		},
		"cluster connector missing": {
			setup: func(d *deployWorld) []string { return without("connector-k8s-eu.yaml") },
			want:  "Connector not found for identifier : [k8s_eu]",
		},
		"wait of no duration": {
			setup: func(d *deployWorld) []string {
				d.edit("pipeline.yaml", "duration: 10m", "duration: 0s")
				return without()
			},
			stage: "prod_gate",
			want:  "Invalid input for duration of wait step, Duration should be greater than 0",
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeployWorld(t, harnesstest.Options{})
			d.save(tc.setup(d)...)
			in := imageTagIn
			if tc.inputs == "-" {
				in = ""
			}
			rec := d.await(d.execute(in))
			stage := tc.stage
			if stage == "" {
				stage = "staging_eu"
			}
			want := strings.NewReplacer("{gh}", d.gh.URL, "{inst}", strconv.FormatInt(d.inst, 10)).Replace(tc.want)
			var got harnesstest.StageRecord
			for _, s := range rec.Stages {
				if s.Identifier == stage {
					got = s
				}
			}
			if rec.Status != harnesstest.StatusFailed || got.Status != harnesstest.StatusFailed || got.FailureMessage != want ||
				rec.FailureMessage != want {
				t.Errorf("run %s %q; stage %s %s %q\nwant the stage Failed with %q", rec.Status, rec.FailureMessage,
					stage, got.Status, got.FailureMessage, want)
			}
		})
	}
}

func TestInfrastructureInputsFillTheDefinition(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.edit("infrastructure-staging-eu.yaml", "namespace: payments-staging", "namespace: <+input>")
	d.edit("pipeline.yaml", "              - identifier: staging_eu\n",
		"              - identifier: staging_eu\n                inputs:\n                  identifier: staging_eu\n                  type: KubernetesDirect\n                  spec:\n                    namespace: payments-<+env.identifier>\n")
	d.save(without("trigger.yaml")...)
	id := d.execute(imageTagIn)
	rec := d.await(id, harnesstest.StatusApprovalWaiting, harnesstest.StatusFailed)
	if rec.Stages[0].Namespace != "payments-staging" {
		t.Errorf("namespace %q (%s %q)", rec.Stages[0].Namespace, rec.Status, rec.FailureMessage)
	}
}

func TestApprovals(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.save(graph...)
	id := d.execute(imageTagIn)
	d.await(id, harnesstest.StatusApprovalWaiting)
	approvals := d.srv.ApprovalInstances(id)
	if len(approvals) != 1 || approvals[0].Status != harnesstest.ApprovalWaiting || approvals[0].Step != "approve_prod" {
		t.Fatalf("approval instances %+v", approvals)
	}
	aid := approvals[0].ID
	activity := func(id, body string) response {
		return d.call("POST", "/pipeline/api/approvals/"+id+"/harness/activity",
			url.Values{"accountIdentifier": {d.srv.AccountID()}}, "application/json", body)
	}
	wantError(t, activity("nosuchid", `{"action":"APPROVE"}`), 400, "ERROR", "INVALID_REQUEST",
		"Invalid approval instance id: nosuchid")
	wantError(t, activity(aid, `{"comments":"no action"}`), 400, "FAILURE", "INVALID_REQUEST", "action: must not be null")
	got := d.must("get", d.call("GET", "/pipeline/api/approvals/"+aid, url.Values{"accountIdentifier": {d.srv.AccountID()}}, "", ""))
	if st := mapAt(got.body, "data")["status"]; st != "WAITING" {
		t.Errorf("instance status %v", st)
	}
	d.must("reject", activity(aid, `{"action":"REJECT","comments":"not today"}`))
	rec := d.await(id)
	if rec.Status != harnesstest.StatusApprovalRejected || rec.Stages[1].Status != harnesstest.StatusApprovalRejected ||
		rec.FailureMessage != "Approval Step has been Rejected" || rec.Stages[2].Status != harnesstest.StatusNotStarted {
		t.Errorf("rejected run: %s %q, stages %s %s", rec.Status, rec.FailureMessage, rec.Stages[1].Status, rec.Stages[2].Status)
	}
	wantError(t, activity(aid, `{"action":"APPROVE"}`), 400, "ERROR", "INVALID_REQUEST",
		"Unable to add Harness Approval Activity : Harness approval instance has already completed. Status: REJECTED")
	if r := d.v1("POST", id, `{"action":"APPROVE"}`); r.status != 400 ||
		r.body["message"] != "Found no Harness Approval Instance waiting for pipeline execution id: "+id+" and callback id: null" {
		t.Errorf("v1 approve with none waiting: %d %s", r.status, r.raw)
	}
	if r := d.v1("GET", "nosuchrun", ""); r.status != 400 || !strings.HasPrefix(r.body["message"].(string), "execution_id param value provided doesn't belong to Account") {
		t.Errorf("v1 list of an unknown run: %d %s", r.status, r.raw)
	}
}

func TestCloseEndsWaitingRuns(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.save(graph...)
	id := d.execute(imageTagIn)
	d.await(id, harnesstest.StatusApprovalWaiting)
	d.srv.Close()
	rec, _ := d.srv.Execution(id)
	if rec.Status != harnesstest.StatusAborted {
		t.Errorf("run after Close: %s", rec.Status)
	}
}

// TestDeployFixturesPassHarnessSchemas saves the deploy that runs with
// Harness's schemas checked: the pipeline, the Service's definition and
// the trigger.
func TestDeployFixturesPassHarnessSchemas(t *testing.T) {
	d := newDeployWorld(t, schemas(t))
	d.save(graph...)
}

// TestDockerRegistryImage forms a DockerRegistry artifact's image from the
// connector's registry host and port.
func TestDockerRegistryImage(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.files["connector-docker.yaml"] = "connector:\n  name: registry\n  identifier: registry\n  orgIdentifier: default\n" +
		"  projectIdentifier: payments\n  type: DockerRegistry\n  spec:\n    dockerRegistryUrl: https://registry.example.com:5000/v2/\n" +
		"    providerType: Other\n    auth:\n      type: Anonymous\n"
	d.edit("service.yaml", "              type: Gcr\n              spec:\n                connectorRef: gcr\n                registryHostname: gcr.io\n",
		"              type: DockerRegistry\n              spec:\n                connectorRef: registry\n")
	d.edit("pipeline.yaml", "type: Gcr", "type: DockerRegistry")
	d.save(append([]string{"connector-docker.yaml"}, without("trigger.yaml")...)...)
	rec := d.await(d.execute(imageTagIn), harnesstest.StatusApprovalWaiting, harnesstest.StatusFailed)
	if want := "registry.example.com:5000/company-project/payments-api:v2.3.1"; rec.Stages[0].Image != want ||
		len(rec.Stages[0].Images) != 1 || rec.Stages[0].Images[0] != want {
		t.Errorf("image %q, deployed %v (%s %q); want %s", rec.Stages[0].Image, rec.Stages[0].Images, rec.Status, rec.FailureMessage, want)
	}
}

// TestDefaultReleaseNameNamesTheInfrastructureKey runs a stage whose
// infrastructure keeps Harness's default release name,
// release-<+INFRA_KEY_SHORT_ID>: the first six characters of the SHA-1 of
// service, environment, connector and namespace.
func TestDefaultReleaseNameNamesTheInfrastructureKey(t *testing.T) {
	d := newDeployWorld(t, harnesstest.Options{})
	d.edit("infrastructure-staging-eu.yaml", "releaseName: payments-api", "releaseName: release-<+INFRA_KEY_SHORT_ID>")
	d.save(graph...)
	rec := d.await(d.execute(imageTagIn), harnesstest.StatusApprovalWaiting)
	// sha1("payments_api-staging-k8s_eu-payments-staging") = bfb07a52…
	if st := rec.Stages[0]; st.Status != harnesstest.StatusSuccess || st.ReleaseName != "release-bfb07a" {
		t.Errorf("staging stage %s (%s), release name %q; want release-bfb07a", st.Status, st.FailureMessage, st.ReleaseName)
	}
}
