package app_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

// The end-to-end deploy: the app keeps Harness's entities, the config
// repository's CI (played by the sandbox) generates the manifests, and a
// new image deploys through the service's trigger, Harness reading the
// manifests through the connector the app made, as the App.

const (
	connectorID = "github_platform_next_cross_org"
	paymentsAPI = `  - name: payment-service
    archetype: api
    team: payments
    environments: [int]
    regions: [euw1]
`
	loyaltyAPI = `  - name: loyalty-api
    archetype: api
    team: loyalty
    environments: [int, pre, prod]
    regions: [euw1, euw2]
    profile: medium
`
)

// newCIWorld starts a world whose config repository has its CI, with a
// catalog of one service, and merges the first bot PR (the environments
// and that service), as a platform team does once.
func newCIWorld(t *testing.T) *world {
	t.Helper()
	env, err := sandbox.Start(context.Background(), sandbox.Options{
		StandInOptions: sandbox.StandInOptions{ConfigFiles: map[string]string{catalogPath: "services:\n" + paymentsAPI}},
		Dir:            t.TempDir(), ConfigCI: true,
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
	pr, ok := w.botPR()
	if !ok {
		t.Fatal("no first bot PR")
	}
	w.merge(w.PipelinesRepo, pr.Number)
	return w
}

// configInstallation is the App's installation on the config repo's owner.
func (w *world) configInstallation() int64 {
	owner, _, _ := strings.Cut(w.ConfigRepo, "/")
	return w.GitHub.AddInstallation(owner) // the sandbox's: returns its id
}

// connectorSpec reads the connector Harness holds, nil when none.
func (w *world) connectorSpec() map[string]any {
	w.t.Helper()
	src, ok := w.Harness.Entities(harnesstest.KindConnector, "default", "platform")[connectorID]
	if !ok {
		return nil
	}
	var doc struct {
		Connector map[string]any `yaml:"connector"`
	}
	if err := yaml.Unmarshal(src, &doc); err != nil {
		w.t.Fatal(err)
	}
	return doc.Connector
}

// checkConnector checks that Harness holds the app's connector: the
// config repository, authenticated as the App's installation inst.
func checkConnector(t *testing.T, w *world, inst int64) {
	t.Helper()
	c := w.connectorSpec()
	if c == nil {
		t.Fatal("Harness holds no GitHub connector")
	}
	creds := map[string]any{"installationId": strconv.FormatInt(inst, 10), "applicationId": strconv.Itoa(sandbox.AppID),
		"privateKeyRef": "account.po_github_app_key"}
	spec := c["spec"].(map[string]any)
	got := map[string]any{"type": c["type"], "url": spec["url"], "connection": spec["type"], "tags": c["tags"],
		"auth": spec["authentication"], "api": spec["apiAccess"]}
	want := map[string]any{"type": "Github", "url": w.GitHub.WebURL + w.ConfigRepo, "connection": "Repo",
		"tags": map[string]any{"managed_by": "pipeline-orchestrator"},
		"auth": map[string]any{"type": "Http", "spec": map[string]any{"type": "GithubApp", "spec": creds}},
		"api":  map[string]any{"type": "GithubApp", "spec": creds}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the GitHub connector in Harness (-want +got):\n%s", d)
	}
}

// connectorWrites counts the writes of the connector Harness took.
func (w *world) connectorWrites() []string {
	var out []string
	for _, e := range w.Harness.Effects() {
		if e.Entity == harnesstest.KindConnector {
			out = append(out, e.Kind+" "+e.ID)
		}
	}
	return out
}

// TestDeployANewImageThroughTheAppsConnector onboards a service, deploys
// image v2.3.1 through its trigger (each stage deploys the manifests of
// its environment and region, read through the App's connector), and
// retires it (Harness deletes its trigger, then its pipeline, then its
// Service). The connector is written once: nothing changed it since.
func TestDeployANewImageThroughTheAppsConnector(t *testing.T) {
	t.Parallel()
	w := newCIWorld(t)
	checkConnector(t, w, w.configInstallation())

	pr, _ := w.catalogPR("onboard-loyalty", "services:\n"+paymentsAPI+loyaltyAPI)
	w.merge(w.ConfigRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no bot PR for loyalty-api")
	}
	w.merge(w.PipelinesRepo, bot.Number)
	for kind, id := range map[harnesstest.Kind]string{harnesstest.KindService: "loyalty_api",
		harnesstest.KindPipeline: "loyalty_api_cd", harnesstest.KindTrigger: "loyalty_api_cd/loyalty_api_cd_new_image"} {
		if _, ok := w.Harness.Entities(kind, "default", "platform")[id]; !ok {
			t.Fatalf("Harness lacks the %s %s after the bot PR merged", kind, id)
		}
	}
	configHead := w.GitHub.Head(w.ConfigRepo, sandbox.DefaultBranch)
	if values := w.GitHub.Tree(w.ConfigRepo, configHead)["generated/loyalty-api/prod/euw2/values.yaml"]; !strings.Contains(values, "image: <+artifacts.primary.image>") {
		t.Fatalf("the config repo's CI generated no values for prod euw2:\n%s", values)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := w.DeployImage(ctx, "default", "platform", "loyalty_api_cd", "loyalty_api_cd_new_image", "v2.3.1", "ship it")
	if err != nil {
		t.Fatalf("deploying: %v\nruns: %+v", err, w.Harness.Executions())
	}
	checkDeploy(t, w, d, configHead)

	w.retire("services:\n" + paymentsAPI)
	if got := w.connectorWrites(); !cmp.Equal(got, []string{"create " + connectorID}) {
		t.Errorf("connector writes %v; want one create: nothing changed it since", got)
	}
}

// checkDeploy checks a run of loyalty-api's pipeline with image v2.3.1:
// every stage deployed that image with the manifests of its environment
// and region, read at the config repo's head through the app's connector
// as the App's installation; the wait gate passed and the approval gate
// was approved.
func checkDeploy(t *testing.T, w *world, d sandbox.Deploy, configHead string) {
	t.Helper()
	const image = "gcr.io/project/loyalty-api:v2.3.1"
	rec := d.Record
	if rec.Status != harnesstest.StatusSuccess || d.Execution.Status != "Success" {
		t.Fatalf("the run ended %s (%s): %s", rec.Status, d.Execution.Status, rec.FailureMessage)
	}
	if len(d.Approved) != 1 || !contains(rec.StatusHistory, harnesstest.StatusWaitStepRunning) || !contains(rec.StatusHistory, harnesstest.StatusApprovalWaiting) {
		t.Errorf("gates: approved %v, statuses %v; want the pre-stable wait and one prod approval", d.Approved, rec.StatusHistory)
	}
	// Applied: the rendered manifests' image, environment and region.
	type stage struct{ ID, Env, Infra, Image, Paths, Applied string }
	var got, want []stage
	for _, st := range rec.Stages {
		var paths []string
		for _, f := range st.Fetched {
			paths = append(paths, f.Path)
			if f.ConnectorRef != connectorID || f.Repo != w.ConfigRepo || f.Commit != configHead {
				t.Errorf("%s fetched %+v; want %s at %s through %s", st.Identifier, f, w.ConfigRepo, configHead[:7], connectorID)
			}
		}
		got = append(got, stage{st.Identifier, st.Environment, st.Infrastructure, st.Image, strings.Join(paths, " "),
			strings.Join(applied.FindAllString(st.Manifests, -1), " ")})
	}
	for _, s := range []struct{ env, id, region string }{
		{"int-stable", "int_stable", "euw1"}, {"pre-stable", "pre_stable", "euw1"}, {"prod", "prod", "euw1"}, {"prod", "prod", "euw2"}} {
		dir := "generated/loyalty-api/" + s.env + "/" + s.region + "/"
		want = append(want, stage{s.id + "_" + s.region, s.id, s.id + "_" + s.region + "_k8s", image,
			dir + "manifests.yaml " + dir + "values.yaml", "environment: " + s.env + " region: " + s.region + " image: " + image})
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	for i, st := range d.Execution.Stages {
		if st.Image != image {
			t.Errorf("execution details: stage %d deployed %q", i, st.Image)
		}
	}
	reads := 0
	for _, r := range w.GitHub.Requests() {
		if strings.Contains(r.Path, "/contents/generated/") {
			reads++
			if r.Auth != "installation:"+strconv.FormatInt(w.configInstallation(), 10) || r.Status != 200 {
				t.Errorf("Harness read %s as %s: %d", r.Path, r.Auth, r.Status)
			}
		}
	}
	if reads != 8 {
		t.Errorf("Harness read %d generated files, want 8 (2 per stage)", reads)
	}
}

// retire removes loyalty-api from the catalog, merges the bot PR and
// checks that Harness deleted its trigger, then its pipeline, then its
// Service, and that the CI removed its manifests.
func (w *world) retire(catalog string) {
	w.t.Helper()
	before := len(w.Harness.Effects())
	pr, _ := w.catalogPR("retire-loyalty", catalog)
	w.merge(w.ConfigRepo, pr)
	bot, ok := w.botPR()
	if !ok {
		w.t.Fatal("no bot PR retiring loyalty-api")
	}
	w.merge(w.PipelinesRepo, bot.Number)
	var deletes []string
	for _, e := range w.Harness.Effects()[before:] {
		if e.Kind == "delete" {
			deletes = append(deletes, string(e.Entity)+" "+e.ID)
		}
	}
	want := []string{"trigger loyalty_api_cd_new_image", "pipeline loyalty_api_cd", "service loyalty_api"}
	if d := cmp.Diff(want, deletes); d != "" {
		w.t.Errorf("deletes reaching Harness (-want +got):\n%s", d)
	}
	for p := range w.GitHub.Tree(w.ConfigRepo, sandbox.DefaultBranch) {
		if strings.HasPrefix(p, "generated/loyalty-api/") {
			w.t.Errorf("the config repo's CI left %s", p)
		}
	}
}

// TestConnectorFollowsTheAppsInstallation uninstalls the App from the
// config repository's owner: a bot PR merged meanwhile still reaches
// Harness, and the harness check run and /readyz say what to fix.
// Installing the App again updates the connector to the new installation.
func TestConnectorFollowsTheAppsInstallation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services:\n"+paymentsAPI, nil)
	bot, ok := w.botPR()
	if !ok {
		t.Fatal("no first bot PR")
	}
	w.GitHub.UninstallApp(w.configInstallation())
	w.settle()

	merge := w.merge(w.PipelinesRepo, bot.Number)
	if _, ok := w.Harness.Entities(harnesstest.KindPipeline, "default", "platform")["payment_service_cd"]; !ok {
		t.Fatal("the bot PR did not reach Harness while the App is not installed on the config repo's owner")
	}
	c := w.check(w.PipelinesRepo, merge, gh.CheckHarness)
	if c.Conclusion != gh.ConclusionActionRequired || !strings.Contains(c.Summary, "not installed on company") ||
		!strings.Contains(c.Summary, "Install the App on company") {
		t.Errorf("harness check run = %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	r := w.readyz()
	found := false
	for _, p := range r.Problems {
		found = found || strings.Contains(p.Problem, "Harness cannot read the manifests in "+w.ConfigRepo) && strings.Contains(p.Fix, "creates the connector")
	}
	if r.Status != "degraded" || !found {
		t.Errorf("/readyz = %+v; want the connector's problem and its fix", r)
	}

	inst := w.GitHub.InstallApp("company")
	w.settle()
	checkConnector(t, w, inst)
	if got := w.connectorWrites(); !cmp.Equal(got, []string{"create " + connectorID, "update " + connectorID}) {
		t.Errorf("connector writes %v; want the create at start, and the update to the new installation", got)
	}
	eventually(t, "/readyz is clean", func() bool { return w.readyz().Status == "ready" })
}

// applied finds what a stage applied in its rendered manifests: the
// Deployment's environment and region labels and its image.
var applied = regexp.MustCompile(`(environment|region|image): \S+`)

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
