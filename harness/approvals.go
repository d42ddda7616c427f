package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// Approvals: an approval instance is acted on by id through the v0
// resource ApprovalResource (@Path("approvals") in harness-core's pipeline
// service; accountIdentifier only), and a run's instances are found
// through the v1 API, GET /v1/orgs/{org}/projects/{project}/approvals/
// execution/{execution-id}, which takes the account from the
// Harness-Account header and answers a bare JSON array (ApprovalsApiImpl;
// pipeline-service/contracts/openapi/v1/openapi.yaml). The gateway serves
// the v1 API under /pipeline/api, as Harness's documentation shows it.
const (
	pathApprovals   = "/pipeline/api/approvals/"
	pathApprovalsV1 = "/pipeline/api/v1/orgs/"
)

// Approval is an approval instance.
type Approval struct {
	ID   string
	Type string // HarnessApproval, JiraApproval, ...
	// Status is WAITING, APPROVED, REJECTED, FAILED, ABORTED or EXPIRED.
	Status string
	// Message is a Harness approval's approvalMessage.
	Message string
	// MinimumCount approvals approve it; Activities are those so far.
	MinimumCount int
	Activities   []ApprovalActivity
}

// ApprovalActivity is one approval or rejection.
type ApprovalActivity struct {
	Action   string // APPROVE or REJECT
	Comments string
}

// approvalJSON reads ApprovalInstanceResponseDTO (v0) and
// ApprovalInstanceResponseBody (v1): the fields the client reads are
// named alike.
type approvalJSON struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Details struct {
		ApprovalMessage string `json:"approvalMessage"`
		Approvers       struct {
			MinimumCount int `json:"minimumCount"`
		} `json:"approvers"`
		Activities []struct {
			Action   string `json:"action"`
			Comments string `json:"comments"`
		} `json:"approvalActivities"`
	} `json:"details"`
}

func (a *approvalJSON) approval() Approval {
	out := Approval{ID: a.ID, Type: a.Type, Status: a.Status, Message: a.Details.ApprovalMessage,
		MinimumCount: a.Details.Approvers.MinimumCount}
	for _, act := range a.Details.Activities {
		out.Activities = append(out.Activities, ApprovalActivity{Action: act.Action, Comments: act.Comments})
	}
	return out
}

// ApprovalInstances lists the approval instances of the run executionID,
// waiting or not. An unknown run is ErrInvalidRequest, as Harness answers
// 400 for it.
func (c *Client) ApprovalInstances(ctx context.Context, executionID string) ([]Approval, error) {
	return c.runs.approvalInstances(ctx, executionID)
}

// approvalInstances is Client.ApprovalInstances.
func (r *runAPI) approvalInstances(ctx context.Context, executionID string) ([]Approval, error) {
	if err := checkExecutionID(executionID); err != nil {
		return nil, err
	}
	if err := r.sc.check(); err != nil {
		return nil, err
	}
	var list []approvalJSON
	err := r.do(ctx, call{
		op: "list_approvals", method: http.MethodGet,
		path: pathApprovalsV1 + url.PathEscape(r.sc.org) + "/projects/" + url.PathEscape(r.sc.project) +
			"/approvals/execution/" + url.PathEscape(executionID),
		accountScope: true, bare: true, header: http.Header{"Harness-Account": {r.t.account}},
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &list); err != nil {
				return unexpected("approvals answer is not a list of approval instances")
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("listing the approvals of execution %q: %w", executionID, err)
	}
	out := make([]Approval, 0, len(list))
	for i := range list {
		out = append(out, list[i].approval())
	}
	return out, nil
}

// GetApproval reads an approval instance.
func (c *Client) GetApproval(ctx context.Context, approvalInstanceID string) (*Approval, error) {
	return c.runs.getApproval(ctx, approvalInstanceID)
}

// getApproval is Client.GetApproval.
func (r *runAPI) getApproval(ctx context.Context, approvalInstanceID string) (*Approval, error) {
	if err := checkExecutionID(approvalInstanceID); err != nil {
		return nil, err
	}
	var a approvalJSON
	err := r.do(ctx, call{
		op: "get_approval", method: http.MethodGet, path: pathApprovals + url.PathEscape(approvalInstanceID),
		accountScope: true, decode: decodeApproval(&a),
	})
	if err != nil {
		return nil, fmt.Errorf("reading approval %q: %w", approvalInstanceID, err)
	}
	out := a.approval()
	return &out, nil
}

func decodeApproval(a *approvalJSON) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, a); err != nil || a.ID == "" {
			return unexpected("approval answer has no id")
		}
		return nil
	}
}

// Approve approves a waiting Harness approval instance with comments, as
// the API key's user; Reject rejects it. An instance that is no longer
// waiting is ErrInvalidRequest ("Harness approval instance has already
// completed").
//
// An approval is not idempotent (each counts toward minimumCount), so it
// is repeated only when it provably did not reach Harness or was
// throttled; after an ambiguous failure the instance is read back, and one
// already decided that way ends the call with success.
func (c *Client) Approve(ctx context.Context, approvalInstanceID, comments string) (*Approval, error) {
	return c.runs.approvalActivity(ctx, approvalInstanceID, "APPROVE", comments)
}

// Reject rejects a waiting Harness approval instance (see Approve).
func (c *Client) Reject(ctx context.Context, approvalInstanceID, comments string) (*Approval, error) {
	return c.runs.approvalActivity(ctx, approvalInstanceID, "REJECT", comments)
}

// approvalActivity approves (action APPROVE) or rejects (REJECT) the
// instance id (Client.Approve, Client.Reject).
func (r *runAPI) approvalActivity(ctx context.Context, id, action, comments string) (*Approval, error) {
	if err := checkExecutionID(id); err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"action": action, "comments": comments, "approverInputs": []any{}})
	if err != nil {
		return nil, err
	}
	decided := map[string]string{"APPROVE": "APPROVED", "REJECT": "REJECTED"}[action]
	var a approvalJSON
	err = r.do(ctx, call{
		op: "approval_activity", method: http.MethodPost,
		path: pathApprovals + url.PathEscape(id) + "/harness/activity", accountScope: true,
		body: body, contentType: "application/json", mode: retryUnsent, decode: decodeApproval(&a),
		settled: func(ctx context.Context) bool {
			got, err := r.getApproval(ctx, id)
			return err == nil && got.Status == decided
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%s approval %q: %w", map[string]string{"APPROVE": "approving", "REJECT": "rejecting"}[action], id, err)
	}
	if a.ID == "" {
		// Settled by the read-back: read it again for the answer.
		return r.getApproval(ctx, id)
	}
	out := a.approval()
	return &out, nil
}
