package handlers

import (
	"context"
	"strings"

	"github.com/google/go-github/v62/github"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Installation forgets cached installation ids when the App is installed,
// uninstalled, suspended or its repository selection changes, and when
// the App gains access to a repository it serves (installed on its owner
// with all repositories or with it among them, the repository added to an
// installation, an installation unsuspended), records a catch-up: a
// propose and an apply from the current heads, so an App started before
// its installation converges without waiting for a push. GitHub sends
// these events to every App, whatever it subscribes to
// (docs.github.com/en/webhooks/webhook-events-and-payloads#installation).
type Installation struct {
	Repos    Repos
	Recorder Recorder
	// OnChange is called with the account login whose installation changed.
	OnChange func(owner string)
}

// Handles implements githubapp.EventHandler.
func (h *Installation) Handles() []string {
	return []string{"installation", "installation_repositories"}
}

// installationEvent is the part of installation and
// installation_repositories payloads the handler reads.
type installationEvent struct {
	Action              string               `json:"action"`
	Installation        *github.Installation `json:"installation"`
	RepositorySelection string               `json:"repository_selection"`
	Repositories        []*github.Repository `json:"repositories"`
	RepositoriesAdded   []*github.Repository `json:"repositories_added"`
	Sender              *github.User         `json:"sender"`
}

// Handle implements githubapp.EventHandler.
func (h *Installation) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev installationEvent
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	owner := ev.Installation.GetAccount().GetLogin()
	if h.OnChange != nil && owner != "" {
		h.OnChange(owner)
	}
	repo, ok := h.gained(eventType, ev, owner)
	if !ok {
		return ignore(ctx, eventType+" "+ev.Action+" for "+owner+": installation cache refreshed")
	}
	for _, kind := range []work.Kind{work.Propose, work.Apply} {
		if err := record(ctx, h.Recorder, Work{
			DeliveryID: deliveryID, Event: eventType, Action: ev.Action, Lane: h.Repos.Pipelines, Key: work.Key(kind, ""),
			Repo: repo, Installation: ev.Installation.GetID(), Sender: ev.Sender.GetLogin(),
		}); err != nil {
			return err
		}
	}
	return nil
}

// gained returns a served repository the event gives the App access to.
func (h *Installation) gained(eventType string, ev installationEvent, owner string) (string, bool) {
	var repos []*github.Repository
	switch {
	case eventType == "installation" && (ev.Action == "created" || ev.Action == "unsuspend"):
		selection := ev.RepositorySelection
		if selection == "" {
			selection = ev.Installation.GetRepositorySelection()
		}
		if selection == "all" {
			// The payload's list is optional then: every repository of
			// the owner is covered.
			for _, served := range []string{h.Repos.Config, h.Repos.Pipelines} {
				if o, _, _ := strings.Cut(served, "/"); strings.EqualFold(o, owner) {
					return served, true
				}
			}
			return "", false
		}
		repos = ev.Repositories
	case eventType == "installation_repositories" && ev.Action == "added":
		repos = ev.RepositoriesAdded
	}
	for _, r := range repos {
		if full := r.GetFullName(); h.Repos.isConfig(full) || h.Repos.isPipelines(full) {
			return full, true
		}
	}
	return "", false
}
