package ghapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

// TestEveryPort drives each port once against the stand-in, the way the
// loop does: read the pipelines repo, commit to the bot branch, open and
// update the bot PR, report check runs.
func TestEveryPort(t *testing.T) {
	c, stub := newClient(t)
	ctx := context.Background()
	repo := gh.Repo{Owner: "org-a", Name: "repo"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	def, err := c.DefaultBranch(ctx, repo)
	must(err)
	head, err := c.Branch(ctx, repo, def)
	must(err)
	again, err := c.Resolve(ctx, repo, head.SHA)
	must(err)
	files, err := c.Tree(ctx, repo, head.TreeSHA, "")
	must(err)
	blobs, err := c.Blobs(ctx, repo, []string{files["README.md"]})
	must(err)
	readme, err := c.File(ctx, repo, def, "README.md")
	must(err)
	if def != "main" || again != head || len(files) != 2 || string(blobs[files["README.md"]]) != "# r\n" || string(readme) != "# r\n" {
		t.Fatalf("reads: default %q, resolve %v, tree %v, blob %q, file %q", def, again, files, blobs[files["README.md"]], readme)
	}

	commit, err := c.CommitFiles(ctx, repo, head, "Sync", map[string][]byte{"pipelines/a.yaml": []byte("a\n"), "README.md": nil})
	must(err)
	must(c.SetBranch(ctx, repo, gh.SyncBranch, commit.SHA)) // creates the branch
	must(c.SetBranch(ctx, repo, gh.SyncBranch, commit.SHA)) // moves it
	if diff := cmp.Diff(map[string]string{"dir/f.txt": "hello\n", "pipelines/a.yaml": "a\n"}, stub.Tree("org-a/repo", gh.SyncBranch)); diff != "" {
		t.Errorf("bot branch (-want +got):\n%s", diff)
	}
	cmp1, err := c.Compare(ctx, repo, "main", gh.SyncBranch)
	must(err)
	if want := (gh.Comparison{MergeBase: head.SHA, Status: gh.CompareAhead, AheadBy: 1}); cmp1 != want {
		t.Errorf("Compare = %+v, want %+v", cmp1, want)
	}

	pr, err := c.CreatePR(ctx, repo, gh.SyncBranch, "main", "Sync pipelines", "body")
	must(err)
	open, err := c.OpenPR(ctx, repo, gh.SyncBranch, "main")
	must(err)
	last, err := c.LastPR(ctx, repo, gh.SyncBranch)
	must(err)
	bot, err := c.BotLogin(ctx)
	must(err)
	if open.Number != pr.Number || last.Number != pr.Number || !pr.IsBotPR(repo, bot) || bot != "po[bot]" {
		t.Errorf("bot PR %+v, open %d, last %d, bot login %q", pr, open.Number, last.Number, bot)
	}
	must(c.EditPR(ctx, repo, pr.Number, "Sync pipelines (2)", "body 2", ""))
	must(c.AddLabels(ctx, repo, pr.Number, gh.BotLabel))
	must(c.Comment(ctx, repo, pr.Number, "hello"))
	got, err := c.GetPR(ctx, repo, pr.Number)
	must(err)
	if got.Title != "Sync pipelines (2)" || got.Body != "body 2" || !got.HasLabel(gh.BotLabel) || len(stub.Comments("org-a/repo", pr.Number)) != 1 {
		t.Errorf("PR after edits = %+v", got)
	}

	var anns []gh.Annotation
	for i := 1; i <= 120; i++ {
		anns = append(anns, gh.Annotation{Path: "catalog.yaml", StartLine: i, Level: "failure", Message: "bad"})
	}
	id, err := c.CreateCheckRun(ctx, repo, gh.CheckRun{Name: gh.CheckPlan, HeadSHA: commit.SHA, Status: gh.StatusInProgress, Title: "t", Summary: "s", Annotations: anns})
	must(err)
	must(c.UpdateCheckRun(ctx, repo, id, gh.CheckRun{Name: gh.CheckPlan, Conclusion: gh.ConclusionFailure, Title: "t", Summary: "done"}))
	runs := stub.CheckRuns("org-a/repo", commit.SHA)
	if len(runs) != 1 || len(runs[0].Annotations) != 120 || runs[0].Conclusion != "failure" {
		t.Errorf("check runs = %+v", runs)
	}
}

func TestForkPRIsNotTheBotPR(t *testing.T) {
	c, stub := newClient(t)
	ctx := context.Background()
	repo := gh.Repo{Owner: "org-a", Name: "repo"}
	fork := stub.Fork("org-a/repo", "mallory")
	stub.Commit(fork, gh.SyncBranch, "looks like the bot's", map[string]*string{"x": ptrTo("x\n")})
	n := stub.OpenForkPR("org-a/repo", "mallory:"+gh.SyncBranch, "main", "Sync pipelines", "")

	pr, err := c.GetPR(ctx, repo, n)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{pr.HeadRef, pr.HeadRepo, pr.Author, pr.AuthorIsBot, pr.IsBotPR(repo, ""), pr.FromBranchOf(repo, gh.SyncBranch)}
	want := []any{gh.SyncBranch, "mallory/repo", "mallory", false, false, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("head ref, head repo, author, bot, bot PR, from the repo's branch (-want +got):\n%s", diff)
	}
	// The bot PR lookups do not find it.
	if _, err := c.OpenPR(ctx, repo, gh.SyncBranch, "main"); !errors.Is(err, gh.ErrNotFound) {
		t.Errorf("OpenPR found the fork's PR: %v", err)
	}
}

func TestCompareErrors(t *testing.T) {
	c, _ := newClient(t)
	_, err := c.Compare(context.Background(), gh.Repo{Owner: "org-a", Name: "repo"}, "main", "no-such-branch")
	if !errors.Is(err, gh.ErrNotFound) {
		t.Errorf("Compare with a missing head: %v, want ErrNotFound", err)
	}
}

func TestReachability(t *testing.T) {
	c, stub := newClientWith(t, nil, func(s *githubtest.Server) {
		s.CreateRepo("org-a", "repo", "main", nil)
		s.AddInstallation("org-a")
		s.CreateRepo("org-s", "in", "main", nil)
		s.CreateRepo("org-s", "out", "main", nil)
		s.AddInstallation("org-s", "in")
		s.CreateRepo("octocat", "tools", "main", nil) // the person's own account
		s.CreateRepo("octocat", "other", "main", nil)
		s.AddInstallation("octocat", "tools")
		s.CreateRepo("org-n", "repo", "main", nil)
	})
	ctx := context.Background()
	type result struct {
		Reason         gh.UnreachableReason
		InstallationID int64
		FixURL         string
	}
	reach := func(full string) result {
		err := c.Reachable(ctx, gh.ParseRepo(full))
		if err == nil {
			return result{}
		}
		var u *gh.UnreachableError
		if !errors.As(err, &u) {
			t.Fatalf("%s: %v, want *gh.UnreachableError", full, err)
		}
		return result{u.Reason, u.InstallationID, u.FixURL}
	}
	instS := stub.AddInstallation("org-s")
	instU := stub.AddInstallation("octocat")
	web := stub.WebURL
	got := map[string]result{}
	for _, full := range []string{"org-a/repo", "Org-A/Repo", "org-s/in", "org-s/out", "org-s/missing", "octocat/tools", "octocat/other", "org-n/repo", "nobody/repo"} {
		got[full] = reach(full)
	}
	want := map[string]result{
		"org-a/repo":    {},
		"Org-A/Repo":    {},
		"org-s/in":      {},
		"org-s/out":     {gh.NotSelected, instS, web + "organizations/org-s/settings/installations/" + itoa(instS)},
		"org-s/missing": {gh.NotSelected, instS, web + "organizations/org-s/settings/installations/" + itoa(instS)},
		"octocat/tools": {},
		"octocat/other": {gh.NotSelected, instU, web + "settings/installations/" + itoa(instU)},
		"org-n/repo":    {Reason: gh.NotInstalled, FixURL: web + "apps/" + appSlug + "/installations/new"},
		"nobody/repo":   {Reason: gh.NotInstalled, FixURL: web + "apps/" + appSlug + "/installations/new"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reachability (-want +got):\n%s", diff)
	}

	repos, err := c.InstallationRepos(ctx, "org-s")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]gh.Repo{{Owner: "org-s", Name: "in"}}, repos); diff != "" {
		t.Errorf("InstallationRepos(org-s) (-want +got):\n%s", diff)
	}
	var u *gh.UnreachableError
	if _, err := c.InstallationRepos(ctx, "org-n"); !errors.As(err, &u) || u.Reason != gh.NotInstalled {
		t.Errorf("InstallationRepos(org-n) = %v, want not installed", err)
	}

	// Once the repository is selected, it is reachable: the answer is not
	// cached while it is unreachable.
	stub.AddInstallationRepos(instS, "out")
	if r := reach("org-s/out"); r != (result{}) {
		t.Errorf("after selecting org-s/out: %+v", r)
	}
}

// TestRepoInstallation checks the installation a Harness connector
// authenticates as: the one covering the repository; where none does, the
// error says why.
func TestRepoInstallation(t *testing.T) {
	c, stub := newClientWith(t, nil, func(s *githubtest.Server) {
		s.CreateRepo("org-s", "in", "main", nil)
		s.CreateRepo("org-s", "out", "main", nil)
		s.CreateRepo("org-n", "repo", "main", nil)
	})
	ctx := context.Background()
	inst := stub.AddInstallation("org-s", "in")
	if id, err := c.RepoInstallation(ctx, gh.ParseRepo("org-s/in")); err != nil || id != inst {
		t.Errorf("RepoInstallation(org-s/in) = %d, %v; want %d", id, err, inst)
	}
	var u *gh.UnreachableError
	if _, err := c.RepoInstallation(ctx, gh.ParseRepo("org-n/repo")); !errors.As(err, &u) || u.Reason != gh.NotInstalled {
		t.Errorf("RepoInstallation(org-n/repo) = %v, want not installed", err)
	}
	if _, err := c.RepoInstallation(ctx, gh.ParseRepo("org-s/out")); !errors.As(err, &u) || u.Reason != gh.NotSelected {
		t.Errorf("RepoInstallation(org-s/out) = %v, want not selected", err)
	}
	stub.AddInstallationRepos(inst, "out")
	if id, err := c.RepoInstallation(ctx, gh.ParseRepo("org-s/out")); err != nil || id != inst {
		t.Errorf("RepoInstallation(org-s/out) once selected = %d, %v; want %d", id, err, inst)
	}
}

// TestRedeliveryAcceptedIsSuccess checks that GitHub's 202 to a
// redelivery, which go-github reports as an error, is a success.
func TestRedeliveryAcceptedIsSuccess(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer receiver.Close()
	c, stub := newClientWith(t, func(o *githubtest.Options) { o.WebhookURL = receiver.URL }, func(s *githubtest.Server) {
		s.AddInstallation("org-a")
		s.CreateRepo("org-a", "repo", "main", nil)
	})
	stub.Commit("org-a/repo", "main", "x", map[string]*string{"x": ptrTo("x")})
	stub.WaitIdle()
	ctx := context.Background()
	attempts, err := c.RecentDeliveries(ctx, time.Now().Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) == 0 || attempts[0].StatusCode != 500 {
		t.Fatalf("attempts = %+v, want failed ones", attempts)
	}
	fail.Store(false)
	if err := c.Redeliver(ctx, attempts[0].ID); err != nil {
		t.Fatalf("Redeliver = %v, want nil for 202 Accepted", err)
	}
	stub.WaitIdle()
	d, _ := stub.Delivery(attempts[0].GUID)
	if !d.Delivered() || !d.Attempts[len(d.Attempts)-1].Redelivery {
		t.Errorf("delivery after redelivery = %+v", d.Attempts)
	}
}

func ptrTo[T any](v T) *T { return &v }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
