package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Custom webhook triggers (NGTriggerWebhookConfigResource, @Path("webhook")
// in harness-core's pipeline service).
const (
	pathCustomWebhook     = "/pipeline/api/webhook/custom/"
	pathProcessingDetails = "/pipeline/api/webhook/triggerProcessingDetails"
)

// webhookTokenRE is the form of a custom webhook token: a UUID as 22
// characters of URL-safe Base64 (UUIDGenerator.generateUuid), accepted a
// little more widely.
var webhookTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// FireTrigger calls a custom webhook trigger with payload (JSON, which
// the trigger's inputYaml reads as <+trigger.payload.…>) and returns the
// event's correlation id; TriggerEvent tells what became of it. webhook is
// the trigger's webhook URL (Entity.WebhookURL, Summary.WebhookURL) or its
// token alone, which is sent to the v3 URL of the client's org and
// project. A URL must be on the client's BaseURL host.
//
// Harness checks at once that the token names an enabled trigger (an
// unknown or disabled trigger is ErrInvalidRequest) and starts the run
// later, from a queue. Like Execute, a call is repeated only when it
// provably did not reach Harness or was throttled; a failure after it may
// have arrived wraps ErrOutcomeUnknown.
func (c *Client) FireTrigger(ctx context.Context, webhook string, payload []byte) (string, error) {
	return c.runs.fireTrigger(ctx, webhook, payload)
}

// fireTrigger is Client.FireTrigger.
func (r *runAPI) fireTrigger(ctx context.Context, webhook string, payload []byte) (string, error) {
	cl := call{op: "fire_trigger", method: http.MethodPost, body: payload, contentType: "application/json",
		mode: retryUnsent}
	if strings.Contains(webhook, "://") {
		u, err := url.Parse(webhook)
		if err != nil || u.Host != r.t.base.Host || u.Scheme != r.t.base.Scheme {
			return "", fmt.Errorf("harness: webhook URL is not on %s: %w", r.t.base.Host, ErrInvalidRequest)
		}
		p := strings.TrimPrefix(u.EscapedPath(), r.t.base.EscapedPath())
		if !strings.HasPrefix(p, pathCustomWebhook) {
			return "", fmt.Errorf("harness: %s is no custom webhook URL: %w", u.Path, ErrInvalidRequest)
		}
		cl.path, cl.query = p, u.Query()
	} else {
		if !webhookTokenRE.MatchString(webhook) {
			return "", fmt.Errorf("harness: webhook token is not valid: %w", ErrInvalidRequest)
		}
		cl.path = pathCustomWebhook + webhook + "/v3"
	}
	if payload == nil {
		cl.body = []byte("{}")
	}
	var data struct {
		EventCorrelationID string `json:"eventCorrelationId"`
	}
	cl.decode = func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, &data); err != nil || data.EventCorrelationID == "" {
			return unexpected("webhook answer has no data.eventCorrelationId")
		}
		if data.EventCorrelationID == "UNRECOGNIZED_WEBHOOK" {
			// NGTriggerWebhookConfigResourceImpl: the event could not be
			// built from the request.
			return &APIError{HTTPStatus: http.StatusOK, Message: "webhook not recognised", kind: ErrInvalidRequest}
		}
		return nil
	}
	if err := r.do(ctx, cl); err != nil {
		if ambiguous(err) {
			return "", fmt.Errorf("firing the webhook: %w: %w", ErrOutcomeUnknown, err)
		}
		return "", fmt.Errorf("firing the webhook: %w", err)
	}
	return data.EventCorrelationID, nil
}

// TriggerEvent is what became of a custom webhook call
// (WebhookEventProcessingDetails).
type TriggerEvent struct {
	EventID                               string
	TriggerIdentifier, PipelineIdentifier string
	// Status is TriggerEventResponse.FinalStatus's name:
	// TARGET_EXECUTION_REQUESTED when a run started, else why none did
	// (NO_ENABLED_CUSTOM_TRIGGER_FOUND, INVALID_RUNTIME_INPUT_YAML, ...).
	Status, Message string
	// ExecutionID is the run's plan execution id, once it started.
	ExecutionID string
}

// TriggerEvent reads the processing details of a custom webhook event
// (GET /pipeline/api/webhook/triggerProcessingDetails). An event not yet
// processed has no history in Harness, which answers 400 "Trigger event
// history doesn't exist for event with eventId …"
// (NGTriggerServiceImpl.fetchTriggerEventHistory): that is ErrNotFound,
// so poll until it is not.
func (c *Client) TriggerEvent(ctx context.Context, eventID string) (*TriggerEvent, error) {
	return c.runs.triggerEvent(ctx, eventID)
}

// triggerEvent is Client.TriggerEvent.
func (r *runAPI) triggerEvent(ctx context.Context, eventID string) (*TriggerEvent, error) {
	if !webhookTokenRE.MatchString(eventID) {
		return nil, fmt.Errorf("harness: event id %q is not valid: %w", eventID, ErrInvalidRequest)
	}
	var data struct {
		EventID             string  `json:"eventId"`
		TriggerIdentifier   string  `json:"triggerIdentifier"`
		PipelineIdentifier  string  `json:"pipelineIdentifier"`
		Status              string  `json:"status"`
		Message             string  `json:"message"`
		PipelineExecutionID *string `json:"pipelineExecutionId"`
	}
	err := r.do(ctx, call{
		op: "get_trigger_event", method: http.MethodGet, path: pathProcessingDetails, accountScope: true,
		query: url.Values{"eventId": {eventID}},
		decode: func(raw json.RawMessage) error {
			if err := json.Unmarshal(raw, &data); err != nil || data.Status == "" {
				return unexpected("processing details have no data.status")
			}
			return nil
		},
		reclassify: func(ae *APIError) {
			if ae.HTTPStatus == http.StatusBadRequest && strings.HasPrefix(ae.Message, "Trigger event history doesn't exist") {
				ae.kind = ErrNotFound
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading trigger event %q: %w", eventID, err)
	}
	ev := &TriggerEvent{EventID: data.EventID, TriggerIdentifier: data.TriggerIdentifier,
		PipelineIdentifier: data.PipelineIdentifier, Status: data.Status, Message: data.Message}
	if data.PipelineExecutionID != nil {
		ev.ExecutionID = *data.PipelineExecutionID
	}
	return ev, nil
}
