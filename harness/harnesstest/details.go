package harnesstest

import (
	"net/http"
	"net/url"
	"sort"
)

// executionDetails answers GET /pipeline/api/pipelines/execution/v2/{id}
// (ExecutionDetailsResource, @Path("pipelines/execution")): data is a
// PipelineExecutionDetailDTO. pipelineExecutionSummary carries the run's
// status, failureInfo and the stage layout (layoutNodeMap, followed from
// startingNodeId through edgeLayoutList.nextIds), each stage with its
// status, failure and, for Deployment stages, moduleInfo.cd
// (serviceInfo, infraExecutionSummary). executionGraph, the steps with
// their outcomes, is filled only when stageNodeId is given (that stage's
// steps) or renderFullBottomGraph=true (every stage's). An unknown id is
// PMSExecutionServiceImpl's EntityNotFoundException, 404 ENTITY_NOT_FOUND.
func (s *Server) executionDetails(q url.Values, sc scope, uuid string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.executions[uuid]
	if e == nil || e.scope != sc {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND",
			"Plan Execution Summary does not exist or has been deleted for planExecutionId: "+uuid)
	}
	if e.scripted {
		return s.scriptedStatus(e)
	}
	summary := map[string]any{
		"pipelineIdentifier": e.pipeline, "orgIdentifier": sc.org, "projectIdentifier": sc.project,
		"planExecutionId": e.id, "name": e.name, "status": e.status, "runSequence": e.seq,
		"tags": tagList(e.tags), "executionTriggerInfo": triggerInfo(e), "modules": []any{"cd", "pms"},
		"startTs": e.startTs, "createdAt": e.startTs, "executionMode": "NORMAL", "storeType": "INLINE",
		"layoutNodeMap": map[string]any{}, "startingNodeId": nil,
		"moduleInfo": map[string]any{"cd": pipelineModuleInfo(e)},
	}
	if e.endTs > 0 {
		summary["endTs"] = e.endTs
	}
	if e.failure != "" {
		summary["failureInfo"] = failureInfo(e.failure)
		summary["executionErrorInfo"] = map[string]any{"message": e.failure}
	}
	layout := summary["layoutNodeMap"].(map[string]any)
	var executed []any
	for i, st := range e.stages {
		next := []any{}
		if i+1 < len(e.stages) {
			next = append(next, e.stages[i+1].uuid)
		}
		node := map[string]any{
			"nodeType": st.typ, "nodeGroup": "STAGE", "nodeIdentifier": st.id, "name": st.name, "nodeUuid": st.uuid,
			"status": st.status, "module": "pms", "moduleInfo": map[string]any{},
			"edgeLayoutList":      map[string]any{"currentNodeChildren": []any{}, "nextIds": next},
			"nodeExecutionId":     st.nodeExecID,
			"isRollbackStageNode": false, "skipInfo": nil, "nodeRunInfo": nil,
		}
		if st.startTs > 0 {
			node["startTs"] = st.startTs
			executed = append(executed, st.id)
		}
		if st.endTs > 0 {
			node["endTs"] = st.endTs
		}
		if st.failure != "" {
			node["failureInfo"] = map[string]any{"message": st.failure}
			node["failureInfoDTO"] = failureInfo(st.failure)
		}
		if st.typ == "Deployment" {
			node["module"] = "cd"
			node["moduleInfo"] = map[string]any{"cd": stageModuleInfo(st)}
		}
		layout[st.uuid] = node
	}
	if len(e.stages) > 0 {
		summary["startingNodeId"] = e.stages[0].uuid
	}
	summary["stagesExecuted"] = executed
	data := map[string]any{"pipelineExecutionSummary": summary, "executionGraph": nil, "childGraph": nil,
		"rollbackGraph": nil}
	stageNode := q.Get("stageNodeId")
	if q.Get("renderFullBottomGraph") == "true" || stageNode != "" {
		data["executionGraph"] = executionGraph(e, stageNode)
	}
	return s.success(data)
}

// scriptedStatus is the answer for a run of Options.ExecutionSteps: the
// next scripted status, nothing else. The caller holds s.mu.
func (s *Server) scriptedStatus(e *execution) reply {
	status := s.steps[min(e.step, len(s.steps)-1)]
	if e.step < len(s.steps)-1 {
		e.step++
	}
	e.status = status
	summary := map[string]any{
		"pipelineIdentifier": e.pipeline, "planExecutionId": e.id, "runSequence": e.seq,
		"status": status, "startTs": e.startTs,
	}
	if e.step == len(s.steps)-1 && status == s.steps[len(s.steps)-1] {
		summary["endTs"] = s.now().UnixMilli()
	}
	return s.success(map[string]any{"pipelineExecutionSummary": summary})
}

// failureInfo is FailureInfoDTO.
func failureInfo(msg string) map[string]any {
	return map[string]any{"message": msg, "failureTypeList": []any{}, "responseMessages": []any{
		map[string]any{"code": "GENERAL_ERROR", "level": "ERROR", "message": msg, "failureTypes": []any{}},
	}}
}

func tagList(tags map[string]string) []any {
	out := []any{}
	for _, k := range sortedStrings(tags) {
		out = append(out, map[string]any{"key": k, "value": tags[k]})
	}
	return out
}

func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// triggerInfo is ExecutionTriggerInfo: MANUAL for execute, WEBHOOK_CUSTOM
// for a custom webhook trigger.
func triggerInfo(e *execution) map[string]any {
	if e.trigger != nil {
		return map[string]any{"triggerType": "WEBHOOK_CUSTOM", "isRerun": false,
			"triggeredBy": map[string]any{"identifier": e.trigger.identifier, "extraInfo": map[string]any{}}}
	}
	return map[string]any{"triggerType": "MANUAL", "isRerun": false,
		"triggeredBy": map[string]any{"identifier": approverUser["name"], "extraInfo": map[string]any{"email": approverUser["email"]}}}
}

// pipelineModuleInfo is the cd module's summary of the run: the
// entities its stages used.
func pipelineModuleInfo(e *execution) map[string]any {
	var services, envs, infras []any
	for _, st := range e.stages {
		if st.service != "" {
			services = append(services, st.service)
		}
		if st.env != "" {
			envs = append(envs, st.env)
		}
		if st.infra != "" {
			infras = append(infras, st.infra)
		}
	}
	return map[string]any{"serviceIdentifiers": nonNil(services), "envIdentifiers": nonNil(envs),
		"infrastructureIdentifiers": nonNil(infras)}
}

// stageModuleInfo is CDStageModuleInfo: serviceInfo (with the primary
// artifact's summary) and infraExecutionSummary.
func stageModuleInfo(st *stageRun) map[string]any {
	out := map[string]any{}
	if st.service != "" {
		artifacts := map[string]any{"sidecars": []any{}}
		if st.artifact != nil {
			primary := map[string]any{"imagePath": st.artifact["imagePath"], "tag": st.artifact["tag"],
				"type": st.artifact["type"]}
			if h, ok := st.artifact["registryHostname"]; ok {
				primary["registryHostname"] = h
			}
			artifacts["primary"] = primary
			artifacts["artifactDisplayName"] = st.artifact["imagePath"].(string) + ":" + st.artifact["tag"].(string)
		}
		out["serviceInfo"] = map[string]any{"identifier": st.service, "displayName": st.serviceName,
			"deploymentType": st.deploymentType, "gitOpsEnabled": false, "artifacts": artifacts}
	}
	if st.env != "" {
		out["infraExecutionSummary"] = map[string]any{"identifier": st.env, "name": st.envName, "type": st.envType,
			"infrastructureIdentifier": nilIfEmpty(st.infra), "infrastructureName": nilIfEmpty(st.infraName)}
	}
	return out
}

// executionGraph is ExecutionGraph: every node by uuid, and how they
// follow each other. A stage node's children start with its first step;
// each node's nextIds name the node after it. Only stage (the node's
// uuid) is rendered when it is not "".
func executionGraph(e *execution, stage string) map[string]any {
	nodes := map[string]any{}
	adj := map[string]any{}
	root := ""
	var prevStage string
	for _, st := range e.stages {
		if stage != "" && st.uuid != stage {
			continue
		}
		var steps []*stepRun
		for _, sp := range []*stepRun{st.serviceStep, st.infraStep} {
			if sp != nil {
				steps = append(steps, sp)
			}
		}
		steps = append(steps, st.steps...)
		nodes[st.uuid] = map[string]any{
			"uuid": st.uuid, "setupId": st.uuid, "name": st.name, "identifier": st.id, "baseFqn": "pipeline.stages." + st.id,
			"stepType": st.typ, "status": st.status, "startTs": st.startTs, "endTs": st.endTs, "outcomes": map[string]any{},
			"failureInfo": failureInfoOrNil(st.failure),
		}
		children := []any{}
		if len(steps) > 0 {
			children = append(children, steps[0].uuid)
		}
		adj[st.uuid] = map[string]any{"children": children, "nextIds": []any{}}
		if prevStage != "" {
			adj[prevStage].(map[string]any)["nextIds"] = []any{st.uuid}
		} else {
			root = st.uuid
		}
		prevStage = st.uuid
		for i, sp := range steps {
			n := map[string]any{
				"uuid": sp.uuid, "setupId": sp.uuid, "name": sp.name, "identifier": sp.id, "baseFqn": sp.fqn,
				"stepType": sp.typ, "status": sp.status, "startTs": sp.startTs, "endTs": sp.endTs,
				"outcomes": nonNilMap(sp.outcomes), "failureInfo": failureInfoOrNil(sp.failure),
				"stepParameters": map[string]any{}, "unitProgresses": []any{},
			}
			if sp.approvalID != "" {
				// The UI finds a waiting approval's instance through the
				// node's async callback.
				n["executableResponses"] = []any{map[string]any{"async": map[string]any{"callbackIds": []any{sp.approvalID}}}}
			}
			nodes[sp.uuid] = n
			next := []any{}
			if i+1 < len(steps) {
				next = append(next, steps[i+1].uuid)
			}
			adj[sp.uuid] = map[string]any{"children": []any{}, "nextIds": next}
		}
	}
	return map[string]any{"rootNodeId": root, "nodeMap": nodes, "nodeAdjacencyListMap": adj,
		"executionMetadata": nil, "representationStrategy": "camelCase"}
}

func failureInfoOrNil(msg string) any {
	if msg == "" {
		return nil
	}
	return failureInfo(msg)
}

func nonNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
