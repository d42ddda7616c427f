package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	yamlv3 "gopkg.in/yaml.v3"
)

// The NG manager's resources for the entities other than pipelines and
// triggers. Services, environments and infrastructure definitions take a
// JSON request DTO that carries the entity's YAML as a string, and answer
// {<wrapper>: {…, yaml}}; connectors take and answer JSON only.
//
// Sources (harness-core, Dec 2023): ServiceResourceV2 (@Path("/servicesV2"),
// ServiceRequestDTO, ServiceResponse), EnvironmentResourceV2
// (@Path("/environmentsV2"), EnvironmentRequestDTO, EnvironmentResponse),
// InfrastructureResource (@Path("/infrastructures"),
// InfrastructureRequestDTO, InfrastructureResponse), all in 120-ng-manager;
// ConnectorResource (@Path("/connectors"), ConnectorDTO,
// ConnectorResponseDTO) in 440-connector-nextgen.
const (
	pathServices        = "/ng/api/servicesV2"
	pathEnvironments    = "/ng/api/environmentsV2"
	pathInfrastructures = "/ng/api/infrastructures"
	pathConnectors      = "/ng/api/connectors"
	// pathConnectorList is ConnectorResource's POST /listV2; the GET list
	// is @Deprecated.
	pathConnectorList = "/ng/api/connectors/listV2"
)

// ngSpec is where an NG manager kind lives and under which key its answers
// hold it.
type ngSpec struct {
	path    string
	wrapper string // data.<wrapper> in get, create and update answers, and in each list item
}

func ngSpecOf(k Kind) ngSpec {
	switch k {
	case KindService:
		return ngSpec{pathServices, "service"}
	case KindEnvironment:
		return ngSpec{pathEnvironments, "environment"}
	case KindInfrastructure:
		return ngSpec{pathInfrastructures, "infrastructure"}
	case KindConnector:
		return ngSpec{pathConnectors, "connector"}
	}
	panic("harness: no NG manager resource for kind " + string(k))
}

// parentQuery is the query an infrastructure definition's calls need:
// environmentIdentifier, @NotNull on get (InfrastructureResource.get) and
// taken by delete and list.
func parentQuery(ref Ref) url.Values {
	if ref.Kind == KindInfrastructure {
		return url.Values{"environmentIdentifier": {ref.EnvironmentRef}}
	}
	return nil
}

// ngDTO is the part of ServiceResponseDTO, EnvironmentResponseDTO and
// InfrastructureResponseDTO the client reads.
type ngDTO struct {
	Identifier     string            `json:"identifier"`
	Name           string            `json:"name"`
	Tags           map[string]string `json:"tags"`
	YAML           string            `json:"yaml"`
	EnvironmentRef string            `json:"environmentRef"`
}

// decodeWrapped decodes data.<wrapper> into out, which must name an
// identifier.
func decodeWrapped(wrapper string, out *ngDTO) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var data map[string]json.RawMessage
		if err := json.Unmarshal(raw, &data); err != nil || data[wrapper] == nil {
			return unexpected("answer has no data.%s", wrapper)
		}
		if err := json.Unmarshal(data[wrapper], out); err != nil || out.Identifier == "" {
			return unexpected("answer's data.%s has no identifier", wrapper)
		}
		return nil
	}
}

// ngAPI is the NG manager's endpoints under /ng/api: services,
// environments and infrastructure definitions, which take and answer JSON
// DTOs that carry the entity's YAML, and connectors, which are JSON only.
// It is the family of those kinds for the entity surface.
type ngAPI struct {
	endpoint
}

// get reads a service, environment, infrastructure definition or
// connector.
func (n *ngAPI) get(ctx context.Context, ref Ref) (*Entity, error) {
	if ref.Kind == KindConnector {
		return n.getConnector(ctx, ref)
	}
	return n.getNG(ctx, ref)
}

// create sends one create of d.
func (n *ngAPI) create(ctx context.Context, d *desired) error { return n.save(ctx, d, false) }

// update replaces the entity with d.
func (n *ngAPI) update(ctx context.Context, d *desired) error { return n.save(ctx, d, true) }

// save creates (update false) or updates d.
func (n *ngAPI) save(ctx context.Context, d *desired, update bool) error {
	if d.ref.Kind == KindConnector {
		return n.saveConnector(ctx, d, update)
	}
	return n.saveNG(ctx, d, update)
}

// list lists the services, environments, infrastructure definitions of
// environment parent, or connectors.
func (n *ngAPI) list(ctx context.Context, kind Kind, parent string) ([]Summary, error) {
	if kind == KindConnector {
		return n.listConnectors(ctx)
	}
	return n.listNG(ctx, kind, parent)
}

// getNG reads a service, environment or infrastructure definition.
func (n *ngAPI) getNG(ctx context.Context, ref Ref) (*Entity, error) {
	sp := ngSpecOf(ref.Kind)
	var dto ngDTO
	err := n.do(ctx, call{
		op: "get_" + string(ref.Kind), method: http.MethodGet, path: sp.path + "/" + url.PathEscape(ref.Identifier),
		query: parentQuery(ref), decode: decodeWrapped(sp.wrapper, &dto),
	})
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", ref, err)
	}
	if dto.YAML == "" {
		return nil, fmt.Errorf("getting %s: %w", ref, unexpected("answer's data.%s has no yaml", sp.wrapper))
	}
	tags := dto.Tags
	if tags == nil {
		tags = yamlTags(ref.Kind, []byte(dto.YAML))
	}
	return &Entity{Ref: ref, Name: dto.Name, YAML: []byte(dto.YAML), Tags: tags}, nil
}

// ngRequest builds the request DTO of a service, environment or
// infrastructure definition. Harness reads the entity from yaml; the DTO's
// identifier must match the YAML's (ServiceElementMapper.validateFieldsOrThrow,
// EnvironmentMapper.validateYamlOrThrow, InfrastructureEntityConfigMapper),
// its org and project give the scope, and its non-empty name, description
// and tags override the YAML's, so they are sent equal to the YAML's.
// An environment's type is used for access control on create and compared
// with the YAML's (EnvironmentMapper.validateYamlOrThrow).
func (n *ngAPI) ngRequest(d *desired) map[string]any {
	body := map[string]any{
		"identifier":        d.ref.Identifier,
		"orgIdentifier":     n.sc.org,
		"projectIdentifier": n.sc.project,
		"yaml":              string(d.yaml),
	}
	for _, k := range []string{"name", "description"} {
		if v := d.str(k); v != "" {
			body[k] = v
		}
	}
	if tags := d.tags(); len(tags) > 0 {
		body["tags"] = tags
	}
	switch d.ref.Kind {
	case KindEnvironment:
		body["type"] = d.str("type")
	case KindInfrastructure:
		body["environmentRef"] = d.ref.EnvironmentRef
		body["type"] = d.str("type")
	}
	return body
}

// saveNG creates (update false) or updates d, a service, environment or
// infrastructure definition.
func (n *ngAPI) saveNG(ctx context.Context, d *desired, update bool) error {
	sp := ngSpecOf(d.ref.Kind)
	return n.saveJSON(ctx, d, update, sp, n.ngRequest(d))
}

// saveConnector creates or updates d, a connector. ConnectorResource's
// create and update take ConnectorDTO, {"connector": ConnectorInfoDTO}, as
// JSON (the resource also lists text/yaml, but the SDK and the Terraform
// provider send JSON); the connector's YAML is that same object under
// "connector:", so the YAML's root mapping is sent as it is. Update
// replaces every field ("provide values for all fields").
func (n *ngAPI) saveConnector(ctx context.Context, d *desired, update bool) error {
	return n.saveJSON(ctx, d, update, ngSpecOf(KindConnector), map[string]any{"connector": d.info})
}

func (n *ngAPI) saveJSON(ctx context.Context, d *desired, update bool, sp ngSpec, body map[string]any) error {
	raw, err := marshalJSON(body)
	if err != nil {
		return fmt.Errorf("apply %s: encoding the request: %v: %w", d.ref, err, ErrInvalidRequest)
	}
	// dto stays empty when the read-back after an ambiguous failure found
	// the write done (call.settled): then there is no answer to check.
	var dto ngDTO
	cl := call{
		op: "create_" + string(d.ref.Kind), method: http.MethodPost, path: sp.path,
		body: raw, contentType: "application/json", mode: retryUnsent,
		decode:     decodeWrapped(sp.wrapper, &dto),
		reclassify: reclassifyWrite(d.ref.Kind, update),
	}
	verb := "creating"
	if update {
		cl.op, cl.method, cl.mode = "update_"+string(d.ref.Kind), http.MethodPut, retryIdempotent
		cl.settled = settledUpdate(n, d.ref, d.yaml)
		verb = "updating"
	}
	if err := n.do(ctx, cl); err != nil {
		return fmt.Errorf("%s %s: %w", verb, d.ref, err)
	}
	if dto.Identifier != "" && dto.Identifier != d.ref.Identifier {
		return fmt.Errorf("%s %s: %w", verb, d.ref, unexpected("answer names %q", dto.Identifier))
	}
	return nil
}

// remove deletes a service, environment, infrastructure definition or
// connector. forceDelete is left at its default, false: Harness then
// refuses to delete an entity others reference (ENTITY_REFERENCE_EXCEPTION).
func (n *ngAPI) remove(ctx context.Context, ref Ref) error {
	sp := ngSpecOf(ref.Kind)
	err := n.do(ctx, call{
		op: "delete_" + string(ref.Kind), method: http.MethodDelete, path: sp.path + "/" + url.PathEscape(ref.Identifier),
		query: parentQuery(ref), decode: decodeTrue, reclassify: reclassifyDelete(ref.Kind),
		settled: settledDelete(n, ref),
	})
	if err != nil {
		return fmt.Errorf("deleting %s: %w", ref, err)
	}
	return nil
}

func decodeTrue(raw json.RawMessage) error {
	var ok bool
	if err := json.Unmarshal(raw, &ok); err != nil || !ok {
		return unexpected("delete answer is not data:true")
	}
	return nil
}

// pageResponse is io.harness.ng.beans.PageResponse, the data of NG manager
// and trigger lists (harness-core 970-ng-commons).
type pageResponse struct {
	Content    []json.RawMessage `json:"content"`
	TotalPages *int              `json:"totalPages"`
	PageIndex  *int              `json:"pageIndex"`
	Empty      bool              `json:"empty"`
}

// done reports whether page (0-based) was the last one.
func (p *pageResponse) done(page int) bool {
	return len(p.Content) == 0 || p.Empty || p.TotalPages == nil || page+1 >= *p.TotalPages
}

// listNG lists services, environments or the infrastructure definitions
// of environment parent: GET with page (0-based) and size (services allow
// at most 1000, the others have no bound; the default is 100).
func (n *ngAPI) listNG(ctx context.Context, kind Kind, parent string) ([]Summary, error) {
	sp := ngSpecOf(kind)
	var out []Summary
	seen := map[string]bool{}
	for page := 0; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "size": {strconv.Itoa(listPageSize)}}
		if kind == KindInfrastructure {
			q.Set("environmentIdentifier", parent)
		}
		var data pageResponse
		err := n.do(ctx, call{
			op: "list_" + string(kind) + "s", method: http.MethodGet, path: sp.path, query: q,
			decode: decodePage(&data),
		})
		if kind == KindInfrastructure && errors.Is(err, ErrNotFound) {
			// The list checks that the environment exists
			// (EnvironmentValidationHelper.checkThatEnvExists, 400
			// RESOURCE_NOT_FOUND_EXCEPTION): no environment, no
			// infrastructure definitions.
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing %ss (page %d): %w", kind, page, err)
		}
		for _, item := range data.Content {
			var dto ngDTO
			if err := decodeWrapped(sp.wrapper, &dto)(item); err != nil {
				return nil, fmt.Errorf("listing %ss (page %d): %w", kind, page, err)
			}
			if seen[dto.Identifier] {
				continue
			}
			seen[dto.Identifier] = true
			s := Summary{Kind: kind, Identifier: dto.Identifier, Name: dto.Name, Tags: dto.Tags}
			if kind == KindInfrastructure {
				s.EnvironmentRef = parent
			}
			out = append(out, s)
		}
		if data.done(page) {
			return out, nil
		}
	}
}

func decodePage(out *pageResponse) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		if err := json.Unmarshal(raw, out); err != nil {
			return unexpected("list answer is not a page")
		}
		return nil
	}
}

// getConnector reads a connector. Its answer is JSON only
// (ConnectorResponseDTO, data.connector being ConnectorInfoDTO); Entity.YAML
// is that object under "connector:", numbers read as such.
func (n *ngAPI) getConnector(ctx context.Context, ref Ref) (*Entity, error) {
	var info map[string]any
	err := n.do(ctx, call{
		op: "get_connector", method: http.MethodGet, path: pathConnectors + "/" + url.PathEscape(ref.Identifier),
		decode: func(raw json.RawMessage) error {
			var data struct {
				Connector json.RawMessage `json:"connector"`
			}
			if err := json.Unmarshal(raw, &data); err != nil || data.Connector == nil {
				return unexpected("answer has no data.connector")
			}
			dec := json.NewDecoder(bytes.NewReader(data.Connector))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				return unexpected("answer's data.connector is not an object")
			}
			info, _ = plainNumbers(v).(map[string]any)
			if id, _ := info["identifier"].(string); id == "" {
				return unexpected("answer's data.connector has no identifier")
			}
			return nil
		},
	})
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", ref, err)
	}
	y, err := yamlv3.Marshal(map[string]any{"connector": info})
	if err != nil {
		return nil, fmt.Errorf("getting %s: %w", ref, unexpected("connector cannot be written as yaml: %v", err))
	}
	name, _ := info["name"].(string)
	return &Entity{Ref: ref, Name: name, YAML: y, Tags: tagsOf(info)}, nil
}

// plainNumbers turns json.Number values into int64 where they are whole,
// else float64, so that a connector read back compares equal to YAML that
// wrote the same numbers.
func plainNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = plainNumbers(e)
		}
	case []any:
		for i, e := range v {
			v[i] = plainNumbers(e)
		}
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// connectorListPageSize is the most ConnectorResource's listV2 returns a
// page (PageRequest.pageSize is @Max(100)).
const connectorListPageSize = 100

// listConnectors lists the project's connectors with POST listV2, whose
// body is a ConnectorFilterPropertiesDTO: Jackson picks the filter class
// by its filterType, "Connector" (FilterConstants.CONNECTOR_FILTER). Its
// page parameters are PageRequest's pageIndex and pageSize, not page and
// size. The call is read-only, so it is retried like a GET.
func (n *ngAPI) listConnectors(ctx context.Context) ([]Summary, error) {
	var out []Summary
	seen := map[string]bool{}
	for page := 0; ; page++ {
		var data pageResponse
		err := n.do(ctx, call{
			op: "list_connectors", method: http.MethodPost, path: pathConnectorList,
			query:       url.Values{"pageIndex": {strconv.Itoa(page)}, "pageSize": {strconv.Itoa(connectorListPageSize)}},
			body:        []byte(`{"filterType":"Connector"}`),
			contentType: "application/json", mode: retryIdempotent,
			decode: decodePage(&data),
		})
		if err != nil {
			return nil, fmt.Errorf("listing connectors (page %d): %w", page, err)
		}
		for _, item := range data.Content {
			var dto ngDTO
			if err := decodeWrapped("connector", &dto)(item); err != nil {
				return nil, fmt.Errorf("listing connectors (page %d): %w", page, err)
			}
			if seen[dto.Identifier] {
				continue
			}
			seen[dto.Identifier] = true
			out = append(out, Summary{Kind: KindConnector, Identifier: dto.Identifier, Name: dto.Name, Tags: dto.Tags})
		}
		if data.done(page) {
			return out, nil
		}
	}
}

// reclassifyWrite reads an error answer to a create (update false) or an
// update of kind:
//   - RESOURCE_NOT_FOUND_EXCEPTION on a write names another entity: an
//     infrastructure definition's environment ("Environment with ref [x]
//     not found", EnvironmentValidationHelper.checkThatEnvExists) or the
//     org or project (OrgAndProjectValidationHelper): ErrReferenceNotFound.
//   - A duplicate service or environment is wrapped as INVALID_REQUEST
//     "Error while saving <kind> [id]: … already exists"
//     (ServiceEntityServiceImpl.create, EnvironmentServiceImpl.create); a
//     duplicate trigger as "Failed while Saving Trigger: Trigger [id]
//     already exists or is soft deleted" (NGTriggerResourceImpl.create); a
//     duplicate connector as "Connector: n has been given an identifier: id
//     that already exists." (DefaultConnectorServiceImpl.createInternal):
//     ErrAlreadyExists.
//   - An update of a missing entity is INVALID_REQUEST (see missingOnWrite):
//     ErrNotFound.
func reclassifyWrite(k Kind, update bool) func(*APIError) {
	return func(ae *APIError) {
		switch {
		case ae.Code == codeResourceNotFound && errors.Is(ae, ErrNotFound):
			ae.kind = ErrReferenceNotFound
		case ae.Code != codeInvalidRequest:
		case !update && strings.Contains(ae.Message, "already exists"):
			ae.kind = ErrAlreadyExists
		case update && missingOnWrite(k, ae.Message):
			ae.kind = ErrNotFound
		}
	}
}

// missingOnWrite reports whether msg, of an INVALID_REQUEST answering an
// update of kind, says the entity does not exist:
//   - services: "Service [id] under Project[p], Organization [o] doesn't
//     exist." (ServiceEntityServiceImpl.update);
//   - environments: "Environment [id] under Project[p], Organization [o]
//     doesn't exist." (EnvironmentServiceImpl.update);
//   - infrastructure definitions: "Infrastructure [id] under Environment
//     [e], Project [p], Organization [o] doesn't exist."
//     (InfrastructureEntityServiceImpl.update);
//   - connectors: "No connector exists with the  Identifier id"
//     (DefaultConnectorServiceImpl.update);
//   - pipelines: "Error while updating pipeline [id]: Pipeline with
//     identifier id does not exist …", the repository's
//     EntityNotFoundException re-wrapped by
//     PMSPipelineServiceImpl.makePipelineUpdateCall, whose own null-result
//     branch says "… couldn't be updated or doesn't exist.".
//
// Triggers answer an update of a missing trigger with 404
// ENTITY_NOT_FOUND (NGTriggerResourceImpl.update) instead.
func missingOnWrite(k Kind, msg string) bool {
	switch k {
	case KindService, KindEnvironment, KindInfrastructure:
		return strings.Contains(msg, "doesn't exist")
	case KindConnector:
		return strings.HasPrefix(msg, "No connector exists with the")
	case KindPipeline:
		m := strings.ToLower(msg)
		return strings.Contains(m, "does not exist") || strings.Contains(m, "doesn't exist")
	}
	return false
}

// reclassifyDelete reads an error answer to a delete of kind: a service
// or infrastructure definition that does not exist is INVALID_REQUEST
// "… doesn't exist." (ServiceEntityServiceImpl.delete,
// InfrastructureEntityServiceImpl.delete), a connector INVALID_REQUEST "No
// connector exists with the identifier id in account a, organisation o,
// project p" (ConnectorErrorMessagesHelper.createConnectorNotFoundMessage):
// ErrNotFound. A missing environment is already RESOURCE_NOT_FOUND_EXCEPTION
// (EnvironmentResourceV2.delete reads it first).
func reclassifyDelete(k Kind) func(*APIError) {
	return func(ae *APIError) {
		if ae.Code != codeInvalidRequest {
			return
		}
		switch k {
		case KindService, KindInfrastructure:
			if strings.Contains(ae.Message, "doesn't exist") {
				ae.kind = ErrNotFound
			}
		case KindConnector:
			if strings.HasPrefix(ae.Message, "No connector exists with the") {
				ae.kind = ErrNotFound
			}
		}
	}
}

// marshalJSON encodes v as Jackson would: <, > and & as they are (Harness
// YAML is full of <+input>).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// yamlTags reads the tags of an entity's YAML; nil when it has none or
// cannot be read.
func yamlTags(k Kind, src []byte) map[string]string {
	var doc map[string]any
	if err := yamlv3.Unmarshal(src, &doc); err != nil {
		return nil
	}
	info, _ := doc[k.RootKey()].(map[string]any)
	return tagsOf(info)
}
