package handlers

import (
	"context"
	"strings"

	"github.com/google/go-github/v62/github"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// PullRequest turns PR activity into work: a new head on a config-repo PR
// or on a pipelines-repo PR is previewed; the bot PR's closing (merged or
// not) and its labels are recorded for the propose and apply runs.
type PullRequest struct {
	Repos    Repos
	Recorder Recorder
}

// Handles implements githubapp.EventHandler.
func (h *PullRequest) Handles() []string { return []string{"pull_request"} }

// Handle implements githubapp.EventHandler.
func (h *PullRequest) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev github.PullRequestEvent
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	repo := ev.GetRepo().GetFullName()
	pr := ev.GetPullRequest()
	w := Work{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Action:       ev.GetAction(),
		Repo:         repo,
		Installation: ev.GetInstallation().GetID(),
		Ref:          pr.GetBase().GetRef(),
		SHA:          pr.GetHead().GetSHA(),
		Before:       pr.GetBase().GetSHA(),
		PR:           pr.GetNumber(),
		Sender:       ev.GetSender().GetLogin(),
	}
	switch {
	case h.Repos.isConfig(repo):
		w.Lane = h.Repos.Config
	case h.Repos.isPipelines(repo):
		w.Lane = h.Repos.Pipelines
	default:
		return ignore(ctx, "repository not configured")
	}

	if h.Repos.isPipelines(repo) && isBotPR(pr, repo) {
		switch ev.GetAction() {
		case "closed":
			// Merged or not: the propose run must learn of it (a bot PR
			// closed unmerged is not reopened for the same proposal).
			w.Key = work.Key(work.BotPR, "")
		case "labeled", "unlabeled":
			if !pr.GetMerged() {
				return ignore(ctx, "label on the open bot PR: read when it merges")
			}
			// The mass-delete label on a merged bot PR releases its held deletes.
			w.Key = work.Key(work.Apply, "")
			w.SHA = pr.GetMergeCommitSHA()
		default:
			return ignore(ctx, "the app's own bot PR")
		}
		return record(ctx, h.Recorder, w)
	}

	switch ev.GetAction() {
	case "opened", "synchronize", "reopened", "ready_for_review":
		w.Key = work.Key(work.Preview, w.SHA)
		return record(ctx, h.Recorder, w)
	case "edited":
		// A new base changes what the PR does: preview it again. GitHub
		// sends changes.base when the base branch changed
		// (docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request).
		if ev.GetChanges().GetBase() == nil {
			return ignore(ctx, "pull_request edited without a new base")
		}
		w.Key = work.Key(work.Preview, w.SHA)
		return record(ctx, h.Recorder, w)
	}
	return ignore(ctx, "pull_request action "+ev.GetAction()+" needs no preview")
}

// isBotPR reports whether pr is the App's bot PR in repo: from repo's own
// sync branch (not a fork's branch of the same name) and opened by a bot.
// Anyone can push a branch named like the sync branch to a fork; only the
// App's token makes a bot the author.
func isBotPR(pr *github.PullRequest, repo string) bool {
	head := pr.GetHead()
	return head.GetRef() == gh.SyncBranch && strings.EqualFold(head.GetRepo().GetFullName(), repo) &&
		pr.GetUser().GetType() == "Bot"
}
