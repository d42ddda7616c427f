package handlers_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

var update = flag.Bool("update", false, "rewrite testdata/webhooks from the GitHub stand-in")

// webhooksDir holds the payloads the handler tests send.
var webhooksDir = filepath.Join("testdata", "webhooks")

// otherRepo is a repository the App is installed on but does not serve.
const otherRepo = "acme/website"

// TestCapturedPayloads checks that testdata/webhooks holds exactly what the
// GitHub stand-in sends for the scenario in capturePayloads, so the handler
// tests' payloads cannot drift from it. To rewrite them:
//
//	go test ./handlers -run TestCapturedPayloads -update
func TestCapturedPayloads(t *testing.T) {
	got := capturePayloads(t)
	if again := capturePayloads(t); !cmp.Equal(got, again) {
		t.Fatalf("two captures differ: the stand-in is not deterministic (-first +second):\n%s", cmp.Diff(got, again))
	}
	files := map[string][]byte{}
	for name, body := range got {
		var b bytes.Buffer
		if err := json.Indent(&b, body, "", "  "); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b.WriteByte('\n')
		files[name] = b.Bytes()
	}

	entries, err := os.ReadDir(webhooksDir)
	if err != nil && !(*update && os.IsNotExist(err)) {
		t.Fatal(err)
	}
	var stale []string
	for _, e := range entries {
		name := e.Name()
		if _, captured := files[name]; !captured && strings.HasSuffix(name, ".json") {
			stale = append(stale, name)
		}
	}

	if *update {
		if err := os.MkdirAll(webhooksDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(webhooksDir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range stale {
			if err := os.Remove(filepath.Join(webhooksDir, name)); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("wrote %d payloads to %s, removed %d stale ones", len(files), webhooksDir, len(stale))
		return
	}

	for _, name := range sortedNames(files) {
		want, err := os.ReadFile(filepath.Join(webhooksDir, name))
		if err != nil {
			t.Errorf("%v (run: go test ./handlers -run TestCapturedPayloads -update)", err)
			continue
		}
		if diff := cmp.Diff(string(want), string(files[name])); diff != "" {
			t.Errorf("%s is not what the stand-in sends (run: go test ./handlers -run TestCapturedPayloads -update) (-file +captured):\n%s", name, diff)
		}
	}
	for _, name := range stale {
		t.Errorf("%s: not captured (run -update to remove it)", name)
	}
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// capturer drives a GitHub stand-in and keeps chosen deliveries.
type capturer struct {
	tb   testing.TB
	gh   *githubtest.Server
	seen int // deliveries already looked at
	out  map[string][]byte
}

// step runs do, then keeps, for each file name in keep, the one delivery
// do caused whose "event" or "event.action" is the value. Other deliveries
// of the step are dropped.
func (c *capturer) step(do func(), keep map[string]string) {
	c.tb.Helper()
	do()
	all := c.gh.Deliveries()
	fresh := all[c.seen:]
	c.seen = len(all)
	for _, name := range sortedNames(keep) {
		var match []githubtest.Delivery
		for _, d := range fresh {
			kind := d.Event
			if d.Action != "" {
				kind += "." + d.Action
			}
			if kind == keep[name] {
				match = append(match, d)
			}
		}
		if len(match) != 1 {
			c.tb.Fatalf("%s: the step sent %d %q deliveries, want 1", name, len(match), keep[name])
		}
		c.out[name] = match[0].Payload
	}
}

// api calls the stand-in's REST API with a token and decodes the answer.
func (c *capturer) api(token, method, path string, body any) map[string]any {
	c.tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.tb.Fatal(err)
	}
	req, err := http.NewRequest(method, c.gh.URL+path, bytes.NewReader(b))
	if err != nil {
		c.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.tb.Fatal(err)
	}
	if resp.StatusCode >= 300 {
		c.tb.Fatalf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.tb.Fatalf("%s %s: %v", method, path, err)
	}
	return out
}

func (c *capturer) installationToken(id int64) string {
	c.tb.Helper()
	tok, err := c.gh.InstallationToken(id)
	if err != nil {
		c.tb.Fatal(err)
	}
	return tok
}

// putFile commits one new file to branch through the contents API.
func (c *capturer) putFile(token, repo, branch, path, content string) {
	c.tb.Helper()
	c.api(token, http.MethodPut, "repos/"+repo+"/contents/"+path, map[string]any{
		"message": "Render " + path,
		"content": base64.StdEncoding.EncodeToString([]byte(content)),
		"branch":  branch,
	})
}

// createCheckRun creates a completed check run as the App and returns its id.
func (c *capturer) createCheckRun(token, repo, sha, name string, actions ...map[string]string) int64 {
	c.tb.Helper()
	run := c.api(token, http.MethodPost, "repos/"+repo+"/check-runs", map[string]any{
		"name": name, "head_sha": sha, "status": "completed", "conclusion": "success",
		"output":  map[string]string{"title": "No changes", "summary": "Nothing to do."},
		"actions": actions,
	})
	id, ok := run["id"].(float64)
	if !ok {
		c.tb.Fatalf("check run without an id: %v", run)
	}
	return int64(id)
}

func text(s string) *string { return &s }

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// capturePayloads drives a GitHub stand-in with a fixed clock through what
// happens to the two repositories the App serves (and one it does not), and
// returns the payloads the handler tests use, by file name.
func capturePayloads(tb testing.TB) map[string][]byte {
	tb.Helper()
	at := time.Date(2024, 6, 3, 9, 0, 0, 0, time.UTC)
	const userToken = "user-token"
	gh := githubtest.New(githubtest.Options{
		AppID:         4242,
		AppSlug:       "pipeline-orchestrator",
		WebhookSecret: secret,
		UserLogin:     "alice",
		UserToken:     userToken,
		Now:           func() time.Time { return at },
		Delivery:      githubtest.DeliverManually,
		APIURL:        "https://api.github.com/",
	})
	defer gh.Close()
	c := &capturer{tb: tb, gh: gh, out: map[string][]byte{}}

	// The App is installed on the config repository's org as a person
	// would, and was already on the pipelines repository's.
	var configInst int64
	c.step(func() { configInst = gh.InstallApp("acme") }, map[string]string{"installation.created.json": "installation.created"})
	pipelinesInst := gh.AddInstallation("acme-harness")
	gh.CreateRepo("acme", "platform-config", "main", map[string]string{"catalog/services.yaml": "services: []\n"})
	gh.CreateRepo("acme-harness", "harness-pipelines", "main", map[string]string{"README.md": "# Harness pipelines\n"})
	gh.CreateRepo("acme", "website", "main", map[string]string{"index.html": "<h1>acme</h1>\n"})
	configBot := c.installationToken(configInst)
	pipelinesBot := c.installationToken(pipelinesInst)

	// The config repository: a catalog change straight on main, then one
	// through a pull request that is closed, reopened, re-checked and merged.
	c.step(func() {
		gh.Commit(configRepo, "main", "Add the payments service", map[string]*string{
			"catalog/services.yaml": text("services:\n  - name: payments\n"),
		})
	}, map[string]string{"push.config-default-branch.json": "push", "check_suite.requested.json": "check_suite.requested"})
	c.step(func() {
		gh.Commit(configRepo, "add-billing", "Add the billing service", map[string]*string{
			"catalog/services.yaml": text("services:\n  - name: payments\n  - name: billing\n"),
		})
	}, nil)
	var pr int
	c.step(func() { pr = gh.OpenPR(configRepo, "add-billing", "main", "Add the billing service", "") },
		map[string]string{"pull_request.opened.json": "pull_request.opened"})
	c.step(func() {
		gh.Commit(configRepo, "add-billing", "Give billing a team", map[string]*string{
			"catalog/services.yaml": text("services:\n  - name: payments\n  - name: billing\n    team: money\n"),
		})
	}, map[string]string{"push.config-other-branch.json": "push", "pull_request.synchronize.json": "pull_request.synchronize"})
	c.step(func() { must(tb, gh.ClosePR(configRepo, pr)) }, map[string]string{"pull_request.closed.json": "pull_request.closed"})
	c.step(func() { must(tb, gh.ReopenPR(configRepo, pr)) }, map[string]string{"pull_request.reopened.json": "pull_request.reopened"})
	head := gh.Head(configRepo, "add-billing")
	c.step(func() { must(tb, gh.RerequestCheckSuite(configRepo, head)) },
		map[string]string{"check_suite.rerequested.json": "check_suite.rerequested"})
	var plan int64
	c.step(func() {
		plan = c.createCheckRun(configBot, configRepo, head, "pipeline-orchestrator/plan",
			map[string]string{"label": "Plan again", "description": "Re-plan this commit", "identifier": "replan"})
	}, nil)
	c.step(func() { gh.RerequestCheckRun(configRepo, plan) },
		map[string]string{"check_run.rerequested.json": "check_run.rerequested"})
	c.step(func() { gh.RequestCheckRunAction(configRepo, plan, "replan") },
		map[string]string{"check_run.requested_action.json": "check_run.requested_action"})
	// The PR is pointed at a release branch and back: its base changed.
	c.step(func() {
		gh.Commit(configRepo, "release", "Cut a release branch", map[string]*string{"RELEASE": text("1\n")})
	}, nil)
	c.step(func() { must(tb, gh.ChangePRBase(configRepo, pr, "release")) },
		map[string]string{"pull_request.edited-base.json": "pull_request.edited"})
	c.step(func() { must(tb, gh.ChangePRBase(configRepo, pr, "main")) }, nil)
	// "Re-run all checks" on main's head, where the sync check run is.
	c.step(func() { must(tb, gh.RerequestCheckSuite(configRepo, gh.Head(configRepo, "main"))) },
		map[string]string{"check_suite.rerequested-default-branch.json": "check_suite.rerequested"})
	c.step(func() {
		_, err := gh.MergePR(configRepo, pr, "merge")
		must(tb, err)
	}, map[string]string{"pull_request.closed-merged.json": "pull_request.closed"})
	c.step(func() { must(tb, gh.DeleteBranch(configRepo, "add-billing")) },
		map[string]string{"push.config-branch-deleted.json": "push"})
	c.step(func() {
		c.api(userToken, http.MethodPost, "repos/"+configRepo+"/git/refs",
			map[string]string{"ref": "refs/tags/v1.0.0", "sha": gh.Head(configRepo, "main")})
	}, map[string]string{"push.config-tag.json": "push"})

	// A repository the App is installed on but does not serve.
	c.step(func() {
		gh.Commit(otherRepo, "main", "Say hello", map[string]*string{"index.html": text("<h1>hello</h1>\n")})
	}, map[string]string{"push.other-repo.json": "push"})

	// The pipelines repository: a template PR by a person, a re-run of the
	// harness check run, and the App's own bot PR from its sync branch.
	c.step(func() {
		gh.Commit(pipelinesRepo, "slower-deploys", "Give deploys more time", map[string]*string{
			"templates/api.yaml": text("timeout: 15m\n"),
		})
	}, nil)
	c.step(func() { gh.OpenPR(pipelinesRepo, "slower-deploys", "main", "Give deploys more time", "") },
		map[string]string{"pull_request.opened-template.json": "pull_request.opened"})
	var harness int64
	c.step(func() {
		harness = c.createCheckRun(pipelinesBot, pipelinesRepo, gh.Head(pipelinesRepo, "main"), "pipeline-orchestrator/harness")
	}, nil)
	c.step(func() { gh.RerequestCheckRun(pipelinesRepo, harness) },
		map[string]string{"check_run.rerequested-harness.json": "check_run.rerequested"})
	c.step(func() {
		c.api(pipelinesBot, http.MethodPost, "repos/"+pipelinesRepo+"/git/refs",
			map[string]string{"ref": "refs/heads/pipeline-orchestrator/sync", "sha": gh.Head(pipelinesRepo, "main")})
		c.putFile(pipelinesBot, pipelinesRepo, "pipeline-orchestrator/sync", "pipelines/payments.yaml", "pipeline: payments\n")
	}, nil)
	var botPR int
	c.step(func() {
		made := c.api(pipelinesBot, http.MethodPost, "repos/"+pipelinesRepo+"/pulls", map[string]string{
			"title": "Sync pipelines with the catalog", "head": "pipeline-orchestrator/sync", "base": "main",
			"body": "Rendered from the catalog.",
		})
		botPR = int(made["number"].(float64))
	}, map[string]string{"pull_request.opened-bot.json": "pull_request.opened"})
	c.step(func() {
		c.putFile(pipelinesBot, pipelinesRepo, "pipeline-orchestrator/sync", "pipelines/billing.yaml", "pipeline: billing\n")
	}, map[string]string{"pull_request.synchronize-bot.json": "pull_request.synchronize"})
	c.step(func() { gh.AddLabel(pipelinesRepo, botPR, "team/platform") },
		map[string]string{"pull_request.labeled-open-bot.json": "pull_request.labeled"})
	c.step(func() {
		_, err := gh.MergePR(pipelinesRepo, botPR, "merge")
		must(tb, err)
	}, map[string]string{"push.pipelines-default-branch.json": "push", "pull_request.closed-merged-bot.json": "pull_request.closed"})
	c.step(func() { gh.AddLabel(pipelinesRepo, botPR, "pipeline-orchestrator/allow-mass-delete") },
		map[string]string{"pull_request.labeled-merged-bot.json": "pull_request.labeled"})
	c.step(func() { must(tb, gh.RerequestCheckSuite(pipelinesRepo, gh.Head(pipelinesRepo, "main"))) },
		map[string]string{"check_suite.rerequested-pipelines-default-branch.json": "check_suite.rerequested"})

	// A fork's pull request from a branch that has the sync branch's name:
	// not the App's bot PR.
	c.step(func() {
		fork := gh.Fork(pipelinesRepo, "mallory")
		gh.Commit(fork, "pipeline-orchestrator/sync", "Look like the bot", map[string]*string{"pipelines/evil.yaml": text("pipeline: evil\n")})
	}, nil)
	c.step(func() {
		gh.OpenForkPR(pipelinesRepo, "mallory:pipeline-orchestrator/sync", "main", "Sync pipelines with the catalog", "")
	}, map[string]string{"pull_request.opened-fork-sync.json": "pull_request.opened"})

	// Changes to the installations: the website leaves the config org's
	// installation and comes back; the pipelines org's loses an archive
	// repository, then uninstalls the App.
	c.step(func() { gh.RemoveInstallationRepos(configInst, "website") }, nil)
	c.step(func() { gh.AddInstallationRepos(configInst, "website") },
		map[string]string{"installation_repositories.added.json": "installation_repositories.added"})
	gh.CreateRepo("acme-harness", "archive", "main", map[string]string{"README.md": "# Archive\n"})
	c.step(func() { gh.RemoveInstallationRepos(pipelinesInst, "archive") },
		map[string]string{"installation_repositories.removed.json": "installation_repositories.removed"})
	c.step(func() { gh.UninstallApp(pipelinesInst) }, map[string]string{"installation.deleted.json": "installation.deleted"})

	return c.out
}

// TestWebhookPayloadsParse checks every payload in testdata/webhooks,
// captured or written by hand, against go-github's event types: each must
// decode as its event and name an installation, as GitHub's deliveries to
// an App do.
func TestWebhookPayloadsParse(t *testing.T) {
	entries, err := os.ReadDir(webhooksDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		n++
		body, err := os.ReadFile(filepath.Join(webhooksDir, name))
		if err != nil {
			t.Fatal(err)
		}
		event, _, _ := strings.Cut(name, ".")
		ev, err := github.ParseWebHook(event, body)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		inst, ok := ev.(interface{ GetInstallation() *github.Installation })
		if !ok || inst.GetInstallation().GetID() == 0 {
			t.Errorf("%s: %T names no installation", name, ev)
		}
	}
	if n == 0 {
		t.Fatalf("no payloads in %s", webhooksDir)
	}
}
