package harnesstest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Triggers: NGTriggerResource (@Path("triggers"), harness-core
// pipeline-service/modules/ng-triggers), implemented by
// NGTriggerResourceImpl and NGTriggerServiceImpl. Every call takes
// accountIdentifier, orgIdentifier, projectIdentifier and
// targetIdentifier, all @NotNull. Create and update take the trigger YAML
// as a String body, under either content type the resource consumes.
// A trigger is found by its pipeline and its identifier; the pipeline
// stored is the YAML's pipelineIdentifier (NGTriggerElementMapper
// .toTriggerEntity), the query's targetIdentifier serving access checks and
// look-ups.

// routeTriggers dispatches /pipeline/api/triggers[/<id>]; sc has org and
// project.
func (s *Server) routeTriggers(r *http.Request, sc scope, id string, body []byte) reply {
	target := r.URL.Query().Get("targetIdentifier")
	if target == "" {
		return s.failureDTO([]string{"targetIdentifier"})
	}
	switch {
	case id == "" && r.Method == http.MethodPost:
		return s.saveTrigger(r, sc, target, "", body)
	case id == "" && r.Method == http.MethodGet:
		return s.listTriggers(r, sc, target)
	case id != "" && r.Method == http.MethodGet:
		return s.getTrigger(r, sc, target, id)
	case id != "" && r.Method == http.MethodPut:
		return s.saveTrigger(r, sc, target, id, body)
	case id != "" && r.Method == http.MethodDelete:
		return s.deleteTrigger(sc, target, id)
	}
	return notFoundRoute()
}

// triggerMissing is NGTriggerResourceImpl.get's and update's answer:
// EntityNotFoundException, 404 ENTITY_NOT_FOUND.
func (s *Server) triggerMissing(id string) reply {
	return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", fmt.Sprintf("Trigger %s does not exist", id))
}

// saveTrigger creates (urlID "") or updates the trigger urlID of target.
func (s *Server) saveTrigger(r *http.Request, sc scope, target, urlID string, body []byte) reply {
	update := urlID != ""
	// NGTriggerResourceImpl.create and update catch every failure but an
	// InvalidTriggerYamlException and re-throw it as
	// InvalidRequestException with this prefix.
	prefix := "Failed while Saving Trigger: "
	if update {
		prefix = "Failed while updating Trigger: "
	}
	bad := func(msg string) reply {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", prefix+msg)
	}
	if update {
		// update reads the trigger before anything else.
		s.mu.Lock()
		missing := s.lookup(sc, KindTrigger, target, urlID) == nil
		s.mu.Unlock()
		if missing {
			return s.triggerMissing(urlID)
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return s.failureDTO(nil, fieldError{"yaml", "must not be null"})
	}
	var doc any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return bad("Invalid yaml: " + err.Error())
	}
	top, _ := doc.(map[string]any)
	info := mapAt(top, "trigger")
	if info == nil {
		return bad("the yaml has no trigger: mapping")
	}
	// The YAML is read into NGTriggerConfigV2 (toTriggerDetails); what
	// the trigger schema refuses stands for what that reading refuses.
	if v, rp := s.schemaViolations(schemaTrigger, doc); rp != nil {
		return *rp
	} else if len(v) > 0 {
		return bad("Invalid yaml: " + strings.Join(v, ", "))
	}
	id, pipeline := str(info, "identifier"), str(info, "pipelineIdentifier")
	switch {
	case update && id != urlID:
		// NGTriggerElementMapper (fetchTriggerEntity on update).
		return bad("Identifier in url and yaml do not match")
	case strings.TrimSpace(id) == "":
		// NGTriggerServiceImpl.validateTriggerConfig.
		return bad("Identifier can not be empty")
	case strings.TrimSpace(str(info, "name")) == "":
		return bad("Name can not be empty")
	case pipeline == "":
		// The stand-in's own message: the trigger would have no target.
		return bad("pipelineIdentifier can not be empty")
	}
	e, err := entityFromYAML(KindTrigger, body)
	if err != nil {
		return bad(err.Error())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.lookup(sc, KindTrigger, target, urlID)
	if update && old == nil {
		return s.triggerMissing(urlID) // deleted meanwhile
	}
	if !update && s.lookup(sc, KindTrigger, pipeline, id) != nil {
		// NGTriggerServiceImpl.create's DuplicateFieldException, wrapped.
		return bad(fmt.Sprintf("Trigger [%s] already exists or is soft deleted", id))
	}
	now := s.now().UnixMilli()
	if update {
		// The custom webhook token is set at creation only
		// (NGTriggerServiceImpl.populateCustomWebhookTokenForCustomWebhookTriggers);
		// the update operations leave it (TriggerFilterHelper
		// .getUpdateOperations), so it survives updates.
		e.token, e.withServiceV2, e.createdAt, e.version = old.token, old.withServiceV2, old.createdAt, old.version+1
		s.drop(sc, KindTrigger, target, urlID)
	} else {
		e.withServiceV2 = r.URL.Query().Get("withServiceV2") == "true"
		e.createdAt, e.version = now, 1
		if isCustomWebhook(body) {
			e.token = s.newToken()
		}
	}
	e.updatedAt = now
	// After saving, NGTriggerServiceImpl.validateTrigger checks the
	// trigger; one whose pipeline does not exist (PipelineRefValidator) is
	// kept, disabled, with the reason in its validation status, and its
	// YAML rewritten with enabled: false (updateTriggerWithValidationStatus
	// → NGTriggerElementMapper.updateEntityYmlWithEnabledValue).
	if s.lookup(sc, KindPipeline, "", pipeline) == nil {
		e.validation = fmt.Sprintf("Pipeline with Ref -> %s:%s:%s:%s does not exists", sc.account, sc.org, sc.project, pipeline)
		e.enabled = false
		e.yaml = withEnabled(e.yaml, false)
	}
	s.store(sc, e)
	verb := "create"
	if update {
		verb = "update"
	}
	s.effect(verb, sc, e)
	rp := s.success(s.triggerResponse(r, sc, e))
	rp.effect = true
	return rp
}

func (s *Server) getTrigger(r *http.Request, sc scope, target, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(sc, KindTrigger, target, id)
	if e == nil {
		return s.triggerMissing(id)
	}
	return s.success(s.triggerResponse(r, sc, e))
}

// deleteTrigger: NGTriggerServiceImpl.delete removes without looking
// first, so a missing trigger is data:true too.
func (s *Server) deleteTrigger(sc scope, target, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(sc, KindTrigger, target, id)
	if e == nil {
		return s.success(true)
	}
	s.drop(sc, KindTrigger, target, id)
	s.effect("delete", sc, e)
	rp := s.success(true)
	rp.effect = true
	return rp
}

// listTriggers answers the list of a pipeline's triggers: a PageResponse
// of NGTriggerDetailsResponseDTO, page and size defaulting to 0 and 25.
func (s *Server) listTriggers(r *http.Request, sc scope, target string) reply {
	page, size, rp := s.pageParams(r.URL.Query(), "page", "size", 25, 0)
	if rp != nil {
		return *rp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.all(sc, KindTrigger)
	var items []any
	for _, k := range sortedKeys(all) {
		e := all[k]
		if e.parent != target {
			continue
		}
		status := map[string]any{"status": "SUCCESS", "validationStatus": map[string]any{"statusResult": "SUCCESS"}}
		if e.validation != "" {
			status = map[string]any{"status": "FAILED", "validationStatus": map[string]any{
				"statusResult": "FAILED", "detailedMessage": e.validation}}
		}
		items = append(items, map[string]any{
			"name": e.name, "identifier": e.id, "description": e.description, "type": "Webhook",
			"triggerStatus": status, "tags": cloneTags(e.tags), "yaml": string(e.yaml),
			"webhookUrl": s.webhookURL(r, sc, e), "enabled": e.enabled, "executions": []any{},
		})
	}
	return s.success(pageResponse(items, page, size))
}

// triggerResponse is NGTriggerResponseDTO, with the webhookUrl newer
// Harness versions add. The caller holds s.mu.
func (s *Server) triggerResponse(r *http.Request, sc scope, e *entity) map[string]any {
	return map[string]any{
		"name": e.name, "identifier": e.id, "description": e.description, "type": "Webhook",
		"accountIdentifier": sc.account, "orgIdentifier": sc.org, "projectIdentifier": sc.project,
		"targetIdentifier": e.parent, "yaml": string(e.yaml), "enabled": e.enabled,
		"errors": nil, "errorResponse": false, "stagesToExecute": []any{}, "version": e.version,
		"webhookUrl": s.webhookURL(r, sc, e),
	}
}

// webhookURL is WebhookHelper.generateCustomWebhookUrl's URL for a custom
// webhook trigger, on the host the request came to; "" for others.
func (s *Server) webhookURL(r *http.Request, sc scope, e *entity) string {
	if e.token == "" {
		return ""
	}
	base := "http://" + r.Host
	if strings.HasPrefix(r.URL.Path, "/gateway/") {
		base += "/gateway"
	}
	q := url.Values{"accountIdentifier": {sc.account}, "orgIdentifier": {sc.org}, "projectIdentifier": {sc.project},
		"pipelineIdentifier": {e.parent}, "triggerIdentifier": {e.id}}
	return base + "/pipeline/api/webhook/custom/" + e.token + "/v3?" + q.Encode()
}

// isCustomWebhook reports whether trigger YAML has a custom webhook
// source: source.type Webhook, source.spec.type Custom.
func isCustomWebhook(src []byte) bool {
	var doc map[string]any
	if yaml.Unmarshal(src, &doc) != nil {
		return false
	}
	source := mapAt(mapAt(doc, "trigger"), "source")
	return str(source, "type") == "Webhook" && str(mapAt(source, "spec"), "type") == "Custom"
}

// newToken makes a custom webhook token as Harness does: a random UUID as
// 22 characters of URL-safe Base64 (UUIDGenerator.generateUuid). The
// caller holds s.mu.
func (s *Server) newToken() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.IntN(256))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// withEnabled returns trigger YAML with trigger.enabled set to v, the
// rest re-serialised as Harness does when it writes the field back.
func withEnabled(src []byte, v bool) []byte {
	var root yaml.Node
	if yaml.Unmarshal(src, &root) != nil || len(root.Content) == 0 {
		return src
	}
	top := root.Content[0]
	var trig *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "trigger" {
			trig = top.Content[i+1]
		}
	}
	if trig == nil || trig.Kind != yaml.MappingNode {
		return src
	}
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}
	found := false
	for i := 0; i+1 < len(trig.Content); i += 2 {
		if trig.Content[i].Value == "enabled" {
			trig.Content[i+1], found = val, true
		}
	}
	if !found {
		trig.Content = append(trig.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "enabled"}, val)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(&root) != nil || enc.Close() != nil {
		return src
	}
	return buf.Bytes()
}
