package handlers

import (
	"context"

	"github.com/google/go-github/v62/github"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Push turns a push to a default branch into work: on the config repo, a
// propose run; on the pipelines repo, an apply run (which proposes again
// too, since templates or settings may have changed).
type Push struct {
	Repos    Repos
	Recorder Recorder
}

// Handles implements githubapp.EventHandler.
func (h *Push) Handles() []string { return []string{"push"} }

// Handle implements githubapp.EventHandler.
func (h *Push) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev github.PushEvent
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	repo := ev.GetRepo().GetFullName()
	if !h.Repos.isConfig(repo) && !h.Repos.isPipelines(repo) {
		return ignore(ctx, "repository not configured")
	}
	if ev.GetRef() != "refs/heads/"+ev.GetRepo().GetDefaultBranch() {
		return ignore(ctx, "not the default branch")
	}
	if ev.GetDeleted() {
		return ignore(ctx, "branch deleted")
	}
	w := Work{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Repo:         repo,
		Lane:         h.Repos.Pipelines, // both runs write to the pipelines repo
		Installation: ev.GetInstallation().GetID(),
		Ref:          ev.GetRepo().GetDefaultBranch(),
		SHA:          ev.GetAfter(),
		Before:       ev.GetBefore(),
		Sender:       ev.GetSender().GetLogin(),
	}
	if h.Repos.isConfig(repo) {
		w.Key = work.Key(work.Propose, "")
	} else {
		w.Key = work.Key(work.Apply, "")
	}
	return record(ctx, h.Recorder, w)
}
