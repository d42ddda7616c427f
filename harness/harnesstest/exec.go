package harnesstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Executions: a run resolves each stage the way Harness does at run time,
// in the order of its plan (ServiceStepV3, then the artifacts and manifests
// of the Service, then InfrastructureTaskExecutableStepV2, then the
// stage's steps). Each rule carries its source where it is enforced; see
// the package documentation for what is not modelled.

// The statuses of runs, stages and steps, as Harness's ExecutionStatus
// names them (harness-core 884-pms-commons
// io/harness/pms/execution/ExecutionStatus.java).
const (
	StatusRunning          = "Running"
	StatusSuccess          = "Success"
	StatusFailed           = "Failed"
	StatusApprovalWaiting  = "ApprovalWaiting"
	StatusApprovalRejected = "ApprovalRejected"
	StatusWaitStepRunning  = "WaitStepRunning"
	StatusAborted          = "Aborted"
	StatusNotStarted       = "NotStarted"
)

// terminal reports whether a run in status st is over.
func terminal(st string) bool {
	switch st {
	case StatusSuccess, StatusFailed, StatusApprovalRejected, StatusAborted, "Errored", "Expired", "IgnoreFailed":
		return true
	}
	return false
}

// ExecutionRecord is what the stand-in knows of one run.
type ExecutionRecord struct {
	ID                    string // the plan execution id
	Account, Org, Project string
	Pipeline              string
	RunSequence           int
	Status                string
	// FailureMessage is why the run failed: the failed stage's message.
	FailureMessage string
	// Trigger is the trigger whose webhook started the run; "" for a run
	// started through execute.
	Trigger string
	// Inputs are the runtime inputs the run started with: the execute
	// body, or the trigger's inputYaml.
	Inputs         []byte
	StartTs, EndTs int64 // Unix milliseconds; EndTs is 0 while the run goes on
	Stages         []StageRecord
	// StatusHistory lists the statuses the run has had, in order, each
	// once per stretch.
	StatusHistory []string
}

// StageRecord is one stage of a run.
type StageRecord struct {
	Identifier, Name, Type string
	Status, FailureMessage string
	// The entities the stage resolved (Deployment stages).
	Service, Environment, Infrastructure string
	// Namespace, ReleaseName and ClusterConnector are the infrastructure's,
	// after its inputs were merged.
	Namespace, ReleaseName, ClusterConnector string
	// Image is the primary artifact's image, <+artifacts.primary.image>.
	Image string
	// Fetched lists the files read from Git stores for the K8s step, in
	// the order they were read: manifests, then values files.
	Fetched []FetchedFile
	// Manifests are the manifests the K8s step applied, rendered, and
	// Images the container images in them.
	Manifests string
	Images    []string
	Steps     []StepRecord
}

// StepRecord is one step of a stage.
type StepRecord struct {
	Identifier, Name, Type string
	Status, FailureMessage string
	// ApprovalID is a HarnessApproval step's approval instance.
	ApprovalID string
}

// FetchedFile is one file a run read from a Git store.
type FetchedFile struct {
	Manifest     string // identifier of the manifest it belongs to
	ConnectorRef string
	Repo         string // owner/name
	Ref          string // the branch or commit id of the store
	Commit       string // the commit the ref pointed at, when known
	Path         string
}

// execution is a run's state. Fields change under s.mu.
type execution struct {
	id        string
	scope     scope
	pipeline  string
	name      string
	seq       int
	status    string
	failure   string
	trigger   *triggerContext
	inputs    []byte
	startTs   int64
	endTs     int64
	stages    []*stageRun
	changed   chan struct{} // closed and replaced on every change
	variables map[string]any
	tags      map[string]string
	history   []string

	// Scripted runs (Options.ExecutionSteps) only step through statuses.
	scripted bool
	step     int
}

type stageRun struct {
	uuid, nodeExecID       string
	id, name, typ          string
	status, failure        string
	startTs, endTs         int64
	doc                    map[string]any // the stage mapping after the merge
	service, serviceName   string
	deploymentType         string
	env, envName, envType  string
	infra, infraName       string
	namespace, releaseName string
	cluster                string
	image                  string
	artifact               map[string]any // the primary artifact outcome
	manifests              []manifestOutcome
	fetched                []FetchedFile
	rendered               string
	images                 []string
	serviceStep, infraStep *stepRun
	steps                  []*stepRun
}

type stepRun struct {
	uuid, id, name, typ string
	fqn                 string
	status, failure     string
	startTs, endTs      int64
	approvalID          string
	outcomes            map[string]any
	doc                 map[string]any
}

// manifestOutcome is a manifest of the Service after the merge.
type manifestOutcome struct {
	id, typ string
	spec    map[string]any
}

// changeRun runs fn under the lock and wakes those waiting on the run.
func (s *Server) changeRun(e *execution, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
	if n := len(e.history); n == 0 || e.history[n-1] != e.status {
		e.history = append(e.history, e.status)
	}
	close(e.changed)
	e.changed = make(chan struct{})
}

// record copies a run's state. The caller holds s.mu.
func (e *execution) record() ExecutionRecord {
	r := ExecutionRecord{ID: e.id, Account: e.scope.account, Org: e.scope.org, Project: e.scope.project,
		Pipeline: e.pipeline, RunSequence: e.seq, Status: e.status, FailureMessage: e.failure,
		Inputs: bytes.Clone(e.inputs), StartTs: e.startTs, EndTs: e.endTs, StatusHistory: slices.Clone(e.history)}
	if e.trigger != nil {
		r.Trigger = e.trigger.identifier
	}
	for _, st := range e.stages {
		sr := StageRecord{Identifier: st.id, Name: st.name, Type: st.typ, Status: st.status, FailureMessage: st.failure,
			Service: st.service, Environment: st.env, Infrastructure: st.infra, Namespace: st.namespace,
			ReleaseName: st.releaseName, ClusterConnector: st.cluster, Image: st.image,
			Fetched: slices.Clone(st.fetched), Manifests: st.rendered, Images: slices.Clone(st.images)}
		for _, sp := range st.steps {
			sr.Steps = append(sr.Steps, StepRecord{Identifier: sp.id, Name: sp.name, Type: sp.typ, Status: sp.status,
				FailureMessage: sp.failure, ApprovalID: sp.approvalID})
		}
		r.Stages = append(r.Stages, sr)
	}
	return r
}

// Execution returns the record of the run id; false when there is none.
func (s *Server) Execution(id string) (ExecutionRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.executions[id]
	if e == nil {
		return ExecutionRecord{}, false
	}
	return e.record(), true
}

// Executions returns the record of every run, in the order they started.
func (s *Server) Executions() []ExecutionRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ExecutionRecord, 0, len(s.execOrder))
	for _, id := range s.execOrder {
		out = append(out, s.executions[id].record())
	}
	return out
}

// AwaitExecution waits until the run id reaches one of statuses (any
// status that ends a run when none is given) and returns its record. It
// returns the last record and ctx's error when ctx ends first.
func (s *Server) AwaitExecution(ctx context.Context, id string, statuses ...string) (ExecutionRecord, error) {
	for {
		s.mu.Lock()
		e := s.executions[id]
		if e == nil {
			s.mu.Unlock()
			return ExecutionRecord{}, fmt.Errorf("harnesstest: no execution %q", id)
		}
		rec, ch := e.record(), e.changed
		s.mu.Unlock()
		if (len(statuses) == 0 && terminal(rec.Status)) || slices.Contains(statuses, rec.Status) {
			return rec, nil
		}
		if e.scripted {
			return rec, fmt.Errorf("harnesstest: execution %q is scripted (Options.ExecutionSteps)", id)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-s.closing:
			return rec, errors.New("harnesstest: server closed")
		}
	}
}

// startExecution starts a run of pipeline with the runtime inputs, or
// with a trigger's, and returns it. The caller holds s.mu and has checked
// that the pipeline exists.
func (s *Server) startExecution(sc scope, p *entity, inputs []byte, trig *triggerContext) *execution {
	uuid := s.newExecutionID()
	key := sc.account + "/" + sc.org + "/" + sc.project + "/" + p.id
	s.runSeq[key]++
	e := &execution{id: uuid, scope: sc, pipeline: p.id, name: p.name, seq: s.runSeq[key], status: StatusRunning,
		trigger: trig, inputs: bytes.Clone(inputs), startTs: s.now().UnixMilli(), changed: make(chan struct{}),
		tags: p.tags, history: []string{StatusRunning}}
	s.executions[uuid] = e
	s.execOrder = append(s.execOrder, uuid)
	ef := Effect{Kind: "execute", Entity: KindPipeline, Account: sc.account, Org: sc.org, Project: sc.project,
		ID: p.id, YAML: bytes.Clone(inputs), ExecutionID: uuid}
	if trig != nil {
		ef.Trigger = trig.identifier
	}
	s.effects = append(s.effects, ef)
	if s.steps != nil {
		e.scripted = true
		return e
	}

	// The pipeline as it runs: the runtime inputs merged into its
	// <+input> fields.
	var doc, in any
	_ = yaml.Unmarshal(p.yaml, &doc)
	if len(bytes.TrimSpace(inputs)) > 0 {
		_ = yaml.Unmarshal(inputs, &in)
		if in != nil {
			doc = mergeRuntimeInputs(doc, in)
		}
	}
	root, _ := doc.(map[string]any)
	pl := mapAt(root, "pipeline")
	e.variables = map[string]any{}
	if vars, ok := pl["variables"].([]any); ok {
		for _, v := range vars {
			m, _ := v.(map[string]any)
			if n := str(m, "name"); n != "" {
				e.variables[n] = m["value"]
			}
		}
	}
	for _, st := range stagesOf(doc) {
		e.stages = append(e.stages, &stageRun{uuid: s.newExecutionID(), nodeExecID: s.newExecutionID(),
			id: str(st, "identifier"), name: str(st, "name"), typ: str(st, "type"), status: StatusNotStarted, doc: st})
	}
	if s.stopped {
		e.status, e.failure, e.endTs = StatusAborted, "the stand-in was closed", e.startTs
		return e
	}
	s.wg.Add(1)
	go s.run(e)
	return e
}

// run runs the stages in order. Failure strategies are not modelled: the
// first stage that does not succeed ends the run with its status, and the
// later stages stay NotStarted.
func (s *Server) run(e *execution) {
	defer s.wg.Done()
	ctx := s.ctx
	for _, st := range e.stages {
		ev := &evalCtx{pipelineID: e.pipeline, pipelineName: e.name, executionID: e.id, sequenceID: e.seq,
			variables: e.variables, trigger: e.trigger, stageID: st.id, stageName: st.name}
		s.changeRun(e, func() {
			st.status, st.startTs = StatusRunning, s.now().UnixMilli()
			e.status = StatusRunning
		})
		status, msg := s.runStage(ctx, e, st, ev)
		if ctx.Err() != nil {
			status, msg = StatusAborted, "the stand-in was closed"
		}
		s.changeRun(e, func() {
			st.status, st.failure, st.endTs = status, msg, s.now().UnixMilli()
			if status != StatusSuccess {
				e.status, e.failure, e.endTs = status, msg, st.endTs
			}
		})
		if status != StatusSuccess {
			return
		}
	}
	s.changeRun(e, func() { e.status, e.endTs = StatusSuccess, s.now().UnixMilli() })
}

// runStage runs one stage and returns its final status and failure
// message. Stages other than Deployment run their steps only.
func (s *Server) runStage(ctx context.Context, e *execution, st *stageRun, ev *evalCtx) (string, string) {
	if st.typ == "Deployment" {
		if msg := s.resolveDeployment(ctx, e, st, ev); msg != "" {
			return StatusFailed, msg
		}
	}
	return s.runSteps(ctx, e, st, ev)
}

// newStep adds a step node to a stage. The caller holds no lock.
func (s *Server) newStep(e *execution, st *stageRun, id, name, typ, fqn string, doc map[string]any) *stepRun {
	sp := &stepRun{id: id, name: name, typ: typ, fqn: fqn, doc: doc, status: StatusNotStarted}
	s.changeRun(e, func() { sp.uuid = s.newExecutionID() })
	return sp
}

// stepStatus sets a step's status and rolls it up to the stage and the
// run, as StatusUtils.calculateStatus ranks them: a waiting step makes its
// stage and the run ApprovalWaiting or WaitStepRunning.
func (s *Server) stepStatus(e *execution, st *stageRun, sp *stepRun, status, msg string) {
	s.changeRun(e, func() {
		now := s.now().UnixMilli()
		if sp.startTs == 0 {
			sp.startTs = now
		}
		sp.status, sp.failure = status, msg
		if terminal(status) {
			sp.endTs = now
		}
		switch status {
		case StatusApprovalWaiting, StatusWaitStepRunning:
			st.status, e.status = status, status
		case StatusRunning, StatusSuccess:
			st.status, e.status = StatusRunning, StatusRunning
		}
	})
}

// lookupRef finds an entity by a reference as IdentifierRefHelper reads
// it: "account.<id>" and "org.<id>" name entities of the account and the
// org, a bare id one of the project. The caller holds s.mu.
func (s *Server) lookupRef(sc scope, k Kind, parent, ref string) (*entity, scope) {
	switch {
	case strings.HasPrefix(ref, "account."):
		sc = scope{sc.account, "", ""}
		ref = strings.TrimPrefix(ref, "account.")
	case strings.HasPrefix(ref, "org."):
		sc = scope{sc.account, sc.org, ""}
		ref = strings.TrimPrefix(ref, "org.")
	}
	return s.lookup(sc, k, parent, ref), sc
}

// connectorInfo returns a connector's ConnectorInfoDTO and scope, or nil.
func (s *Server) connectorInfo(sc scope, ref string) (map[string]any, scope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, cs := s.lookupRef(sc, KindConnector, "", ref)
	if c == nil {
		return nil, cs
	}
	return deepCopy(c.connector).(map[string]any), cs
}

// entityDoc returns the decoded YAML of the entity ref names, or nil.
func (s *Server) entityDoc(sc scope, k Kind, parent, ref string) (map[string]any, *entity) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ent, _ := s.lookupRef(sc, k, parent, ref)
	if ent == nil {
		return nil, nil
	}
	var doc map[string]any
	_ = yaml.Unmarshal(ent.yaml, &doc)
	cp := *ent
	return doc, &cp
}

// sleep waits d compressed by Options.TimeScale, or until ctx ends.
func (s *Server) sleep(ctx context.Context, d time.Duration) error {
	d = time.Duration(float64(d) / s.timeScale)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// executeRun answers POST /pipeline/api/pipeline/execute/{id}.
func (s *Server) executeRun(r *http.Request, sc scope, id string, body []byte) reply {
	if r.URL.Query().Get("moduleType") == "" {
		// PlanExecutionResource's execute reads the module from moduleType;
		// without it Harness is reported to answer 400 (the Dec-2023
		// signature declares it optional, so this rule follows reported
		// behaviour, not read code).
		return s.failureDTO([]string{"moduleType"})
	}
	if rp := s.requireYAML(r); rp != nil {
		return *rp
	}
	if len(bytes.TrimSpace(body)) > 0 {
		var raw any
		if err := yaml.Unmarshal(body, &raw); err != nil {
			return s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR", "Invalid yaml: "+err.Error())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(sc, KindPipeline, "", id)
	if p == nil {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
	}
	e := s.startExecution(sc, p, body, nil)
	rp := s.success(map[string]any{
		"planExecution": map[string]any{
			"uuid": e.id, "planId": e.id + "_plan", "status": "RUNNING", "startTs": e.startTs, "createdAt": e.startTs,
			"metadata": map[string]any{"executionUuid": e.id, "runSequence": e.seq},
		},
		"gitDetails": map[string]any{},
	})
	rp.effect = true
	return rp
}
