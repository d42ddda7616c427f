package handlers

import (
	"context"

	"github.com/google/go-github/v62/github"
)

// Installation forgets cached installation ids when the App is installed,
// uninstalled, suspended or its repository selection changes. GitHub sends
// these events to every App without a subscription.
type Installation struct {
	// OnChange is called with the account login whose installation changed.
	OnChange func(owner string)
}

// Handles implements githubapp.EventHandler.
func (h *Installation) Handles() []string {
	return []string{"installation", "installation_repositories"}
}

// Handle implements githubapp.EventHandler.
func (h *Installation) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev struct {
		Action       string               `json:"action"`
		Installation *github.Installation `json:"installation"`
	}
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	owner := ev.Installation.GetAccount().GetLogin()
	if h.OnChange != nil && owner != "" {
		h.OnChange(owner)
	}
	return ignore(ctx, eventType+" "+ev.Action+" for "+owner+": installation cache refreshed")
}
