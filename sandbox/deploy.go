package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness"
	"github.com/pipeline-orchestrator/pipeline-orchestrator/harness/harnesstest"
)

// Deploy is what a deploy through a service's new-image trigger did.
type Deploy struct {
	// EventID is the custom webhook event Harness answered the call with.
	EventID string
	// Execution is the run as Harness's execution details report it over
	// the API; Record is the Harness stand-in's own record of it (files
	// fetched per stage, with the commit they came from).
	Execution *harness.Execution
	Record    harnesstest.ExecutionRecord
	// Approved are the approval instances approved, in order.
	Approved []string
}

// HarnessClient returns a Harness API client of org and project on the
// Harness stand-in, as the app's is configured.
func (s *StandIns) HarnessClient(org, project string) (*harness.Client, error) {
	c, err := harness.New(harness.Config{BaseURL: s.Harness.URL, AccountID: s.Harness.AccountID(), APIKey: s.Harness.APIKey()})
	if err != nil {
		return nil, err
	}
	return c.In(org, project), nil
}

// DeployImage deploys image tag tag as an image registry's CI would, over
// Harness's API: it posts {"imageTag": tag} to the custom webhook of the
// trigger of pipeline, waits for the run the event starts, approves every
// approval gate it waits at (comment names who approves), and returns
// once the run has ended, whatever its status. Wait gates pass in the
// stand-in's compressed time (StandInOptions.HarnessTimeScale).
func (s *StandIns) DeployImage(ctx context.Context, org, project, pipeline, trigger, tag, comment string) (Deploy, error) {
	c, err := s.HarnessClient(org, project)
	if err != nil {
		return Deploy{}, err
	}
	triggers, err := c.List(ctx, harness.KindTrigger, pipeline)
	if err != nil {
		return Deploy{}, err
	}
	webhook := ""
	for _, t := range triggers {
		if t.Identifier == trigger {
			webhook = t.WebhookURL
		}
	}
	if webhook == "" {
		return Deploy{}, fmt.Errorf("Harness lists no custom webhook trigger %s of %s", trigger, pipeline)
	}
	var d Deploy
	if d.EventID, err = c.FireTrigger(ctx, webhook, []byte(fmt.Sprintf(`{"imageTag": %q}`, tag))); err != nil {
		return d, err
	}
	id, err := runOf(ctx, c, d.EventID)
	if err != nil {
		return d, err
	}
	if d.Approved, err = s.approveUntilDone(ctx, c, id, comment); err != nil {
		return d, err
	}
	d.Record, _ = s.Harness.Execution(id)
	d.Execution, err = c.GetExecution(ctx, id)
	return d, err
}

// runOf waits until Harness has processed a webhook event (until then its
// processing details are not found) and returns the run it started.
func runOf(ctx context.Context, c *harness.Client, eventID string) (string, error) {
	for {
		ev, err := c.TriggerEvent(ctx, eventID)
		switch {
		case err == nil && ev.ExecutionID != "":
			return ev.ExecutionID, nil
		case err == nil && ev.Status != "TARGET_EXECUTION_REQUESTED":
			// TriggerEventResponse.FinalStatus: why no run started.
			return "", fmt.Errorf("the trigger started no run: %s %s", ev.Status, ev.Message)
		case err != nil && !errors.Is(err, harness.ErrNotFound):
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// approveUntilDone approves the run's approval gates as they come, until
// the run ends, and returns the approvals it approved.
func (s *StandIns) approveUntilDone(ctx context.Context, c *harness.Client, id, comment string) ([]string, error) {
	var approved []string
	done := map[string]bool{}
	for {
		rec, err := s.Harness.AwaitExecution(ctx, id, harnesstest.StatusApprovalWaiting, harnesstest.StatusSuccess,
			harnesstest.StatusFailed, harnesstest.StatusApprovalRejected, harnesstest.StatusAborted, "Errored", "Expired")
		if err != nil {
			return approved, err
		}
		if rec.Status != harnesstest.StatusApprovalWaiting {
			return approved, nil // ended
		}
		list, err := c.ApprovalInstances(ctx, id)
		if err != nil {
			return approved, err
		}
		for _, a := range list {
			if a.Status != "WAITING" || done[a.ID] {
				continue
			}
			if _, err := c.Approve(ctx, a.ID, comment); err != nil {
				return approved, err
			}
			done[a.ID] = true
			approved = append(approved, a.ID)
		}
		select { // the run leaves ApprovalWaiting once the approval is recorded
		case <-ctx.Done():
			return approved, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
