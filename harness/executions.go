package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// runAPI is the pipeline service's endpoints for runs: starting one
// (Execute), following it (ExecutionStatus, GetExecution), the approvals
// it waits on (approvals.go) and the custom webhooks that start runs
// (webhooks.go).
type runAPI struct {
	endpoint
}

// Execution is a pipeline run as Harness's execution details report it
// (GET /pipeline/api/pipelines/execution/v2/{planExecutionId},
// PipelineExecutionDetailDTO).
type Execution struct {
	ID                 string // planExecutionId
	PipelineIdentifier string
	RunSequence        int
	// Status is one of Harness's ExecutionStatus names: Running,
	// ApprovalWaiting, WaitStepRunning, Success, Failed, ApprovalRejected,
	// Aborted, Expired, ...
	Status string
	// FailureMessage is failureInfo.message: why the run failed.
	FailureMessage string
	// TriggerType is executionTriggerInfo.triggerType: MANUAL,
	// WEBHOOK_CUSTOM, ...
	TriggerType string
	// Stages in the order they run (layoutNodeMap from startingNodeId
	// through nextIds).
	Stages []StageExecution
}

// StageExecution is one stage of a run.
type StageExecution struct {
	Identifier, Name, Type string
	Status, FailureMessage string
	// Service, Environment and Infrastructure are the entities a
	// Deployment stage resolved (moduleInfo.cd: serviceInfo and
	// infraExecutionSummary).
	Service, Environment, Infrastructure string
	// Image is the primary artifact's image (<+artifacts.primary.image>),
	// from the artifacts outcome.
	Image string
	// Namespace and ReleaseName are the infrastructure outcome's.
	Namespace, ReleaseName string
	// Manifests are the Service's manifests after the stage's inputs were
	// merged (the manifests outcome), in their order.
	Manifests []ManifestSource
	// Steps in order: the service and infrastructure steps of a
	// Deployment stage, then the stage's own.
	Steps []StepExecution
}

// ManifestSource is where a manifest's files come from.
type ManifestSource struct {
	Identifier, Type string
	// Store is the store's kind (Github, Git, ...), ConnectorRef its
	// connector, RepoName the repository for an account-level connector.
	Store, ConnectorRef, RepoName string
	// Branch or CommitID, as GitFetchType says.
	GitFetchType, Branch, CommitID string
	Paths, ValuesPaths             []string
}

// StepExecution is one step of a stage.
type StepExecution struct {
	Identifier, Name, Type string
	Status, FailureMessage string
	// ApprovalInstanceID is the approval instance of a HarnessApproval step
	// (the node's async callback id).
	ApprovalInstanceID string
	// Outcomes are the step's outcomes by name, as Harness sends them.
	Outcomes map[string]json.RawMessage
}

// detailsResponse is the part of PipelineExecutionDetailDTO the client
// reads.
type detailsResponse struct {
	Summary struct {
		PipelineIdentifier string `json:"pipelineIdentifier"`
		PlanExecutionID    string `json:"planExecutionId"`
		RunSequence        int    `json:"runSequence"`
		Status             string `json:"status"`
		FailureInfo        *struct {
			Message string `json:"message"`
		} `json:"failureInfo"`
		ExecutionErrorInfo *struct {
			Message string `json:"message"`
		} `json:"executionErrorInfo"`
		TriggerInfo struct {
			TriggerType string `json:"triggerType"`
		} `json:"executionTriggerInfo"`
		StartingNodeID string                `json:"startingNodeId"`
		Layout         map[string]layoutNode `json:"layoutNodeMap"`
	} `json:"pipelineExecutionSummary"`
	Graph *struct {
		NodeMap map[string]graphNode `json:"nodeMap"`
		Adj     map[string]struct {
			Children []string `json:"children"`
			NextIDs  []string `json:"nextIds"`
		} `json:"nodeAdjacencyListMap"`
	} `json:"executionGraph"`
}

type layoutNode struct {
	NodeType       string `json:"nodeType"`
	NodeIdentifier string `json:"nodeIdentifier"`
	Name           string `json:"name"`
	Status         string `json:"status"`
	FailureInfo    *struct {
		Message string `json:"message"`
	} `json:"failureInfo"`
	ModuleInfo struct {
		CD struct {
			ServiceInfo *struct {
				Identifier string `json:"identifier"`
			} `json:"serviceInfo"`
			InfraSummary *struct {
				Identifier               string `json:"identifier"`
				InfrastructureIdentifier string `json:"infrastructureIdentifier"`
			} `json:"infraExecutionSummary"`
		} `json:"cd"`
	} `json:"moduleInfo"`
	Edges struct {
		NextIDs []string `json:"nextIds"`
	} `json:"edgeLayoutList"`
}

type graphNode struct {
	Identifier  string `json:"identifier"`
	Name        string `json:"name"`
	BaseFqn     string `json:"baseFqn"`
	StepType    string `json:"stepType"`
	Status      string `json:"status"`
	FailureInfo *struct {
		Message string `json:"message"`
	} `json:"failureInfo"`
	Outcomes            map[string]json.RawMessage `json:"outcomes"`
	ExecutableResponses []struct {
		Async *struct {
			CallbackIDs []string `json:"callbackIds"`
		} `json:"async"`
	} `json:"executableResponses"`
}

func checkExecutionID(id string) error {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("harness: execution id %q is not valid: %w", id, ErrInvalidRequest)
	}
	return nil
}

// GetExecution reads the run executionID with its stages and steps
// (renderFullBottomGraph=true). An unknown run is ErrNotFound.
func (c *Client) GetExecution(ctx context.Context, executionID string) (*Execution, error) {
	return c.runs.getExecution(ctx, executionID)
}

// getExecution is Client.GetExecution.
func (r *runAPI) getExecution(ctx context.Context, executionID string) (*Execution, error) {
	if err := checkExecutionID(executionID); err != nil {
		return nil, err
	}
	var data detailsResponse
	err := r.do(ctx, call{
		op: "execution_status", method: http.MethodGet, path: pathExecutionStatus + url.PathEscape(executionID),
		query: url.Values{"renderFullBottomGraph": {"true"}},
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &data); err != nil || data.Summary.Status == "" {
				return unexpected("execution answer has no data.pipelineExecutionSummary.status")
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading execution %q: %w", executionID, err)
	}
	return data.execution(), nil
}

// Execute starts the pipeline id with runtimeInputYAML (may be empty when
// the pipeline has no <+input> fields) and returns the plan execution id.
// It sends moduleType=cd: PlanExecutionResource's execute takes the module
// as a query parameter, and Harness is reported to answer 400 without it
// (the Dec-2023 server signature declares it optional, so that 400 is
// reported behaviour, not read in code; sending it is right either way).
//
// Harness has no idempotency key for runs, so Execute is repeated only when
// the request provably did not reach Harness or was throttled. A failure
// after the request may have arrived wraps ErrOutcomeUnknown, which
// IsRetryable reports as not retryable: check the pipeline's executions
// before running it again.
func (c *Client) Execute(ctx context.Context, id string, runtimeInputYAML []byte) (string, error) {
	return c.runs.execute(ctx, id, runtimeInputYAML)
}

// execute is Client.Execute.
func (r *runAPI) execute(ctx context.Context, id string, runtimeInputYAML []byte) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	var data struct {
		PlanExecution struct {
			UUID string `json:"uuid"`
		} `json:"planExecution"`
	}
	if runtimeInputYAML == nil {
		runtimeInputYAML = []byte{}
	}
	err := r.do(ctx, call{
		op: "execute", method: http.MethodPost, path: pathExecute + url.PathEscape(id),
		query: url.Values{"moduleType": {"cd"}},
		body:  runtimeInputYAML, contentType: "application/yaml", mode: retryUnsent,
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &data); err != nil || data.PlanExecution.UUID == "" {
				return unexpected("execute answer has no data.planExecution.uuid")
			}
			return nil
		},
	})
	if err != nil {
		if ambiguous(err) {
			return "", fmt.Errorf("executing pipeline %q: %w: %w", id, ErrOutcomeUnknown, err)
		}
		return "", fmt.Errorf("executing pipeline %q: %w", id, err)
	}
	return data.PlanExecution.UUID, nil
}

// ExecutionStatus returns the status of a plan execution, one of Harness's
// ExecutionStatus names ("Running", "ApprovalWaiting", "Success", "Failed",
// "Aborted", ...). An unknown execution is ErrNotFound.
//
// It reads the run's summary only; GetExecution reads its stages and steps.
func (c *Client) ExecutionStatus(ctx context.Context, executionID string) (string, error) {
	return c.runs.executionStatus(ctx, executionID)
}

// executionStatus is Client.ExecutionStatus.
func (r *runAPI) executionStatus(ctx context.Context, executionID string) (string, error) {
	if err := checkExecutionID(executionID); err != nil {
		return "", err
	}
	var data struct {
		Summary struct {
			Status string `json:"status"`
		} `json:"pipelineExecutionSummary"`
	}
	err := r.do(ctx, call{
		op: "execution_status", method: http.MethodGet, path: pathExecutionStatus + url.PathEscape(executionID),
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &data); err != nil || data.Summary.Status == "" {
				return unexpected("execution answer has no data.pipelineExecutionSummary.status")
			}
			return nil
		},
	})
	if err != nil {
		return "", fmt.Errorf("reading execution %q: %w", executionID, err)
	}
	return data.Summary.Status, nil
}

// execution turns the answer into an Execution.
func (d *detailsResponse) execution() *Execution {
	s := d.Summary
	e := &Execution{ID: s.PlanExecutionID, PipelineIdentifier: s.PipelineIdentifier, RunSequence: s.RunSequence,
		Status: s.Status, TriggerType: s.TriggerInfo.TriggerType}
	switch {
	case s.FailureInfo != nil && s.FailureInfo.Message != "":
		e.FailureMessage = s.FailureInfo.Message
	case s.ExecutionErrorInfo != nil:
		e.FailureMessage = s.ExecutionErrorInfo.Message
	}
	seen := map[string]bool{}
	for id := s.StartingNodeID; id != "" && !seen[id]; {
		seen[id] = true
		n, ok := s.Layout[id]
		if !ok {
			break
		}
		st := StageExecution{Identifier: n.NodeIdentifier, Name: n.Name, Type: n.NodeType, Status: n.Status}
		if n.FailureInfo != nil {
			st.FailureMessage = n.FailureInfo.Message
		}
		if si := n.ModuleInfo.CD.ServiceInfo; si != nil {
			st.Service = si.Identifier
		}
		if is := n.ModuleInfo.CD.InfraSummary; is != nil {
			st.Environment, st.Infrastructure = is.Identifier, is.InfrastructureIdentifier
		}
		d.stageSteps(&st)
		e.Stages = append(e.Stages, st)
		id = ""
		if len(n.Edges.NextIDs) > 0 {
			id = n.Edges.NextIDs[0]
		}
	}
	return e
}

// stageSteps fills a stage's steps and outcomes from the execution graph:
// the stage's node (baseFqn pipeline.stages.<id>), its first child, and
// each node's next.
func (d *detailsResponse) stageSteps(st *StageExecution) {
	if d.Graph == nil {
		return
	}
	stageUUID := ""
	for uuid, n := range d.Graph.NodeMap {
		if n.BaseFqn == "pipeline.stages."+st.Identifier {
			stageUUID = uuid
		}
	}
	if stageUUID == "" {
		return
	}
	next := ""
	if ch := d.Graph.Adj[stageUUID].Children; len(ch) > 0 {
		next = ch[0]
	}
	seen := map[string]bool{}
	for next != "" && !seen[next] {
		seen[next] = true
		n, ok := d.Graph.NodeMap[next]
		if !ok {
			break
		}
		sp := StepExecution{Identifier: n.Identifier, Name: n.Name, Type: n.StepType, Status: n.Status, Outcomes: n.Outcomes}
		if n.FailureInfo != nil {
			sp.FailureMessage = n.FailureInfo.Message
		}
		for _, r := range n.ExecutableResponses {
			if r.Async != nil && len(r.Async.CallbackIDs) > 0 && n.StepType == "HarnessApproval" {
				sp.ApprovalInstanceID = r.Async.CallbackIDs[0]
			}
		}
		st.readOutcomes(n.Outcomes)
		st.Steps = append(st.Steps, sp)
		cur := next
		next = ""
		if ids := d.Graph.Adj[cur].NextIDs; len(ids) > 0 {
			next = ids[0]
		}
	}
}

// readOutcomes takes what a stage reports from its steps' outcomes: the
// artifacts outcome's primary image, the manifests outcome, and the
// infrastructure outcome's namespace and release name.
func (st *StageExecution) readOutcomes(o map[string]json.RawMessage) {
	if raw, ok := o["artifacts"]; ok {
		var a struct {
			Primary *struct {
				Image string `json:"image"`
			} `json:"primary"`
		}
		if json.Unmarshal(raw, &a) == nil && a.Primary != nil {
			st.Image = a.Primary.Image
		}
	}
	if raw, ok := o["manifests"]; ok {
		var ms map[string]struct {
			Identifier  string          `json:"identifier"`
			Type        string          `json:"type"`
			Order       int             `json:"order"`
			ValuesPaths json.RawMessage `json:"valuesPaths"`
			Store       struct {
				Kind         string          `json:"kind"`
				ConnectorRef string          `json:"connectorRef"`
				RepoName     string          `json:"repoName"`
				GitFetchType string          `json:"gitFetchType"`
				Branch       string          `json:"branch"`
				CommitID     string          `json:"commitId"`
				Paths        json.RawMessage `json:"paths"`
			} `json:"store"`
		}
		if json.Unmarshal(raw, &ms) == nil {
			list := make([]ManifestSource, len(ms))
			ok := true
			for _, m := range ms {
				if m.Order < 0 || m.Order >= len(list) {
					ok = false
					break
				}
				list[m.Order] = ManifestSource{Identifier: m.Identifier, Type: m.Type, Store: m.Store.Kind,
					ConnectorRef: m.Store.ConnectorRef, RepoName: m.Store.RepoName, GitFetchType: m.Store.GitFetchType,
					Branch: m.Store.Branch, CommitID: m.Store.CommitID, Paths: stringList(m.Store.Paths),
					ValuesPaths: stringList(m.ValuesPaths)}
			}
			if ok {
				st.Manifests = list
			}
		}
	}
	if raw, ok := o["output"]; ok {
		var out struct {
			Namespace   string `json:"namespace"`
			ReleaseName string `json:"releaseName"`
			Infra       string `json:"infraIdentifier"`
		}
		if json.Unmarshal(raw, &out) == nil && out.Infra != "" {
			st.Namespace, st.ReleaseName = out.Namespace, out.ReleaseName
		}
	}
}

// stringList reads a JSON list of strings; anything else (a runtime input
// left as "<+input>", say) is none.
func stringList(raw json.RawMessage) []string {
	var out []string
	if json.Unmarshal(raw, &out) != nil {
		return nil
	}
	return out
}
