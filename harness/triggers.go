package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// pathTriggers is the pipeline service's NGTriggerResource
// (@Path("triggers"), harness-core pipeline-service/modules/ng-triggers/
// contracts/…/ngtriggers/resource/NGTriggerResource.java). Every call takes
// accountIdentifier, orgIdentifier, projectIdentifier and targetIdentifier,
// the pipeline, all @NotNull. Create and update take the trigger YAML as
// the body (a String; the resource consumes application/json and
// application/yaml).
const pathTriggers = "/pipeline/api/triggers"

// triggerResponse is the part of NGTriggerResponseDTO the client reads.
type triggerResponse struct {
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	YAML       string `json:"yaml"`
	// ErrorResponse and Errors are set when the resource caught an
	// InvalidTriggerYamlException: it then answers HTTP 200 SUCCESS with
	// these instead of failing (NGTriggerResourceImpl.create and update,
	// NGTriggerElementMapper.toErrorDTO), and nothing was saved.
	ErrorResponse bool                       `json:"errorResponse"`
	Errors        map[string]json.RawMessage `json:"errors"`
	// WebhookURL is sent by newer Harness versions
	// (NGTriggerResponseDTO.webhookUrl).
	WebhookURL string `json:"webhookUrl"`
}

func decodeTrigger(out *triggerResponse) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, out); err != nil {
			return unexpected("trigger answer is not an NGTriggerResponseDTO")
		}
		if out.ErrorResponse {
			var parts []string
			for fqn, e := range out.Errors {
				parts = append(parts, fqn+": "+string(e))
			}
			sort.Strings(parts)
			msg := "trigger yaml rejected"
			if len(parts) > 0 {
				msg += ": " + strings.Join(parts, "; ")
			}
			return &APIError{HTTPStatus: http.StatusOK, Message: msg, kind: ErrInvalidRequest}
		}
		if out.Identifier == "" {
			return unexpected("trigger answer has no identifier")
		}
		return nil
	}
}

func triggerQuery(pipeline string) url.Values {
	return url.Values{"targetIdentifier": {pipeline}}
}

// triggerAPI is the pipeline service's trigger endpoints
// (/pipeline/api/triggers): the family of KindTrigger for the entity
// surface.
type triggerAPI struct {
	endpoint
}

// get reads a trigger. A missing one is 404 ENTITY_NOT_FOUND
// "Trigger X does not exist" (NGTriggerResourceImpl.get). The answer has
// no tags; they are read from the YAML.
func (tr *triggerAPI) get(ctx context.Context, ref Ref) (*Entity, error) {
	var resp triggerResponse
	err := tr.do(ctx, call{
		op: "get_trigger", method: http.MethodGet, path: pathTriggers + "/" + url.PathEscape(ref.Identifier),
		query: triggerQuery(ref.PipelineRef), decode: decodeTrigger(&resp),
	})
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", ref, err)
	}
	if resp.YAML == "" {
		return nil, fmt.Errorf("getting %s: %w", ref, unexpected("trigger answer has no yaml"))
	}
	return &Entity{Ref: ref, Name: resp.Name, YAML: []byte(resp.YAML), Tags: yamlTags(KindTrigger, []byte(resp.YAML)),
		WebhookURL: resp.WebhookURL}, nil
}

// create sends one create of the trigger d.
func (tr *triggerAPI) create(ctx context.Context, d *desired) error { return tr.save(ctx, d, false) }

// update replaces the trigger with d.
func (tr *triggerAPI) update(ctx context.Context, d *desired) error { return tr.save(ctx, d, true) }

// save creates (update false) or updates the trigger d. Harness
// wraps every failure of either as 400 INVALID_REQUEST "Failed while
// Saving Trigger: …" / "Failed while updating Trigger: …", a duplicate
// included; an update of a missing trigger is 404 ENTITY_NOT_FOUND. A
// trigger whose pipeline does not exist is saved anyway, disabled
// (NGTriggerServiceImpl.validateTrigger).
//
// Creates send withServiceV2=true, as the Terraform provider does
// (terraform-provider-harness internal/service/pipeline/triggers); updates
// keep the stored trigger's value.
func (tr *triggerAPI) save(ctx context.Context, d *desired, update bool) error {
	var resp triggerResponse
	cl := call{
		op: "create_trigger", method: http.MethodPost, path: pathTriggers,
		query: url.Values{"targetIdentifier": {d.ref.PipelineRef}, "withServiceV2": {"true"}},
		body:  d.yaml, contentType: "application/yaml", mode: retryUnsent,
		decode: decodeTrigger(&resp), reclassify: reclassifyWrite(KindTrigger, update),
	}
	verb := "creating"
	if update {
		cl.op, cl.method, cl.mode = "update_trigger", http.MethodPut, retryIdempotent
		cl.path += "/" + url.PathEscape(d.ref.Identifier)
		cl.query = triggerQuery(d.ref.PipelineRef)
		cl.settled = settledUpdate(tr, d.ref, d.yaml)
		verb = "updating"
	}
	if err := tr.do(ctx, cl); err != nil {
		return fmt.Errorf("%s %s: %w", verb, d.ref, err)
	}
	// resp stays empty when the read-back after an ambiguous failure found
	// the write done (call.settled).
	if resp.Identifier != "" && resp.Identifier != d.ref.Identifier {
		return fmt.Errorf("%s %s: %w", verb, d.ref, unexpected("answer names %q", resp.Identifier))
	}
	return nil
}

// remove deletes a trigger. Harness deletes without looking first
// and answers data:true for a missing trigger too (NGTriggerServiceImpl.delete).
func (tr *triggerAPI) remove(ctx context.Context, ref Ref) error {
	err := tr.do(ctx, call{
		op: "delete_trigger", method: http.MethodDelete, path: pathTriggers + "/" + url.PathEscape(ref.Identifier),
		query: triggerQuery(ref.PipelineRef), decode: decodeTrue, settled: settledDelete(tr, ref),
	})
	if err != nil {
		return fmt.Errorf("deleting %s: %w", ref, err)
	}
	return nil
}

// list lists the triggers of pipeline: GET with page (0-based) and
// size (default 25); the answer is a PageResponse of
// NGTriggerDetailsResponseDTO, which carries tags.
func (tr *triggerAPI) list(ctx context.Context, _ Kind, pipeline string) ([]Summary, error) {
	var out []Summary
	seen := map[string]bool{}
	for page := 0; ; page++ {
		q := triggerQuery(pipeline)
		q.Set("page", strconv.Itoa(page))
		q.Set("size", strconv.Itoa(listPageSize))
		var data pageResponse
		err := tr.do(ctx, call{
			op: "list_triggers", method: http.MethodGet, path: pathTriggers, query: q, decode: decodePage(&data),
		})
		if err != nil {
			return nil, fmt.Errorf("listing the triggers of pipeline %q (page %d): %w", pipeline, page, err)
		}
		for _, item := range data.Content {
			// NGTriggerDetailsResponseDTO; webhookUrl is the custom
			// webhook's URL (WebhookHelper.generateCustomWebhookUrl).
			var t struct {
				Identifier string            `json:"identifier"`
				Name       string            `json:"name"`
				Tags       map[string]string `json:"tags"`
				WebhookURL string            `json:"webhookUrl"`
			}
			if err := json.Unmarshal(item, &t); err != nil || t.Identifier == "" {
				return nil, fmt.Errorf("listing the triggers of pipeline %q (page %d): %w", pipeline, page,
					unexpected("list item is not a trigger"))
			}
			if seen[t.Identifier] {
				continue
			}
			seen[t.Identifier] = true
			out = append(out, Summary{Kind: KindTrigger, Identifier: t.Identifier, Name: t.Name, Tags: t.Tags, PipelineRef: pipeline,
				WebhookURL: t.WebhookURL})
		}
		if data.done(page) {
			return out, nil
		}
	}
}
