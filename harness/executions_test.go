package harness_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// The deploy's Harness YAML and config repo, shared with harnesstest's
// tests (see its README).
const deployFixtures = "harnesstest/testdata/exec"

const imageTagInputs = "pipeline:\n  identifier: payments_api_cd\n  variables:\n    - name: imageTag\n      type: String\n      value: v2.3.1\n"

var githubAppKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// deploy is a client and a stand-in Harness whose runs read the config
// repo company/platform-next from a GitHub stand-in where the App is
// installed on company.
type deploy struct {
	*fixture
	gh    *githubtest.Server
	inst  int64
	files map[string]string
}

func newDeploy(t *testing.T) *deploy {
	t.Helper()
	key, err := githubAppKey()
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New(githubtest.Options{AppID: 42, AppPublicKey: &key.PublicKey, AppSlug: "pipeline-orchestrator"})
	t.Cleanup(gh.Close)
	d := &deploy{gh: gh, inst: gh.AddInstallation("company"), files: map[string]string{}}
	repo := map[string]string{}
	root := filepath.Join(deployFixtures, "repo")
	err = filepath.WalkDir(deployFixtures, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
			repo[filepath.ToSlash(rel)] = string(b)
		} else {
			d.files[filepath.Base(p)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gh.CreateRepo("company", "platform-next", "main", repo)
	d.files["connector-github.yaml"] = strings.NewReplacer("APP_ID", "42", "INSTALLATION_ID",
		strconv.FormatInt(d.inst, 10)).Replace(d.files["connector-github.yaml"])

	// A 10m wait takes 100ms.
	d.fixture = newFixtureWith(t, harnesstest.Options{Seed: 1, GitHubAPIURL: gh.URL, TimeScale: 6000})
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The App's key, PKCS#8 as Harness reads it, in the secret the
	// connector's privateKeyRef names.
	d.srv.PutSecret("account.po_github_app_key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	return d
}

// apply saves fixtures through the client's Apply, in the order given.
func (d *deploy) apply(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		src := []byte(d.files[f])
		var doc map[string]map[string]any
		if err := yaml.Unmarshal(src, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var ref harness.Ref
		for _, k := range harness.Kinds() {
			if info, ok := doc[k.RootKey()]; ok {
				ref = harness.Ref{Kind: k, Identifier: info["identifier"].(string)}
				if k == harness.KindInfrastructure {
					ref.EnvironmentRef = info["environmentRef"].(string)
				}
				if k == harness.KindTrigger {
					ref.PipelineRef = info["pipelineIdentifier"].(string)
				}
			}
		}
		if _, err := d.client.Apply(context.Background(), ref, src); err != nil {
			t.Fatalf("Apply %s: %v", f, err)
		}
	}
}

var entities = []string{"connector-github.yaml", "connector-gcp.yaml", "connector-k8s-eu.yaml", "connector-k8s-us.yaml",
	"environment-staging.yaml", "environment-prod.yaml", "infrastructure-staging-eu.yaml", "infrastructure-prod-us.yaml"}

// await polls the run through the client until done says so.
func (d *deploy) await(t *testing.T, id string, done func(*harness.Execution) bool) *harness.Execution {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, err := d.client.GetExecution(context.Background(), id)
		if err != nil {
			t.Fatalf("GetExecution: %v", err)
		}
		if done(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s", id, e.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func status(statuses ...string) func(*harness.Execution) bool {
	return func(e *harness.Execution) bool {
		for _, s := range statuses {
			if e.Status == s {
				return true
			}
		}
		return false
	}
}

var ended = status("Success", "Failed", "ApprovalRejected", "Aborted", "Expired", "Errored")

// approveGate waits for the run's approval, approves it through the API
// and waits for the run to end.
func (d *deploy) approveGate(t *testing.T, id string) *harness.Execution {
	t.Helper()
	ctx := context.Background()
	e := d.await(t, id, status("ApprovalWaiting"))
	approvals, err := d.client.ApprovalInstances(ctx, id)
	if err != nil || len(approvals) != 1 || approvals[0].Status != "WAITING" {
		t.Fatalf("ApprovalInstances = %+v, %v", approvals, err)
	}
	gate := e.Stages[1].Steps[1]
	if gate.Type != "HarnessApproval" || gate.ApprovalInstanceID != approvals[0].ID {
		t.Errorf("gate step %+v, approval %s", gate, approvals[0].ID)
	}
	if approvals[0].Message != "Deploy payments api v2.3.1 to prod?" {
		t.Errorf("approval message %q", approvals[0].Message)
	}
	a, err := d.client.Approve(ctx, approvals[0].ID, "ship it")
	if err != nil || a.Status != "APPROVED" {
		t.Fatalf("Approve = %+v, %v", a, err)
	}
	if _, err := d.client.Approve(ctx, approvals[0].ID, "again"); !errors.Is(err, harness.ErrInvalidRequest) ||
		!strings.Contains(err.Error(), "already completed") {
		t.Errorf("second Approve: %v", err)
	}
	return d.await(t, id, ended)
}

// stageView is what a test compares of a stage.
type stageView struct {
	Stage, Status, Service, Environment, Infrastructure, Namespace, Image string
	Paths, ValuesPaths                                                    []string
}

func view(e *harness.Execution) []stageView {
	var out []stageView
	for _, st := range e.Stages {
		v := stageView{Stage: st.Identifier, Status: st.Status, Service: st.Service, Environment: st.Environment,
			Infrastructure: st.Infrastructure, Namespace: st.Namespace, Image: st.Image}
		for _, m := range st.Manifests {
			v.Paths = append(v.Paths, m.Paths...)
			v.ValuesPaths = append(v.ValuesPaths, m.ValuesPaths...)
		}
		out = append(out, v)
	}
	return out
}

func TestDeployRunsAsTheGraphSays(t *testing.T) {
	d := newDeploy(t)
	d.apply(t, append(entities, "service.yaml", "pipeline.yaml", "trigger.yaml")...)
	ctx := context.Background()
	const image = "gcr.io/company-project/payments-api:v2.3.1"
	want := []stageView{
		{Stage: "staging_eu", Status: "Success", Service: "payments_api", Environment: "staging", Infrastructure: "staging_eu",
			Namespace: "payments-staging", Image: image,
			Paths:       []string{"generated/payments-api/staging/eu/manifests.yaml"},
			ValuesPaths: []string{"generated/payments-api/staging/eu/values.yaml"}},
		{Stage: "prod_gate", Status: "Success"},
		{Stage: "prod_us", Status: "Success", Service: "payments_api", Environment: "prod", Infrastructure: "prod_us",
			Namespace: "payments", Image: image,
			Paths:       []string{"generated/payments-api/prod/us/manifests.yaml"},
			ValuesPaths: []string{"generated/payments-api/prod/us/values.yaml"}},
	}
	// checkApplied checks what the stand-in applied: each stage's own
	// manifests, read through the connector, with the image in.
	checkApplied := func(t *testing.T, id string) {
		t.Helper()
		rec, _ := d.srv.Execution(id)
		for _, st := range []harnesstest.StageRecord{rec.Stages[0], rec.Stages[2]} {
			region := map[string]string{"staging_eu": "eu", "prod_us": "us"}[st.Identifier]
			if len(st.Fetched) != 2 || st.Fetched[0].Repo != "company/platform-next" || st.Fetched[0].ConnectorRef != "platform_next" ||
				!strings.Contains(st.Manifests, "image: "+image) || !strings.Contains(st.Manifests, "region: "+region) {
				t.Errorf("stage %s fetched %+v and applied:\n%s", st.Identifier, st.Fetched, st.Manifests)
			}
		}
		if diff := cmp.Diff([]string{"Running", "WaitStepRunning", "Running", "ApprovalWaiting", "Running", "Success"},
			rec.StatusHistory); diff != "" {
			t.Errorf("statuses (-want +got):\n%s", diff)
		}
	}

	t.Run("executed", func(t *testing.T) {
		id, err := d.client.Execute(ctx, "payments_api_cd", []byte(imageTagInputs))
		if err != nil {
			t.Fatalf("Execute: %v", err)
		}
		e := d.approveGate(t, id)
		if diff := cmp.Diff(want, view(e)); diff != "" {
			t.Errorf("stages (-want +got):\n%s", diff)
		}
		if e.Status != "Success" || e.TriggerType != "MANUAL" || e.ID != id {
			t.Errorf("run %s %s %s", e.ID, e.Status, e.TriggerType)
		}
		checkApplied(t, id)
	})

	t.Run("through the trigger", func(t *testing.T) {
		trig, err := d.client.Get(ctx, harness.Ref{Kind: harness.KindTrigger, Identifier: "on_new_image", PipelineRef: "payments_api_cd"})
		if err != nil || !strings.Contains(trig.WebhookURL, "/pipeline/api/webhook/custom/") {
			t.Fatalf("trigger %+v, %v", trig, err)
		}
		listed, err := d.client.List(ctx, harness.KindTrigger, "payments_api_cd")
		if err != nil || len(listed) != 1 || listed[0].WebhookURL != trig.WebhookURL {
			t.Fatalf("List = %+v, %v; want the webhook URL %s", listed, err, trig.WebhookURL)
		}
		event, err := d.client.FireTrigger(ctx, trig.WebhookURL, []byte(`{"imageTag":"v2.3.1"}`))
		if err != nil {
			t.Fatalf("FireTrigger: %v", err)
		}
		var ev *harness.TriggerEvent
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			ev, err = d.client.TriggerEvent(ctx, event)
			if !errors.Is(err, harness.ErrNotFound) || time.Now().After(deadline) {
				break
			}
		}
		if err != nil || ev.Status != "TARGET_EXECUTION_REQUESTED" || ev.ExecutionID == "" || ev.TriggerIdentifier != "on_new_image" {
			t.Fatalf("TriggerEvent = %+v, %v", ev, err)
		}
		e := d.approveGate(t, ev.ExecutionID)
		if diff := cmp.Diff(want, view(e)); diff != "" {
			t.Errorf("stages (-want +got):\n%s", diff)
		}
		if e.TriggerType != "WEBHOOK_CUSTOM" {
			t.Errorf("trigger type %s", e.TriggerType)
		}
		checkApplied(t, ev.ExecutionID)
	})
}

// TestTodaysPipelineFailsWhenRun runs the pipeline shape earlier
// renderings produced: it saves, and every run fails, for each reason.
func TestTodaysPipelineFailsWhenRun(t *testing.T) {
	for name, tc := range map[string]struct {
		service string   // "" for none
		others  bool     // the environments, infrastructures and connectors exist
		only    []string // else these of them
		want    string
	}{
		"its Service, Environment and Infrastructure do not exist": {
			want: "service with ref: [payments_api] not found",
		},
		"its Environment does not exist": {
			service: "today-service-no-manifests.yaml",
			want:    "Environment with ref: [prod] not found",
		},
		"its Infrastructure does not exist": {
			service: "today-service-no-manifests.yaml", only: []string{"environment-prod.yaml"},
			want: "Infrastructure definition prod_us not found in environment prod",
		},
		"serviceInputs cannot add manifests to the Service": {
			service: "today-service-no-manifests.yaml", others: true,
			want: "No manifests found in stage prod_us. K8sRollingDeploy step requires at least one manifest defined in stage service definition",
		},
		"serviceInputs cannot change the paths the Service fixes": {
			service: "today-service-fixed-paths.yaml", others: true,
			want: "Unable to fetch files for filePath [generated/payments-api/manifests.yaml] for Branch: main",
		},
		"the imageTag never reaches the Service's artifact": {
			service: "service.yaml", others: true,
			want: "Artifact source [image] of service [payments_api]: tag is a runtime input (<+input>) and no value was provided",
		},
		"expressions are not evaluated in plain manifests": {
			service: "today-service-no-artifact.yaml", others: true,
			want: `Deployment/payments-api: container app: InvalidImageName: Failed to apply default image tag "gcr.io/company-project/payments-api:<+pipeline.variables.imageTag>": couldn't parse image reference "gcr.io/company-project/payments-api:<+pipeline.variables.imageTag>": invalid reference format`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := newDeploy(t)
			var files []string
			if tc.others {
				files = append(files, entities...)
			}
			files = append(files, tc.only...)
			if tc.service != "" {
				files = append(files, tc.service)
			}
			d.apply(t, append(files, "today-pipeline.yaml")...)
			id, err := d.client.Execute(context.Background(), "payments_api_cd", []byte(imageTagInputs))
			if err != nil {
				t.Fatalf("Execute: %v", err)
			}
			e := d.await(t, id, ended)
			if e.Status != "Failed" || e.FailureMessage != tc.want || len(e.Stages) != 1 ||
				e.Stages[0].Status != "Failed" || e.Stages[0].FailureMessage != tc.want {
				t.Errorf("run %s %q, stages %+v\nwant Failed with %q", e.Status, e.FailureMessage, e.Stages, tc.want)
			}
		})
	}
}

func TestRunCallsValidateTheirArguments(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"GetExecution": func() error { _, err := f.client.GetExecution(ctx, "a/b"); return err },
		"FireTrigger on another host": func() error {
			_, err := f.client.FireTrigger(ctx, "https://evil.example/pipeline/api/webhook/custom/abcdefgh/v3", nil)
			return err
		},
		"FireTrigger with a bad token": func() error { _, err := f.client.FireTrigger(ctx, "a b", nil); return err },
		"TriggerEvent":                 func() error { _, err := f.client.TriggerEvent(ctx, "../x"); return err },
		"Approve":                      func() error { _, err := f.client.Approve(ctx, "", "x"); return err },
	} {
		if err := call(); !errors.Is(err, harness.ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	wantCalls(t, f.srv)
}

func TestRunErrorsAsHarnessAnswers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.client.GetExecution(ctx, "nosuchrun"); !errors.Is(err, harness.ErrNotFound) {
		t.Errorf("GetExecution of an unknown run: %v", err)
	}
	if _, err := f.client.FireTrigger(ctx, "nosuchtoken", []byte(`{}`)); !errors.Is(err, harness.ErrInvalidRequest) {
		t.Errorf("FireTrigger with an unknown token: %v", err)
	}
	if _, err := f.client.TriggerEvent(ctx, "nosuchevent"); !errors.Is(err, harness.ErrNotFound) {
		t.Errorf("TriggerEvent of an unknown event: %v", err)
	}
	if _, err := f.client.ApprovalInstances(ctx, "nosuchrun"); !errors.Is(err, harness.ErrInvalidRequest) {
		t.Errorf("ApprovalInstances of an unknown run: %v", err)
	}
	if _, err := f.client.Approve(ctx, "nosuchapproval", "x"); !errors.Is(err, harness.ErrInvalidRequest) ||
		!strings.Contains(err.Error(), "Invalid approval instance id: nosuchapproval") {
		t.Errorf("Approve of an unknown instance: %v", err)
	}
}
