package harnesstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Custom webhook triggers: NGTriggerWebhookConfigResource (@Path("webhook")
// in harness-core pipeline-service/modules/ng-triggers), implemented by
// NGTriggerWebhookConfigResourceImpl and NGTriggerServiceImpl. A call is
// checked at once (the trigger must exist and be enabled), answered with
// the event's correlation id, and processed later from a queue: the
// trigger's inputYaml becomes the run's runtime inputs, and
// <+trigger.payload.…> reads the payload while the run goes on
// (TriggerExecutionHelper, TriggerFunctor).

// webhookEvent is one received custom webhook call.
type webhookEvent struct {
	id        string
	scope     scope
	trigger   string // identifier
	pipeline  string
	payload   []byte
	header    map[string]string
	createdAt int64
	processed bool
	status    string // TriggerEventResponse.FinalStatus name
	message   string
	execID    string
	inputs    string
}

// HoldWebhookEvents keeps custom webhook events queued, unprocessed,
// while hold is true, so that a test can see triggerProcessingDetails
// answer before processing; false processes what was held and lets later
// events through at once.
func (s *Server) HoldWebhookEvents(hold bool) {
	s.mu.Lock()
	s.holdEvents = hold
	var queued []*webhookEvent
	if !hold {
		queued, s.queuedEvents = s.queuedEvents, nil
	}
	s.mu.Unlock()
	for _, ev := range queued {
		s.processEvent(ev)
	}
}

// webhookPath reports whether path is one of the webhook resource's
// unauthenticated paths: the custom webhook (v3 with a token, v2 without)
// and triggerProcessingDetails (@PublicApi).
func webhookPath(path string) bool {
	return strings.HasPrefix(path, "/pipeline/api/webhook/custom/") || path == "/pipeline/api/webhook/triggerProcessingDetails"
}

// routeWebhook serves the webhook resource's paths. Custom webhooks need
// no API key unless the account mandates one (setting
// mandate_custom_webhook_authorization, off by default;
// NGTriggerServiceImpl.checkAuthorization), and the stand-in never does.
func (s *Server) routeWebhook(r *http.Request, path string, body []byte) reply {
	q := r.URL.Query()
	if path == "/pipeline/api/webhook/triggerProcessingDetails" && r.Method == http.MethodGet {
		return s.processingDetails(q)
	}
	rest := strings.TrimPrefix(path, "/pipeline/api/webhook/custom/")
	if r.Method != http.MethodPost {
		return notFoundRoute()
	}
	// accountIdentifier, orgIdentifier and projectIdentifier are @NotNull.
	var missing []string
	for _, k := range []string{"accountIdentifier", "orgIdentifier", "projectIdentifier"} {
		if q.Get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return s.failureDTO(missing)
	}
	sc := scope{q.Get("accountIdentifier"), q.Get("orgIdentifier"), q.Get("projectIdentifier")}
	header := map[string]string{}
	for k, vs := range r.Header {
		if !strings.EqualFold(k, "X-Api-Key") && len(vs) > 0 {
			header[k] = vs[0]
		}
	}
	s.mu.Lock()
	var trig *entity
	var trigScope scope
	switch {
	case rest == "v2":
		// TriggerWebhookValidator for the v2 URL: an enabled custom
		// trigger of the scope, narrowed by pipeline and trigger when
		// given; one that has a token must be called on its v3 URL.
		for _, t := range s.all(sc, KindTrigger) {
			if !t.enabled || !isCustomWebhook(t.yaml) ||
				q.Get("pipelineIdentifier") != "" && t.parent != q.Get("pipelineIdentifier") ||
				q.Get("triggerIdentifier") != "" && t.id != q.Get("triggerIdentifier") {
				continue
			}
			trig, trigScope = t, sc
			break
		}
		if trig == nil {
			s.mu.Unlock()
			msg := fmt.Sprintf("No enabled custom trigger found for Account:%s, Org: %s, Project: %s", sc.account, sc.org, sc.project)
			if p := q.Get("pipelineIdentifier"); p != "" {
				msg += ", Pipeline: " + p
			}
			if t := q.Get("triggerIdentifier"); t != "" {
				msg += ", Trigger: " + t
			}
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		}
		if trig.token != "" {
			s.mu.Unlock()
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
				"This webhook url is no longer supported for newly created custom webhook triggers. We are migrating to new webhook urls using custom webhook tokens in the url.")
		}
	case strings.HasSuffix(rest, "/v3") && strings.Count(rest, "/") == 1:
		token := strings.TrimSuffix(rest, "/v3")
		// TriggerWebhookValidator.validateTriggersFetchedViaWebhookToken:
		// the token alone finds the trigger; the query's pipeline and
		// trigger are not compared with it.
		for tsc, byKind := range s.entities {
			for _, t := range byKind[KindTrigger] {
				if t.token == token {
					trig, trigScope = t, tsc
				}
			}
		}
		if trig == nil {
			s.mu.Unlock()
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
				"No custom trigger found for the used custom webhook token: "+token)
		}
		if !trig.enabled {
			s.mu.Unlock()
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
				"No enabled custom trigger found for the used custom webhook token: "+token)
		}
	default:
		s.mu.Unlock()
		return notFoundRoute()
	}
	ev := &webhookEvent{id: s.newExecutionID(), scope: trigScope, trigger: trig.id, pipeline: trig.parent,
		payload: bytes.Clone(body), header: header, createdAt: s.now().UnixMilli()}
	s.events[ev.id] = ev
	hold := s.holdEvents
	if hold {
		s.queuedEvents = append(s.queuedEvents, ev)
	}
	base := "http://" + r.Host + "/"
	if strings.HasPrefix(r.URL.Path, "/gateway/") {
		base += "gateway/"
	}
	s.mu.Unlock()
	if !hold {
		s.processEvent(ev)
	}
	// NGProcessWebhookResponseDTO, URLs as UrlHelper builds them.
	rp := s.success(map[string]any{
		"eventCorrelationId": ev.id,
		"apiUrl":             base + "pipeline/api/webhook/triggerExecutionDetails/" + ev.id + "?accountIdentifier=" + url.QueryEscape(trigScope.account),
		"uiUrl": fmt.Sprintf("%sng/#/account/%s/cd/orgs/%s/projects/%s/deployments?pipelineIdentifier=%s&page=0",
			base, trigScope.account, trigScope.org, trigScope.project, trig.parent),
		"uiSetupUrl": fmt.Sprintf("%sng/#/account/%s/cd/orgs/%s/projects/%s/pipelines/%s/pipeline-studio/",
			base, trigScope.account, trigScope.org, trigScope.project, trig.parent),
	})
	rp.effect = true
	return rp
}

// processEvent runs a queued event: the trigger, looked up again, starts
// its pipeline with its inputYaml. The event's final status is a
// TriggerEventResponse.FinalStatus name.
func (s *Server) processEvent(ev *webhookEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev.processed = true
	t := s.lookup(ev.scope, KindTrigger, ev.pipeline, ev.trigger)
	if t == nil || !t.enabled {
		ev.status, ev.message = "NO_ENABLED_CUSTOM_TRIGGER_FOUND", "No enabled custom trigger found"
		return
	}
	p := s.lookup(ev.scope, KindPipeline, "", t.parent)
	if p == nil {
		ev.status, ev.message = "TARGET_DID_NOT_EXECUTE", "Pipeline "+t.parent+" does not exist"
		return
	}
	var doc map[string]any
	_ = yaml.Unmarshal(t.yaml, &doc)
	inputs := scalarText(mapAt(doc, "trigger")["inputYaml"])
	var check any
	if err := yaml.Unmarshal([]byte(inputs), &check); err != nil {
		ev.status, ev.message = "INVALID_RUNTIME_INPUT_YAML", "Failed to merge runtime inputs: "+err.Error()
		return
	}
	// TriggerFunctor's payload: the JSON parsed to a map, else a list,
	// else the raw string.
	var payload any
	if json.Unmarshal(ev.payload, &payload) != nil {
		payload = string(ev.payload)
	}
	tc := &triggerContext{identifier: t.id, payload: payload, raw: string(ev.payload), header: ev.header}
	e := s.startExecution(ev.scope, p, []byte(inputs), tc)
	ev.status, ev.message, ev.execID, ev.inputs = "TARGET_EXECUTION_REQUESTED", "Pipeline execution was requested successfully", e.id, inputs
}

// processingDetails answers GET /pipeline/api/webhook/triggerProcessingDetails
// as NGTriggerServiceImpl.fetchTriggerEventHistory does: an event not yet
// processed has no history row, 400 INVALID_REQUEST; a processed one is a
// WebhookEventProcessingDetails.
func (s *Server) processingDetails(q url.Values) reply {
	id := q.Get("eventId")
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := s.events[id]
	if ev == nil || !ev.processed || ev.scope.account != q.Get("accountIdentifier") {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Trigger event history doesn't exist for event with eventId %s", id))
	}
	var execID any
	if ev.execID != "" {
		execID = ev.execID
	}
	return s.success(map[string]any{
		"eventFound": true, "eventId": ev.id, "accountIdentifier": ev.scope.account, "orgIdentifier": ev.scope.org,
		"projectIdentifier": ev.scope.project, "triggerIdentifier": ev.trigger, "pipelineIdentifier": ev.pipeline,
		"pipelineExecutionId": execID, "exceptionOccured": ev.status == "INVALID_RUNTIME_INPUT_YAML",
		"status": ev.status, "message": ev.message, "payload": string(ev.payload), "eventCreatedAt": ev.createdAt,
		"runtimeInput": ev.inputs, "warningMsg": nil,
	})
}
