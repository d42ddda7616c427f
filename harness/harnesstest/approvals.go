package harnesstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Harness approvals: a HarnessApproval step creates an approval instance
// and waits, in status ApprovalWaiting, until enough approvers approve or
// one rejects (HarnessApprovalStep, ApprovalInstanceServiceImpl in
// harness-core pipeline-service/modules/orchestration-steps). The instance
// is acted on by id through the v0 approvals resource, and found by the
// run's id through the v1 API.

// The statuses of an approval instance (ApprovalStatus).
const (
	ApprovalWaiting  = "WAITING"
	ApprovalApproved = "APPROVED"
	ApprovalRejected = "REJECTED"
	ApprovalAborted  = "ABORTED"
)

// ApprovalRecord is one approval instance of a HarnessApproval step.
type ApprovalRecord struct {
	ID          string
	ExecutionID string
	Stage, Step string // identifiers
	Status      string // WAITING, APPROVED, REJECTED or ABORTED
	Message     string // the step's approvalMessage
	UserGroups  []string
	// MinimumCount approvals make the instance APPROVED.
	MinimumCount int
	Activities   []ApprovalActivity
}

// ApprovalActivity is one approval or rejection.
type ApprovalActivity struct {
	Action   string // APPROVE or REJECT
	Comments string
	Inputs   map[string]string
}

type approval struct {
	rec                ApprovalRecord
	exec               *execution
	stepName           string
	createdAt, updated int64
	deadline           int64
	inputs             []map[string]any // the step's approverInputs: name, defaultValue
	includeHistory     bool
	disallowExecutor   bool
	decided            chan struct{}
	activityTimestamps []int64
}

// approvalStep is HarnessApprovalStep: it creates the instance and waits
// for it to be decided. APPROVED ends the step with Success, REJECTED
// with ApprovalRejected, which the stage and the run take on.
func (s *Server) approvalStep(ctx context.Context, e *execution, st *stageRun, sp *stepRun, spec map[string]any, ev *evalCtx) (string, string) {
	approvers := mapAt(spec, "approvers")
	a := &approval{exec: e, stepName: sp.name, decided: make(chan struct{})}
	a.rec = ApprovalRecord{ExecutionID: e.id, Stage: st.id, Step: sp.id, Status: ApprovalWaiting, MinimumCount: 1}
	msg, _ := ev.render(scalarText(spec["approvalMessage"]))
	a.rec.Message = msg
	if groups, ok := approvers["userGroups"].([]any); ok {
		for _, g := range groups {
			a.rec.UserGroups = append(a.rec.UserGroups, scalarText(g))
		}
	}
	if n, ok := approvers["minimumCount"].(int); ok && n > 0 {
		a.rec.MinimumCount = n
	}
	a.disallowExecutor, _ = approvers["disallowPipelineExecutor"].(bool)
	a.includeHistory, _ = spec["includePipelineExecutionHistory"].(bool)
	if list, ok := spec["approverInputs"].([]any); ok {
		for _, in := range list {
			a.inputs = append(a.inputs, asMap(in))
		}
	}
	s.changeRun(e, func() {
		a.rec.ID = s.newExecutionID()
		a.createdAt = s.now().UnixMilli()
		a.updated = a.createdAt
		timeout, ok := parseHarnessDuration(scalarText(sp.doc["timeout"]))
		if !ok {
			timeout, _ = parseHarnessDuration("1d")
		}
		a.deadline = a.createdAt + timeout.Milliseconds()
		s.approvals[a.rec.ID] = a
		sp.approvalID = a.rec.ID
		sp.outcomes = map[string]any{}
	})
	s.stepStatus(e, st, sp, StatusApprovalWaiting, "")
	select {
	case <-a.decided:
	case <-ctx.Done():
		s.changeRun(e, func() { a.rec.Status = ApprovalAborted })
		return StatusAborted, "the stand-in was closed"
	}
	s.mu.Lock()
	status := a.rec.Status
	activities := approvalActivitiesJSON(a)
	s.mu.Unlock()
	s.changeRun(e, func() {
		sp.outcomes = map[string]any{"output": map[string]any{"approvalActivities": activities}}
	})
	if status == ApprovalRejected {
		// ApprovalInstance.getFailureInfo.
		return StatusApprovalRejected, "Approval Step has been Rejected"
	}
	return StatusSuccess, ""
}

// decideApproval adds an activity to a waiting instance as
// ApprovalInstanceServiceImpl.addHarnessApprovalActivityInTransaction
// does: REJECT rejects; APPROVE approves once MinimumCount approvals are
// in. Its failures are wrapped as there ("Unable to add Harness Approval
// Activity : …"). The caller holds no lock.
func (s *Server) decideApproval(id, action, comments string, inputs map[string]string) (*approval, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.approvals[id]
	if a == nil {
		// ApprovalResourceServiceImpl.addHarnessApprovalActivity reads the
		// instance for the authorization check first
		// (ApprovalInstanceServiceImpl.get).
		return nil, fmt.Errorf("Invalid approval instance id: %s", id)
	}
	if action != "APPROVE" && action != "REJECT" {
		return nil, fmt.Errorf("action in request body should be one of [APPROVE, REJECT]")
	}
	if a.rec.Status != ApprovalWaiting {
		// fetchWaitingHarnessApproval.
		return nil, fmt.Errorf("Unable to add Harness Approval Activity : Harness approval instance has already completed. Status: %s", a.rec.Status)
	}
	a.rec.Activities = append(a.rec.Activities, ApprovalActivity{Action: action, Comments: comments, Inputs: inputs})
	now := s.now().UnixMilli()
	a.activityTimestamps = append(a.activityTimestamps, now)
	a.updated = now
	switch {
	case action == "REJECT":
		a.rec.Status = ApprovalRejected
	case len(a.rec.Activities) >= a.rec.MinimumCount:
		a.rec.Status = ApprovalApproved
	}
	if a.rec.Status != ApprovalWaiting {
		close(a.decided)
	}
	return a, nil
}

// ApprovalInstances returns the approval instances of the run executionID,
// in the order they were created.
func (s *Server) ApprovalInstances(executionID string) []ApprovalRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*approval
	for _, a := range s.approvals {
		if a.rec.ExecutionID == executionID {
			list = append(list, a)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].createdAt < list[j].createdAt })
	out := make([]ApprovalRecord, 0, len(list))
	for _, a := range list {
		out = append(out, a.copyRecord())
	}
	return out
}

// Approve approves the approval instance id as a Harness user would in
// the UI; Reject rejects it. They fail as the API does.
func (s *Server) Approve(id, comments string) error {
	_, err := s.decideApproval(id, "APPROVE", comments, nil)
	return err
}

// Reject rejects the approval instance id.
func (s *Server) Reject(id, comments string) error {
	_, err := s.decideApproval(id, "REJECT", comments, nil)
	return err
}

func (a *approval) copyRecord() ApprovalRecord {
	r := a.rec
	r.UserGroups = append([]string(nil), a.rec.UserGroups...)
	r.Activities = append([]ApprovalActivity(nil), a.rec.Activities...)
	return r
}

// approvalActivitiesJSON is HarnessApprovalActivityDTO for each activity.
// The caller holds s.mu.
func approvalActivitiesJSON(a *approval) []any {
	out := []any{}
	for i, act := range a.rec.Activities {
		inputs := []any{}
		keys := make([]string, 0, len(act.Inputs))
		for k := range act.Inputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			inputs = append(inputs, map[string]any{"name": k, "value": act.Inputs[k]})
		}
		out = append(out, map[string]any{
			"user": approverUser, "action": act.Action, "approverInputs": inputs, "comments": act.Comments,
			"approvedAt": a.activityTimestamps[i],
		})
	}
	return out
}

// approverUser is the user behind the API key, as activities record it.
var approverUser = map[string]any{"name": "harnesstest", "email": "harnesstest@example.com"}

// approvalDetails is HarnessApprovalInstanceDetailsDTO. The caller holds
// s.mu.
func approvalDetails(a *approval) map[string]any {
	groups := []any{}
	for _, g := range a.rec.UserGroups {
		groups = append(groups, g)
	}
	inputs := []any{}
	for _, in := range a.inputs {
		inputs = append(inputs, map[string]any{"name": str(in, "name"), "defaultValue": scalarText(in["defaultValue"])})
	}
	return map[string]any{
		"approvalMessage": a.rec.Message, "includePipelineExecutionHistory": a.includeHistory,
		"approvers": map[string]any{"userGroups": groups, "minimumCount": a.rec.MinimumCount,
			"disallowPipelineExecutor": a.disallowExecutor},
		"approvalActivities": approvalActivitiesJSON(a), "approverInputs": inputs,
		"validatedApprovalUserGroups": []any{},
	}
}

// approvalResponse is ApprovalInstanceResponseDTO, the v0 answer. The
// caller holds s.mu.
func approvalResponse(a *approval) map[string]any {
	return map[string]any{
		"id": a.rec.ID, "type": "HarnessApproval", "status": a.rec.Status, "deadline": a.deadline,
		"details": approvalDetails(a), "createdAt": a.createdAt, "lastModifiedAt": a.updated, "errorMessage": nil,
	}
}

// approvalBody is ApprovalInstanceResponseBody, the v1 answer
// (ApprovalsAPIUtils.toApprovalInstanceResponseBody). The caller holds
// s.mu.
func approvalBody(a *approval) map[string]any {
	return map[string]any{
		"id": a.rec.ID, "type": "HarnessApproval", "status": a.rec.Status, "deadline": a.deadline,
		"details": approvalDetails(a), "created": a.createdAt, "updated": a.updated, "error_message": nil,
	}
}

// routeApprovalsV0 serves the v0 resource ApprovalResource
// (@Path("approvals") in harness-core pipeline-service/contracts
// io/harness/pms/approval/resources/ApprovalResource.java): GET
// /{approvalInstanceId} and POST /{approvalInstanceId}/harness/activity,
// both with accountIdentifier only.
func (s *Server) routeApprovalsV0(r *http.Request, rest string, body []byte) reply {
	id, tail, _ := strings.Cut(rest, "/")
	switch {
	case tail == "" && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		a := s.approvals[id]
		if a == nil || a.exec.scope.account != r.URL.Query().Get("accountIdentifier") {
			// ApprovalInstanceServiceImpl.get.
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf("Invalid approval instance id: %s", id))
		}
		return s.success(approvalResponse(a))
	case tail == "harness/activity" && r.Method == http.MethodPost:
		var req struct {
			Action         string `json:"action"`
			Comments       string `json:"comments"`
			ApproverInputs []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"approverInputs"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return s.failure(http.StatusBadRequest, "INVALID_REQUEST", "Unable to process JSON: "+err.Error())
		}
		if req.Action == "" {
			// HarnessApprovalActivityRequestDTO.action is @NotNull.
			return s.failureDTO([]string{"action"})
		}
		inputs := map[string]string{}
		for _, in := range req.ApproverInputs {
			inputs[in.Name] = in.Value
		}
		a, err := s.decideApproval(id, req.Action, req.Comments, inputs)
		if err != nil {
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rp := s.success(approvalResponse(a))
		rp.effect = true
		return rp
	}
	return notFoundRoute()
}

// routeApprovalsV1 serves GET and POST
// /v1/orgs/{org}/projects/{project}/approvals/execution/{execution-id}
// (pipeline-service/contracts/openapi/v1/openapi.yaml; ApprovalsApiImpl):
// the account comes from the Harness-Account header; GET lists the run's
// approval instances as a bare JSON array, optionally filtered by
// approval_status, approval_type and node_execution_id; POST approves or
// rejects the run's single waiting Harness approval.
func (s *Server) routeApprovalsV1(r *http.Request, org, project, execID string, body []byte) reply {
	account := r.Header.Get("Harness-Account")
	if account == "" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "harnessAccount param value is required")
	}
	if account != s.account {
		return s.errorDTO(http.StatusUnauthorized, "INVALID_TOKEN", "Invalid account token access")
	}
	q := r.URL.Query()
	s.mu.Lock()
	e := s.executions[execID]
	s.mu.Unlock()
	if e == nil || e.scope != (scope{account, org, project}) {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
			"execution_id param value provided doesn't belong to Account: %s, Org: %s, Project: %s or the pipeline has been deleted",
			account, org, project))
	}
	switch r.Method {
	case http.MethodGet:
		status, typ := q.Get("approval_status"), q.Get("approval_type")
		if status != "" && !contains([]string{"WAITING", "APPROVED", "REJECTED", "FAILED", "ABORTED", "EXPIRED"}, status) {
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
				"approval_status param value should be one of [WAITING, APPROVED, REJECTED, FAILED, ABORTED, EXPIRED]")
		}
		out := []any{}
		for _, rec := range s.ApprovalInstances(execID) {
			if status != "" && rec.Status != status || typ != "" && typ != "HarnessApproval" {
				continue
			}
			s.mu.Lock()
			a := s.approvals[rec.ID]
			out = append(out, approvalBody(a))
			s.mu.Unlock()
		}
		return s.jsonReply(http.StatusOK, out)
	case http.MethodPost:
		var req struct {
			Action         string `json:"action"`
			Comments       string `json:"comments"`
			ApproverInputs []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"approver_inputs"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return s.failure(http.StatusBadRequest, "INVALID_REQUEST", "Unable to process JSON: "+err.Error())
		}
		if req.Action != "APPROVE" && req.Action != "REJECT" {
			// ApprovalsAPIUtils.toHarnessApprovalAction.
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "action in request body should be one of [APPROVE, REJECT]")
		}
		var waiting []ApprovalRecord
		for _, rec := range s.ApprovalInstances(execID) {
			if rec.Status == ApprovalWaiting {
				waiting = append(waiting, rec)
			}
		}
		// ApprovalResourceServiceImpl.addHarnessApprovalActivityByPlanExecutionId.
		// Java formats an absent callback id as "null".
		callback := nonEmpty(q.Get("callback_id"), "null")
		switch {
		case len(waiting) == 0:
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
				"Found no Harness Approval Instance waiting for pipeline execution id: %s and callback id: %s", execID, callback))
		case len(waiting) > 1:
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
				"Found more than 1 Harness Approval Instance waiting for pipeline execution id: %s and callback id: %s", execID, callback))
		}
		inputs := map[string]string{}
		for _, in := range req.ApproverInputs {
			inputs[in.Name] = in.Value
		}
		a, err := s.decideApproval(waiting[0].ID, req.Action, req.Comments, inputs)
		if err != nil {
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", err.Error())
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		rp := s.jsonReply(http.StatusOK, approvalBody(a))
		rp.effect = true
		return rp
	}
	return notFoundRoute()
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
