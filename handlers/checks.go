package handlers

import (
	"context"

	"github.com/google/go-github/v62/github"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/gh"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/work"
)

// Check-run names whose re-run maps to a kind of work.
var rerunKinds = map[string]work.Kind{
	gh.CheckPlan:    work.Preview,
	gh.CheckSync:    work.Propose,
	gh.CheckHarness: work.Apply,
	gh.CheckDrift:   work.Reconcile,
}

// CheckSuite turns "Re-run all checks" into the work that produces the
// app's check runs on that commit: a commit of a pull request is previewed
// (the plan check run); the default branch's head of the config repo is
// proposed again (the sync check run), and the pipelines repo's is applied
// and reconciled again (the harness and drift check runs). GitHub sends
// check_suite rerequested for "Re-run all checks" and check_run
// rerequested for one check run's "Re-run"
// (docs.github.com/en/webhooks/webhook-events-and-payloads#check_suite).
// The automatic "requested" suite after every push is ignored: push and
// pull_request events already cover it.
type CheckSuite struct {
	Repos    Repos
	Recorder Recorder
}

// Handles implements githubapp.EventHandler.
func (h *CheckSuite) Handles() []string { return []string{"check_suite"} }

// Handle implements githubapp.EventHandler.
func (h *CheckSuite) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev github.CheckSuiteEvent
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	if ev.GetAction() != "rerequested" {
		return ignore(ctx, "check_suite "+ev.GetAction())
	}
	suite := ev.GetCheckSuite()
	w := Work{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Action:       ev.GetAction(),
		Repo:         ev.GetRepo().GetFullName(),
		Installation: ev.GetInstallation().GetID(),
		Ref:          suite.GetHeadBranch(),
		SHA:          suite.GetHeadSHA(),
		Before:       suite.GetBeforeSHA(),
		Sender:       ev.GetSender().GetLogin(),
		Key:          work.Key(work.Preview, suite.GetHeadSHA()),
	}
	if prs := suite.PullRequests; len(prs) > 0 {
		w.PR = prs[0].GetNumber()
		w.Ref = prs[0].GetBase().GetRef()
		w.Before = prs[0].GetBase().GetSHA()
	}
	if !laneFor(h.Repos, &w) {
		return ignore(ctx, "repository not configured")
	}
	if len(suite.PullRequests) > 0 || suite.GetHeadBranch() != ev.GetRepo().GetDefaultBranch() {
		return record(ctx, h.Recorder, w)
	}
	kinds := []work.Kind{work.Propose}
	if h.Repos.isPipelines(w.Repo) {
		kinds = []work.Kind{work.Apply, work.Reconcile}
	}
	w.Lane = h.Repos.Pipelines // propose, apply and reconcile write there
	for _, k := range kinds {
		w.Key = work.Key(k, "")
		if err := record(ctx, h.Recorder, w); err != nil {
			return err
		}
	}
	return nil
}

// CheckRun turns "Re-run" on one of the app's check runs into the work that
// produces that check run.
type CheckRun struct {
	Repos    Repos
	Recorder Recorder
}

// Handles implements githubapp.EventHandler.
func (h *CheckRun) Handles() []string { return []string{"check_run"} }

// checkRunEvent is the part of a check_run payload the handler reads.
// go-github's CheckRunEvent is not used: GitHub's documented example
// payload carries app timestamps ("2018-04-25 20:42:10") that it cannot
// decode, and none of those fields matter here.
type checkRunEvent struct {
	Action   string `json:"action"`
	CheckRun struct {
		Name       string `json:"name"`
		HeadSHA    string `json:"head_sha"`
		CheckSuite struct {
			HeadBranch string `json:"head_branch"`
		} `json:"check_suite"`
		PullRequests []struct {
			Number int `json:"number"`
			Base   struct {
				Ref string `json:"ref"`
				SHA string `json:"sha"`
			} `json:"base"`
		} `json:"pull_requests"`
	} `json:"check_run"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Sender struct {
		Login string `json:"login"`
	} `json:"sender"`
}

// Handle implements githubapp.EventHandler.
func (h *CheckRun) Handle(ctx context.Context, eventType, deliveryID string, payload []byte) error {
	var ev checkRunEvent
	if err := decode(eventType, payload, &ev); err != nil {
		return err
	}
	if ev.Action != "rerequested" {
		return ignore(ctx, "check_run "+ev.Action)
	}
	run := ev.CheckRun
	kind, ours := rerunKinds[run.Name]
	if !ours {
		return ignore(ctx, "check run "+run.Name+" is not the app's")
	}
	w := Work{
		DeliveryID:   deliveryID,
		Event:        eventType,
		Action:       ev.Action,
		Repo:         ev.Repository.FullName,
		Installation: ev.Installation.ID,
		Ref:          run.CheckSuite.HeadBranch,
		SHA:          run.HeadSHA,
		Sender:       ev.Sender.Login,
		Key:          work.Key(kind, ""),
	}
	if prs := run.PullRequests; len(prs) > 0 {
		w.PR = prs[0].Number
		w.Ref = prs[0].Base.Ref
		w.Before = prs[0].Base.SHA
	}
	if kind == work.Preview {
		w.Key = work.Key(work.Preview, w.SHA)
	}
	if !laneFor(h.Repos, &w) {
		return ignore(ctx, "repository not configured")
	}
	if kind != work.Preview {
		w.Lane = h.Repos.Pipelines // propose, apply and reconcile write there
	}
	return record(ctx, h.Recorder, w)
}

// laneFor sets w.Lane to the event's repository; false if not configured.
func laneFor(repos Repos, w *Work) bool {
	switch {
	case repos.isConfig(w.Repo):
		w.Lane = repos.Config
	case repos.isPipelines(w.Repo):
		w.Lane = repos.Pipelines
	default:
		return false
	}
	return true
}
