package githubtest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/githubtest"
)

func TestSelectedRepositoriesInstallation(t *testing.T) {
	rc := newReceiver(t)
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL() })
	s.CreateRepo("acme", "platform", "main", nil)
	s.CreateRepo("acme", "website", "main", nil)
	inst := s.AddInstallation("acme", "platform")
	s.CreateRepo("acme", "later", "main", nil) // a selection does not grow by itself
	ctx := context.Background()

	app := appClient(t, s)
	found, _, err := app.Apps.FindRepositoryInstallation(ctx, "acme", "platform")
	if err != nil || found.GetID() != inst || found.GetRepositorySelection() != "selected" {
		t.Fatalf("installation of acme/platform = %v (%s), %v; want %d, selected", found.GetID(), found.GetRepositorySelection(), err, inst)
	}
	// GitHub answers 404 for a repository outside the selection, exactly
	// as for an owner the App is not installed on.
	for _, name := range []string{"website", "later"} {
		_, _, err := app.Apps.FindRepositoryInstallation(ctx, "acme", name)
		if got := statusOf(t, err); got != http.StatusNotFound {
			t.Errorf("installation of acme/%s: status %d, want 404", name, got)
		}
	}
	// The organization's installation is found all the same.
	if org, _, err := app.Apps.FindOrganizationInstallation(ctx, "acme"); err != nil || org.GetID() != inst {
		t.Errorf("installation of acme = %v, %v", org.GetID(), err)
	}

	c := installationClient(t, s, inst)
	if _, _, err := c.Repositories.Get(ctx, "acme", "platform"); err != nil {
		t.Errorf("selected repository: %v", err)
	}
	_, _, err = c.Repositories.Get(ctx, "acme", "website")
	if got := statusOf(t, err); got != http.StatusNotFound {
		t.Errorf("unselected repository: status %d, want 404", got)
	}
	list, _, err := c.Apps.ListRepos(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.Repositories {
		names = append(names, r.GetFullName())
	}
	if diff := cmp.Diff([]string{"acme/platform"}, names); diff != "" || list.GetTotalCount() != 1 {
		t.Errorf("installation repositories (total %d) (-want +got):\n%s", list.GetTotalCount(), diff)
	}
	status, _, body := rawRequest(t, "POST", s.URL+"app/installations/"+itoa(inst)+"/access_tokens", "Bearer "+appJWT(t), `{"repositories":["website"]}`)
	if status != http.StatusUnprocessableEntity {
		t.Errorf("token for an unselected repository: %d %s, want 422", status, body)
	}

	// Pushes to repositories outside the selection send nothing.
	s.Commit("acme/website", "main", "x", map[string]*string{"x": ptr("x")})
	s.Commit("acme/platform", "main", "x", map[string]*string{"x": ptr("x")})
	s.WaitIdle()
	for _, r := range rc.received() {
		var p struct {
			Repository struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		if err := json.Unmarshal(r.Payload, &p); err != nil || p.Repository.FullName != "acme/platform" {
			t.Errorf("%s event for %q, outside the selection (%v)", r.Event, p.Repository.FullName, err)
		}
	}
	if len(rc.received()) == 0 {
		t.Errorf("no event for the selected repository")
	}

	// Selecting all repositories reaches every one, present and future.
	s.SetInstallationRepos(inst)
	s.CreateRepo("acme", "newest", "main", nil)
	if diff := cmp.Diff([]string{"acme/later", "acme/newest", "acme/platform", "acme/website"}, s.InstallationRepos(inst)); diff != "" {
		t.Errorf("after selecting all (-want +got):\n%s", diff)
	}
	if _, _, err := app.Apps.FindRepositoryInstallation(ctx, "acme", "website"); err != nil {
		t.Errorf("installation of acme/website after selecting all: %v", err)
	}
}

// installationEvent is an installation or installation_repositories
// delivery, decoded loosely to check the payload's exact keys.
type installationEvent struct {
	Action              string           `json:"action"`
	Installation        map[string]any   `json:"installation"`
	Repositories        []map[string]any `json:"repositories"`
	RepositorySelection string           `json:"repository_selection"`
	Added               []map[string]any `json:"repositories_added"`
	Removed             []map[string]any `json:"repositories_removed"`
	Requester           any              `json:"requester"`
	Sender              map[string]any   `json:"sender"`
}

func fullNames(repos []map[string]any) []string {
	out := []string{}
	for _, r := range repos {
		out = append(out, r["full_name"].(string))
	}
	return out
}

func TestInstallationEvents(t *testing.T) {
	rc := newReceiver(t)
	// The App subscribes to push only: installation events come anyway.
	s := newServer(t, func(o *githubtest.Options) { o.WebhookURL = rc.URL(); o.Events = []string{"push"} })
	s.CreateRepo("acme", "platform", "main", nil)
	s.CreateRepo("acme", "website", "main", nil)

	inst := s.InstallApp("acme", "platform")
	s.AddInstallationRepos(inst, "website")
	s.RemoveInstallationRepos(inst, "platform")
	s.SetInstallationRepos(inst)
	s.UninstallApp(inst)
	s.WaitIdle()

	got := rc.received()
	if diff := cmp.Diff([]string{
		"installation/created", "installation_repositories/added", "installation_repositories/removed",
		"installation_repositories/added", "installation/deleted",
	}, rc.events()); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	type summary struct {
		Selection, EventSelection string
		Repositories              []string
		Added, Removed            []string
	}
	var summaries []summary
	for _, r := range got {
		var ev installationEvent
		if err := json.Unmarshal(r.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		sm := summary{Selection: ev.Installation["repository_selection"].(string), EventSelection: ev.RepositorySelection}
		if r.Event == "installation" {
			sm.Repositories = fullNames(ev.Repositories)
		} else {
			sm.Added, sm.Removed = fullNames(ev.Added), fullNames(ev.Removed)
		}
		summaries = append(summaries, sm)
		// The fields GitHub documents for these events.
		if ev.Installation["id"] != float64(inst) || ev.Installation["account"].(map[string]any)["login"] != "acme" ||
			ev.Sender["login"] != "octocat" || ev.Requester != nil {
			t.Errorf("%s %s: installation %v sender %v requester %v", r.Event, ev.Action, ev.Installation, ev.Sender, ev.Requester)
		}
		for _, list := range [][]map[string]any{ev.Repositories, ev.Added, ev.Removed} {
			for _, repo := range list {
				var keys []string
				for k := range repo {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				if diff := cmp.Diff([]string{"full_name", "id", "name", "node_id", "private"}, keys); diff != "" {
					t.Errorf("%s %s: repository keys (-want +got):\n%s", r.Event, ev.Action, diff)
				}
			}
		}
		// go-github decodes them as the events they are.
		switch e := r.Parsed.(type) {
		case *github.InstallationEvent:
			if e.GetInstallation().GetID() != inst {
				t.Errorf("InstallationEvent installation = %d", e.GetInstallation().GetID())
			}
		case *github.InstallationRepositoriesEvent:
			if e.GetInstallation().GetID() != inst || e.GetRepositorySelection() != ev.RepositorySelection {
				t.Errorf("InstallationRepositoriesEvent = %s", r.Payload)
			}
		default:
			t.Errorf("%s decodes as %T", r.Event, r.Parsed)
		}
	}
	want := []summary{
		{Selection: "selected", Repositories: []string{"acme/platform"}},
		{Selection: "selected", EventSelection: "selected", Added: []string{"acme/website"}, Removed: []string{}},
		{Selection: "selected", EventSelection: "selected", Added: []string{}, Removed: []string{"acme/platform"}},
		{Selection: "all", EventSelection: "all", Added: []string{"acme/platform"}, Removed: []string{}},
		{Selection: "all", Repositories: []string{"acme/platform", "acme/website"}},
	}
	if diff := cmp.Diff(want, summaries); diff != "" {
		t.Errorf("payloads (-want +got):\n%s", diff)
	}

	// Uninstalling revokes tokens and stops repository events.
	before := len(s.Deliveries())
	s.Commit("acme/platform", "main", "x", map[string]*string{"x": ptr("x")})
	s.WaitIdle()
	if n := len(s.Deliveries()) - before; n != 0 {
		t.Errorf("%d deliveries after uninstalling", n)
	}
}

func TestUninstallingRevokesTokens(t *testing.T) {
	s := newServer(t)
	s.CreateRepo("acme", "platform", "main", nil)
	inst := s.AddInstallation("acme")
	tok, err := s.InstallationToken(inst)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+tok, ""); status != 200 {
		t.Fatalf("status = %d before uninstalling", status)
	}
	s.UninstallApp(inst)
	if status, _, _ := rawRequest(t, "GET", s.URL+"repos/acme/platform", "token "+tok, ""); status != http.StatusUnauthorized {
		t.Errorf("status = %d after uninstalling, want 401", status)
	}
	if d := s.Deliveries(); len(d) != 1 || d[0].Event != "installation" || d[0].Action != "deleted" || d[0].Repo != "" {
		t.Errorf("deliveries = %+v", d)
	}
}
