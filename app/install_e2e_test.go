package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/sandbox"
)

type readyz struct {
	Status   string `json:"status"`
	Problems []struct {
		Repo, Problem, Fix string
	} `json:"problems"`
}

func (w *world) readyz() readyz {
	w.t.Helper()
	resp, err := http.Get(w.App.URL + "/readyz")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r readyz
	if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET /readyz = %d %s", resp.StatusCode, b)
	}
	return r
}

// eventually polls cond for up to ten seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRepositoryOutsideTheInstallationIsReportedThenCaughtUp takes the
// config repo out of the App's installation (its admin narrowing "Only
// select repositories"): /readyz and the status page say so and how to
// fix it; a catalog pushed meanwhile reaches no one. Adding the repository
// back (an installation_repositories event) clears the problem and catches
// up: the bot PR opens without another push.
func TestRepositoryOutsideTheInstallationIsReportedThenCaughtUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "services: []\n", nil)
	owner, name, _ := strings.Cut(w.ConfigRepo, "/")
	inst := w.GitHub.AddInstallation(owner) // the installation the sandbox made
	w.GitHub.CreateRepo(owner, "website", sandbox.DefaultBranch, map[string]string{"index.html": "<h1>hi</h1>\n"})
	w.GitHub.SetInstallationRepos(inst, "website")
	eventually(t, "/readyz reports the config repo", func() bool { return len(w.readyz().Problems) == 1 })
	r := w.readyz()
	if r.Status != "degraded" || r.Problems[0].Repo != w.ConfigRepo || !strings.Contains(r.Problems[0].Fix, "Repository access") {
		t.Errorf("/readyz = %+v; want the config repo degraded, with the fix", r)
	}
	page, _ := statusPage(t, w.App.App.Handler())
	if got := page.First(byAttr("data-repo", w.ConfigRepo)); got == nil || !strings.Contains(got.Text(), "Repository access") {
		t.Errorf("the status page does not show the unreachable config repo first")
	}

	w.GitHub.Commit(w.ConfigRepo, sandbox.DefaultBranch, "Add a service", map[string]*string{catalogPath: ptr(catalogOf(genServices(1)))})
	w.settle()
	if _, ok := w.botPR(); ok {
		t.Fatal("a bot PR opened from a repository the App cannot reach")
	}

	w.GitHub.AddInstallationRepos(inst, name)
	eventually(t, "the bot PR opens", func() bool { _, ok := w.botPR(); return ok })
	eventually(t, "/readyz is clean", func() bool { return w.readyz().Status == "ready" })
	if bot, _ := w.botPR(); !strings.Contains(bot.Title, "1 service to create") {
		t.Errorf("bot PR %q, want the service pushed while the repo was out of reach", bot.Title)
	}
	// The propose run that opened the bot PR reports on the catalog next.
	head := w.GitHub.Head(w.ConfigRepo, sandbox.DefaultBranch)
	eventually(t, "the sync check run on the catalog", func() bool {
		for _, c := range w.GitHub.CheckRuns(w.ConfigRepo, head) {
			if c.Name == gh.CheckSync {
				return true
			}
		}
		return false
	})
	if c := w.check(w.ConfigRepo, head, gh.CheckSync); c.Conclusion != "success" {
		t.Errorf("sync check run on the catalog pushed while out of reach = %s %q", c.Conclusion, c.Title)
	}
}
