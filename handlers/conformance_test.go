package handlers_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/handlers"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// sharedDirEnv names the shared folder when it is not ../shared beside the
// module root.
const sharedDirEnv = "PIPELINE_ORCHESTRATOR_SHARED_DIR"

// sharedDir returns the shared folder and where that choice came from:
// $PIPELINE_ORCHESTRATOR_SHARED_DIR, or else "shared" beside the directory
// that holds go.mod.
func sharedDir(tb testing.TB) (dir, from string) {
	tb.Helper()
	if d := os.Getenv(sharedDirEnv); d != "" {
		return d, "$" + sharedDirEnv
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared"), "../shared beside the module root"
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod in %s or above", wd)
		}
	}
}

// publicExample says what the handlers do with one of the public example
// payloads when its repository is the config repository and when it is
// the pipelines repository: the kind of work recorded, or "" for ignored.
type publicExample struct {
	asConfig, asPipelines work.Kind
	// asPlan is the kind recorded when a check_run example is renamed to
	// the app's plan check run (its real name is another app's).
	asPlan work.Kind
	// installation marks installation events, which record nothing and
	// refresh the installation cache of the payload's account.
	installation bool
}

// publicExamples covers the files the shared folder's README lists.
// check_run.rerequested.json carries app timestamps without ISO 8601's
// "T" and zone, which go-github v62 cannot decode; the CheckRun handler
// does not use go-github's type, so it must be accepted like its
// normalized copy. The two derived files (.derived, .normalized) are
// edited copies and are run like the others.
var publicExamples = map[string]publicExample{
	"push.json":                               {asConfig: work.Propose, asPipelines: work.Apply},
	"push.deleted-tag.json":                   {},
	"pull_request.opened.json":                {asConfig: work.Preview, asPipelines: work.Preview},
	"pull_request.synchronize.json":           {asConfig: work.Preview, asPipelines: work.Preview},
	"pull_request.reopened.json":              {asConfig: work.Preview, asPipelines: work.Preview},
	"pull_request.closed.json":                {},
	"pull_request.closed-merged.derived.json": {},
	"check_suite.requested.json":              {},
	"check_suite.rerequested.json":            {asConfig: work.Preview, asPipelines: work.Preview},
	"check_run.rerequested.json":              {asPlan: work.Preview},
	"check_run.rerequested.normalized.json":   {asPlan: work.Preview},
	"check_run.requested_action.json":         {},
	"installation.created.json":               {installation: true},
	"installation.deleted.json":               {installation: true},
	"installation_repositories.added.json":    {installation: true},
	"installation_repositories.removed.json":  {installation: true},
}

// examplePayload is what the conformance test reads from a payload to
// build its expectations.
type examplePayload struct {
	Action     string `json:"action"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Installation struct {
		ID      int64 `json:"id"`
		Account struct {
			Login string `json:"login"`
		} `json:"account"`
	} `json:"installation"`
}

// TestPublicExamplesConform sends GitHub's public example payloads from
// the shared folder through the real dispatcher, once with the example's
// repository as the config repository and once as the pipelines
// repository, and checks that each is accepted and recorded or ignored as
// the handlers' rules say. It skips where the shared folder is absent.
func TestPublicExamplesConform(t *testing.T) {
	shared, from := sharedDir(t)
	dir := filepath.Join(shared, "fixtures", "github-webhooks")
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		t.Skipf("public webhook examples not found at %s (from %s): skipping the conformance test", dir, from)
	}
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") {
			continue
		}
		seen[name] = true
		body, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var p examplePayload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		event, _, _ := strings.Cut(name, ".")
		want, known := publicExamples[name]
		t.Run(name, func(t *testing.T) {
			if !known {
				// Not in the README when this test was written: it must
				// still be accepted.
				code, _, _ := sendExample(t, handlers.Repos{Config: p.Repository.FullName, Pipelines: pipelinesRepo}, event, body)
				if code/100 != 2 {
					t.Errorf("status = %d, want 2xx", code)
				}
				t.Logf("no expectation for %s: checked only that it is accepted", name)
				return
			}
			if want.installation {
				code, recorded, owner := sendExample(t, handlers.Repos{Config: configRepo, Pipelines: pipelinesRepo}, event, body)
				if code != 200 {
					t.Errorf("status = %d, want 200", code)
				}
				if len(recorded) != 0 {
					t.Errorf("recorded %d work items, want none", len(recorded))
				}
				if owner == "" || owner != p.Installation.Account.Login {
					t.Errorf("installation change for %q, want %q", owner, p.Installation.Account.Login)
				}
				return
			}
			repo := p.Repository.FullName
			checkExample(t, "as the config repo", handlers.Repos{Config: repo, Pipelines: pipelinesRepo}, event, body, p, want.asConfig)
			checkExample(t, "as the pipelines repo", handlers.Repos{Config: configRepo, Pipelines: repo}, event, body, p, want.asPipelines)
			if event == "check_run" {
				renamed := edit(t, body, func(m map[string]any) { obj(m, "check_run")["name"] = "pipeline-orchestrator/plan" })
				checkExample(t, "renamed to the plan check run", handlers.Repos{Config: repo, Pipelines: pipelinesRepo}, event, renamed, p, want.asPlan)
			}
		})
	}
	var missing []string
	for name := range publicExamples {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Logf("listed examples absent from %s: %s", dir, strings.Join(missing, ", "))
	}
}

// sendExample sends one signed delivery through a dispatcher for repos.
func sendExample(tb testing.TB, repos handlers.Repos, event string, body []byte) (int, []handlers.Work, string) {
	tb.Helper()
	rec := &fakeRecorder{}
	var owner string
	h := newDispatcherFor(repos, rec, func(o string) { owner = o })
	code := send(tb, h, delivery{event: event, id: "public-1", body: body})
	return code, rec.work, owner
}

// checkExample sends an example with the given repositories and checks
// that it is answered 200 and records one work item of kind, in the lane
// the handler rules give it, or nothing when kind is "".
func checkExample(t *testing.T, role string, repos handlers.Repos, event string, body []byte, p examplePayload, kind work.Kind) {
	t.Helper()
	code, recorded, _ := sendExample(t, repos, event, body)
	if code != 200 {
		t.Errorf("%s: status = %d, want 200", role, code)
		return
	}
	if kind == "" {
		if len(recorded) != 0 {
			t.Errorf("%s: recorded %+v, want nothing", role, recorded)
		}
		return
	}
	if len(recorded) != 1 {
		t.Errorf("%s: recorded %d work items, want 1 %s", role, len(recorded), kind)
		return
	}
	w := recorded[0]
	// Previews run in the lane of the repository they read; propose,
	// apply and reconcile write to the pipelines repo.
	lane := repos.Pipelines
	if kind == work.Preview && strings.EqualFold(p.Repository.FullName, repos.Config) {
		lane = repos.Config
	}
	wantKey := work.Key(kind, "")
	if kind == work.Preview {
		wantKey = work.Key(kind, w.SHA)
	}
	type summary struct {
		Event, Lane, Key, Repo string
		Installation           int64
		HasSHA                 bool
	}
	want := summary{Event: event, Lane: lane, Key: wantKey, Repo: p.Repository.FullName, Installation: p.Installation.ID, HasSHA: true}
	got := summary{Event: w.Event, Lane: w.Lane, Key: w.Key, Repo: w.Repo, Installation: w.Installation, HasSHA: w.SHA != ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: recorded work (-want +got):\n%s", role, diff)
	}
}
