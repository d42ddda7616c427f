package harnesstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Services, environments and infrastructure definitions: the NG manager's
// ServiceResourceV2, EnvironmentResourceV2 and InfrastructureResource
// (harness-core 120-ng-manager), implemented by ServiceEntityServiceImpl,
// EnvironmentServiceImpl and InfrastructureEntityServiceImpl (harness-core
// 127-cd-nextgen-entities). Create and update take a JSON request DTO
// carrying the YAML as a string, and take the scope from its org and
// project; get, delete and list take it from the query, where org and
// project are optional (entities may be account- or org-level).

// ngRequest is ServiceRequestDTO, EnvironmentRequestDTO and
// InfrastructureRequestDTO together.
type ngRequest struct {
	Identifier        string            `json:"identifier"`
	OrgIdentifier     string            `json:"orgIdentifier"`
	ProjectIdentifier string            `json:"projectIdentifier"`
	Name              string            `json:"name"`
	Description       string            `json:"description"`
	Tags              map[string]string `json:"tags"`
	YAML              string            `json:"yaml"`
	Type              string            `json:"type"`
	EnvironmentRef    string            `json:"environmentRef"`
}

// routeNG dispatches the NG manager's paths.
func (s *Server) routeNG(r *http.Request, path string, body []byte) (reply, bool) {
	rest, ok := strings.CutPrefix(path, "/ng/api/")
	if !ok {
		return reply{}, false
	}
	res, id, _ := strings.Cut(rest, "/")
	if strings.Contains(id, "/") {
		return reply{}, false
	}
	q := r.URL.Query()
	qs := scope{q.Get("accountIdentifier"), q.Get("orgIdentifier"), q.Get("projectIdentifier")}
	var k Kind
	switch res {
	case "servicesV2":
		k = KindService
	case "environmentsV2":
		k = KindEnvironment
	case "infrastructures":
		k = KindInfrastructure
	case "connectors":
		return s.routeConnectors(r, qs, id, body)
	default:
		return reply{}, false
	}
	switch {
	case id == "" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		return s.saveNG(r, k, body, r.Method == http.MethodPut), true
	case id == "" && r.Method == http.MethodGet:
		return s.listNG(r, k, qs), true
	case id != "" && r.Method == http.MethodGet:
		return s.getNG(r, k, qs, id), true
	case id != "" && r.Method == http.MethodDelete:
		return s.deleteNG(r, k, qs, id), true
	}
	return reply{}, false
}

// ngMissing answers a get of a missing service, environment or
// infrastructure definition: the resources throw
// javax.ws.rs.NotFoundException, which NotFoundExceptionMapper writes as a
// 400 FailureDTO with code RESOURCE_NOT_FOUND_EXCEPTION (harness-core
// 960-ng-core-beans), not a 404. Messages: ServiceElementMapper
// .getServiceNotFoundError, EnvironmentResourceV2.get,
// InfrastructureResource.get.
func (s *Server) ngMissing(k Kind, sc scope, parent, id string) reply {
	var msg string
	switch k {
	case KindService:
		msg = fmt.Sprintf("Service with identifier [%s] in project [%s], org [%s] not found", id, sc.project, sc.org)
	case KindEnvironment:
		msg = fmt.Sprintf("Environment with identifier [%s] in project [%s], org [%s] not found", id, sc.project, sc.org)
	case KindInfrastructure:
		msg = fmt.Sprintf("Infrastructure with identifier [%s] in project [%s], org [%s], environment [%s] not found",
			id, sc.project, sc.org, parent)
	}
	return s.failure(http.StatusBadRequest, "RESOURCE_NOT_FOUND_EXCEPTION", msg)
}

// envMissing is EnvironmentValidationHelper.checkThatEnvExists's answer,
// which every infrastructure call gives when its environment does not
// exist: NotFoundException("Environment with ref [env] not found"), 400
// RESOURCE_NOT_FOUND_EXCEPTION.
func (s *Server) envMissing(env string) reply {
	return s.failure(http.StatusBadRequest, "RESOURCE_NOT_FOUND_EXCEPTION", fmt.Sprintf("Environment with ref [%s] not found", env))
}

// forceDeleteRefused answers forceDelete=true: the account setting that
// allows it is off by default, and ServiceEntityManagementServiceImpl
// .deleteService, EnvironmentServiceImpl.delete and the infrastructure
// delete refuse it (ErrorMessageConstants.FORCE_DELETE_SETTING_NOT_ENABLED).
func (s *Server) forceDeleteRefused(r *http.Request) *reply {
	if r.URL.Query().Get("forceDelete") != "true" {
		return nil
	}
	rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
		"Force Delete is not enabled for this account. Please go to Account Resources > Default Settings > Enable Force Delete of Harness Resources to enable this.")
	return &rp
}

// saveNG creates (update false) or updates a service, environment or
// infrastructure definition.
func (s *Server) saveNG(r *http.Request, k Kind, body []byte, update bool) reply {
	var req ngRequest
	if err := json.Unmarshal(body, &req); err != nil {
		// Jackson cannot read the body; the mapper answers 400. The
		// message is the stand-in's own.
		return s.failure(http.StatusBadRequest, "INVALID_REQUEST", "Unable to process JSON: "+err.Error())
	}
	sc := scope{r.URL.Query().Get("accountIdentifier"), req.OrgIdentifier, req.ProjectIdentifier}
	var e *entity
	var rp *reply
	switch k {
	case KindService:
		e, rp = s.serviceFromRequest(&req)
	case KindEnvironment:
		e, rp = s.environmentFromRequest(&req)
	case KindInfrastructure:
		e, rp = s.infrastructureFromRequest(&req)
	}
	if rp != nil {
		return *rp
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if k == KindInfrastructure && s.lookup(sc, KindEnvironment, "", e.parent) == nil {
		// InfrastructureEntityServiceImpl.create, update and upsert call
		// EnvironmentValidationHelper.checkThatEnvExists.
		return s.envMissing(e.parent)
	}
	old := s.lookup(sc, k, e.parent, e.id)
	now := s.now().UnixMilli()
	if !update {
		if old != nil {
			return s.ngDuplicate(k, sc, e)
		}
		e.createdAt, e.updatedAt, e.version = now, now, 1
		s.store(sc, e)
		s.effect("create", sc, e)
		rp := s.success(s.ngResponse(sc, e))
		rp.effect = true
		return rp
	}
	if old == nil {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", ngUpdateMissing(k, sc, e))
	}
	if msg := immutableChange(k, old, e); msg != "" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
	}
	e.createdAt, e.updatedAt, e.version = old.createdAt, now, old.version+1
	s.store(sc, e)
	s.effect("update", sc, e)
	rp2 := s.success(s.ngResponse(sc, e))
	rp2.effect = true
	return rp2
}

// ngDuplicate answers a create whose identifier is taken.
//   - Services and environments: create() re-throws every exception as
//     InvalidRequestException("Error while saving <kind> [id]: <message>"),
//     its own DuplicateFieldException included, so a duplicate is 400
//     INVALID_REQUEST (ServiceEntityServiceImpl.create,
//     EnvironmentServiceImpl.create).
//   - Infrastructure definitions: Mongo's DuplicateKeyException becomes
//     DuplicateFieldException, 400 DUPLICATE_FIELD, unwrapped
//     (InfrastructureEntityServiceImpl.create).
func (s *Server) ngDuplicate(k Kind, sc scope, e *entity) reply {
	switch k {
	case KindService:
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
			"Error while saving service [%s]: Service [%s] under Project[%s], Organization [%s] in Account [%s] already exists",
			e.id, e.id, sc.project, sc.org, sc.account))
	case KindEnvironment:
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
			"Error while saving environment [%s]: Environment [%s] under Project[%s], Organization [%s] in Account [%s] already exists",
			e.id, e.id, sc.project, sc.org, sc.account))
	}
	return s.errorDTO(http.StatusBadRequest, "DUPLICATE_FIELD", fmt.Sprintf(
		"Infrastructure [%s] under Environment [%s] Project[%s], Organization [%s] in Account [%s] already exists",
		e.id, e.parent, sc.project, sc.org, sc.account))
}

// ngUpdateMissing is the INVALID_REQUEST an update of a missing entity
// answers (ServiceEntityServiceImpl.update, EnvironmentServiceImpl.update,
// InfrastructureEntityServiceImpl.update).
func ngUpdateMissing(k Kind, sc scope, e *entity) string {
	switch k {
	case KindService:
		return fmt.Sprintf("Service [%s] under Project[%s], Organization [%s] doesn't exist.", e.id, sc.project, sc.org)
	case KindEnvironment:
		return fmt.Sprintf("Environment [%s] under Project[%s], Organization [%s] doesn't exist.", e.id, sc.project, sc.org)
	}
	return fmt.Sprintf("Infrastructure [%s] under Environment [%s], Project [%s], Organization [%s] doesn't exist.",
		e.id, e.parent, sc.project, sc.org)
}

// immutableChange returns why an update may not change what it changes,
// or "": a Service's deployment type (ServiceEntityServiceImpl.update and
// upsert: "Service Deployment Type is not allowed to change."), an
// infrastructure definition's deployment type or type
// (InfrastructureEntityServiceImpl.validateImmutableFieldsAndThrow). Both
// compare only when old and new have a value.
func immutableChange(k Kind, old, e *entity) string {
	switch k {
	case KindService:
		if old.typ != "" && e.typ != "" && old.typ != e.typ {
			return "Service Deployment Type is not allowed to change."
		}
	case KindInfrastructure:
		if old.deploymentType != "" && e.deploymentType != "" && old.deploymentType != e.deploymentType {
			return "Infrastructure Deployment Type is not allowed to change."
		}
		if old.typ != "" && e.typ != "" && old.typ != e.typ {
			return "Infrastructure Type is not allowed to change."
		}
	}
	return ""
}

// serviceFromRequest reads a service create or update as ServiceResourceV2
// and ServiceElementMapper.toServiceEntity do.
func (s *Server) serviceFromRequest(req *ngRequest) (*entity, *reply) {
	bad := func(msg string) (*entity, *reply) {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		return nil, &rp
	}
	if req.Identifier == "" {
		rp := s.failureDTO([]string{"identifier"})
		return nil, &rp
	}
	src := []byte(req.YAML)
	var info map[string]any
	if strings.TrimSpace(req.YAML) == "" {
		// Without YAML the service is built from the DTO and its YAML
		// written from that (ServiceElementMapper.getNgServiceConfig).
		info = map[string]any{"identifier": req.Identifier, "name": req.Name}
		if len(req.Tags) > 0 {
			info["tags"] = req.Tags
		}
		src, _ = yaml.Marshal(map[string]any{"service": info})
	} else {
		var doc map[string]any
		err := yaml.Unmarshal(src, &doc)
		info, _ = doc["service"].(map[string]any)
		if err != nil || info == nil {
			// YamlPipelineUtils.read fails; the mapper rethrows it.
			msg := "the document has no service: mapping"
			if err != nil {
				msg = err.Error()
			}
			return bad(fmt.Sprintf("Cannot create service ng with Identifier : %s service config due to %s", req.Identifier, msg))
		}
		// ServiceResourceV2.create and update validate the YAML against
		// the Service schema first (ServiceEntityYamlSchemaHelper
		// .validateSchema, with feature flag NG_SVC_ENV_REDESIGN on, as it
		// is for every account since Service V2).
		if def, ok := info["serviceDefinition"]; ok {
			v, rp := s.schemaViolations(schemaServiceDefinition, def)
			if rp != nil {
				return nil, rp
			}
			for i := range v {
				p, m, _ := strings.Cut(v[i], ": ")
				v[i] = "/service/serviceDefinition" + strings.TrimSuffix(p, "/") + ": " + m
			}
			if len(v) > 0 {
				r := s.schemaFailed(v)
				return nil, &r
			}
		}
		// ServiceElementMapper.validateFieldsOrThrow.
		if id := str(info, "identifier"); id != req.Identifier {
			return bad(fmt.Sprintf("Service Identifier : %s in service request doesn't match with identifier : %s given in yaml",
				req.Identifier, id))
		}
		if n := str(info, "name"); req.Name != "" && n != "" && n != req.Name {
			return bad(fmt.Sprintf("Service Name : %s in service request doesn't match with name : %s given in yaml", req.Name, n))
		}
	}
	e := &entity{kind: KindService, id: req.Identifier, yaml: src, name: str(info, "name"),
		description: str(info, "description"), tags: tagsOf(info),
		typ: str(mapAt(info, "serviceDefinition"), "type")}
	overrideFromDTO(e, req)
	if e.name == "" {
		// ServiceEntityServiceImpl.setNameIfNotPresent.
		e.name = e.id
	}
	return e, nil
}

// overrideFromDTO applies the DTO's non-empty name, description and tags,
// which take precedence over the YAML's in every NG mapper
// (ServiceElementMapper, EnvironmentMapper, InfrastructureMapper).
func overrideFromDTO(e *entity, req *ngRequest) {
	if req.Name != "" {
		e.name = req.Name
	}
	if req.Description != "" {
		e.description = req.Description
	}
	if len(req.Tags) > 0 {
		e.tags = cloneTags(req.Tags)
	}
}

// environmentFromRequest reads an environment create or update as
// EnvironmentMapper.toEnvironmentEntity does.
func (s *Server) environmentFromRequest(req *ngRequest) (*entity, *reply) {
	bad := func(msg string) (*entity, *reply) {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		return nil, &rp
	}
	if req.Identifier == "" || req.Type == "" {
		// The create path reads getType() for access control, so a DTO
		// without a type fails there (a NullPointerException, inferred);
		// the stand-in answers as a validation failure instead.
		var missing []string
		for f, v := range map[string]string{"identifier": req.Identifier, "type": req.Type} {
			if v == "" {
				missing = append(missing, f)
			}
		}
		sort.Strings(missing)
		rp := s.failureDTO(missing)
		return nil, &rp
	}
	var doc map[string]any
	err := yaml.Unmarshal([]byte(req.YAML), &doc)
	info, _ := doc["environment"].(map[string]any)
	if err != nil || info == nil {
		return bad(fmt.Sprintf("Cannot create environment with identifier : %s: the yaml has no environment: mapping", req.Identifier))
	}
	// EnvironmentMapper.validateYamlOrThrow compares org, project,
	// identifier and type with StringUtils.compare, for which a field the
	// YAML lacks differs from the DTO's value: the environment YAML must
	// carry orgIdentifier and projectIdentifier equal to the DTO's. The
	// name is compared only when both are set.
	var diffs []string
	for _, f := range []struct{ label, yaml, dto string }{
		{"Org Identifier", str(info, "orgIdentifier"), req.OrgIdentifier},
		{"Project Identifier ", str(info, "projectIdentifier"), req.ProjectIdentifier},
		{"Environment Identifier", str(info, "identifier"), req.Identifier},
		{"Environment type", str(info, "type"), req.Type},
	} {
		if f.yaml != f.dto {
			diffs = append(diffs, fmt.Sprintf("%s=(%s, %s)", f.label, nullable(f.yaml), nullable(f.dto)))
		}
	}
	if n := str(info, "name"); n != "" && req.Name != "" && n != req.Name {
		diffs = append(diffs, fmt.Sprintf("Environment name=(%s, %s)", n, req.Name))
	}
	if len(diffs) > 0 {
		return bad(fmt.Sprintf("For the environment [name: %s, identifier: %s], Found mismatch in following fields between yaml and requested value respectively: {%s}",
			req.Name, req.Identifier, strings.Join(diffs, ", ")))
	}
	e := &entity{kind: KindEnvironment, id: req.Identifier, yaml: []byte(req.YAML), name: str(info, "name"),
		description: str(info, "description"), tags: tagsOf(info), typ: req.Type}
	overrideFromDTO(e, req)
	if e.name == "" {
		e.name = e.id
	}
	return e, nil
}

func nullable(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// infrastructureFromRequest reads an infrastructure definition create or
// update as InfrastructureMapper.toInfrastructureEntity does.
func (s *Server) infrastructureFromRequest(req *ngRequest) (*entity, *reply) {
	bad := func(msg string) (*entity, *reply) {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		return nil, &rp
	}
	if strings.TrimSpace(req.YAML) == "" {
		// InfrastructureEntityConfigMapper.toInfrastructureConfig:
		// Preconditions.checkArgument(isNotEmpty(yaml)). The answer's code
		// is the stand-in's choice.
		return bad("Infrastructure yaml is required")
	}
	var doc map[string]any
	err := yaml.Unmarshal([]byte(req.YAML), &doc)
	info, _ := doc["infrastructureDefinition"].(map[string]any)
	if err != nil || info == nil {
		return bad(fmt.Sprintf("Cannot create infrastructure with identifier : %s: the yaml has no infrastructureDefinition: mapping", req.Identifier))
	}
	// InfrastructureEntityConfigMapper.checkForFieldMismatch: a mismatch
	// counts only where both sides have a value; then the DTO fills the
	// fields the YAML lacks (setMissingFieldsFromRequestDTO).
	var diffs []string
	for _, f := range []struct{ label, yaml, dto string }{
		{"Org Identifier", str(info, "orgIdentifier"), req.OrgIdentifier},
		{"Project Identifier", str(info, "projectIdentifier"), req.ProjectIdentifier},
		{"Infrastructure Identifier", str(info, "identifier"), req.Identifier},
		{"Infrastructure Name", str(info, "name"), req.Name},
		{"Infrastructure Type", str(info, "type"), req.Type},
	} {
		if f.yaml != "" && f.dto != "" && f.yaml != f.dto {
			diffs = append(diffs, fmt.Sprintf("%s=(%s, %s)", f.label, f.yaml, f.dto))
		}
	}
	if len(diffs) > 0 {
		return bad(fmt.Sprintf("For the infrastructure [name: %s, identifier: %s], Found mismatch in following fields between yaml and requested value respectively: {%s}",
			req.Name, req.Identifier, strings.Join(diffs, ", ")))
	}
	fill := func(k, dto string) string {
		if v := str(info, k); v != "" {
			return v
		}
		return dto
	}
	e := &entity{kind: KindInfrastructure, id: fill("identifier", req.Identifier), yaml: []byte(req.YAML),
		name: fill("name", req.Name), description: fill("description", req.Description), tags: tagsOf(info),
		typ: fill("type", req.Type), deploymentType: str(info, "deploymentType"),
		// environmentRef is not compared: the YAML's wins (InfrastructureMapper).
		parent: fill("environmentRef", req.EnvironmentRef)}
	if len(e.tags) == 0 && len(req.Tags) > 0 {
		e.tags = cloneTags(req.Tags)
	}
	// Required by InfrastructureDefinitionConfig and, for KubernetesDirect,
	// by the schema's k8-s-direct-infrastructure definition
	// (harness/harness-schema v0/pipeline/stages/cd/). The messages are
	// the stand-in's own.
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"identifier", e.id}, {"name", e.name}, {"environmentRef", e.parent},
		{"deploymentType", e.deploymentType}, {"type", e.typ},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if e.typ == "KubernetesDirect" {
		spec := mapAt(info, "spec")
		for _, f := range []string{"connectorRef", "namespace", "releaseName"} {
			if v, ok := spec[f].(string); !ok || v == "" {
				missing = append(missing, "spec."+f)
			}
		}
	}
	if len(missing) > 0 {
		return bad(fmt.Sprintf("Infrastructure [%s]: missing required fields: %s", e.id, strings.Join(missing, ", ")))
	}
	return e, nil
}

// ngResponse is the data of a get, create or update: ServiceResponse,
// EnvironmentResponse or InfrastructureResponse, {<kind>: DTO, createdAt,
// lastModifiedAt}. The caller holds s.mu.
func (s *Server) ngResponse(sc scope, e *entity) map[string]any {
	dto := map[string]any{
		"accountId": sc.account, "orgIdentifier": sc.org, "projectIdentifier": sc.project,
		"identifier": e.id, "name": e.name, "description": e.description, "tags": cloneTags(e.tags),
		"yaml": string(e.yaml), "deleted": false,
	}
	wrapper := string(e.kind)
	switch e.kind {
	case KindEnvironment:
		dto["type"] = e.typ
		dto["color"] = nil
	case KindInfrastructure:
		wrapper = "infrastructure"
		dto["environmentRef"] = e.parent
		dto["type"] = e.typ
		dto["deploymentType"] = e.deploymentType
		delete(dto, "deleted")
	}
	return map[string]any{wrapper: dto, "createdAt": e.createdAt, "lastModifiedAt": e.updatedAt}
}

func (s *Server) getNG(r *http.Request, k Kind, sc scope, id string) reply {
	parent := ""
	if k == KindInfrastructure {
		if parent = r.URL.Query().Get("environmentIdentifier"); parent == "" {
			// environmentIdentifier is @NotNull on InfrastructureResource.get.
			return s.failureDTO([]string{"environmentIdentifier"})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == KindInfrastructure && s.lookup(sc, KindEnvironment, "", parent) == nil {
		return s.envMissing(parent)
	}
	e := s.lookup(sc, k, parent, id)
	if e == nil {
		return s.ngMissing(k, sc, parent, id)
	}
	return s.success(s.ngResponse(sc, e))
}

func (s *Server) deleteNG(r *http.Request, k Kind, sc scope, id string) reply {
	if rp := s.forceDeleteRefused(r); rp != nil {
		return *rp
	}
	parent := r.URL.Query().Get("environmentIdentifier")
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == KindInfrastructure && s.lookup(sc, KindEnvironment, "", parent) == nil {
		return s.envMissing(parent)
	}
	if k != KindInfrastructure {
		parent = ""
	}
	e := s.lookup(sc, k, parent, id)
	if e == nil {
		switch k {
		case KindService:
			// ServiceEntityServiceImpl.delete.
			return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
				fmt.Sprintf("Service [%s] under Project[%s], Organization [%s] doesn't exist.", id, sc.project, sc.org))
		case KindEnvironment:
			// EnvironmentResourceV2.delete reads the environment first.
			return s.ngMissing(k, sc, "", id)
		}
		// InfrastructureEntityServiceImpl.delete.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Infrastructure [%s] under Environment [%s], Project[%s], Organization [%s] doesn't exist.",
				id, parent, sc.project, sc.org))
	}
	if n := s.referrers(sc, k, parent, id); n > 0 {
		// ReferencedEntityException: 400 ENTITY_REFERENCE_EXCEPTION; see
		// referrers for the sources.
		what := map[Kind]string{KindService: "service", KindEnvironment: "environment", KindInfrastructure: "infrastructure"}[k]
		tail := map[Kind]string{
			KindService:        "To delete your service, please remove the reference service from these entities.",
			KindEnvironment:    "To delete your environment, please remove the environment references from these entities.",
			KindInfrastructure: "To delete your infrastructure, please remove the reference infrastructure from these entities.",
		}[k]
		return s.errorDTO(http.StatusBadRequest, "ENTITY_REFERENCE_EXCEPTION",
			fmt.Sprintf("The %s %s cannot be deleted because it is being referenced in %d %s. %s", what, id, n, entities(n), tail))
	}
	s.drop(sc, k, parent, id)
	s.effect("delete", sc, e)
	if k == KindEnvironment {
		// EnvironmentServiceImpl.processDownstreamDeletions force-deletes
		// every infrastructure definition of a deleted environment
		// (InfrastructureEntityService.forceDeleteAllInEnv), references or
		// not.
		for key, infra := range s.all(sc, KindInfrastructure) {
			if infra.parent == id {
				delete(s.entities[sc][KindInfrastructure], key)
				s.cascade(sc, infra)
			}
		}
	}
	rp := s.success(true)
	rp.effect = true
	return rp
}

// pageParams reads page and size (0-based page; size defaults to def and
// may not exceed max, 0 meaning no bound). Names are NGCommonEntityConstants
// .PAGE and SIZE, "page" and "size".
func (s *Server) pageParams(q url.Values, pageKey, sizeKey string, def, max int) (page, size int, rp *reply) {
	page, size = 0, def
	var err error
	if v := q.Get(pageKey); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 0 {
			r := s.failureDTO(nil, fieldError{pageKey, "must be a non-negative number"})
			return 0, 0, &r
		}
	}
	if v := q.Get(sizeKey); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size <= 0 {
			r := s.failureDTO(nil, fieldError{sizeKey, "must be a positive number"})
			return 0, 0, &r
		}
	}
	if max > 0 && size > max {
		r := s.failureDTO(nil, fieldError{sizeKey, fmt.Sprintf("must be less than or equal to %d", max)})
		return 0, 0, &r
	}
	return page, size, nil
}

// pageResponse is io.harness.ng.beans.PageResponse (harness-core
// 970-ng-commons), the data of NG manager and trigger lists: items sorted
// by identifier so that paging is stable.
func pageResponse(items []any, page, size int) map[string]any {
	total := len(items)
	from, to := min(page*size, total), min((page+1)*size, total)
	content := items[from:to]
	if content == nil {
		content = []any{}
	}
	return map[string]any{
		"totalPages": (total + size - 1) / size, "totalItems": total, "pageItemCount": len(content),
		"pageSize": size, "content": content, "pageIndex": page, "empty": len(content) == 0, "pageToken": nil,
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]*entity) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Server) listNG(r *http.Request, k Kind, sc scope) reply {
	// Services cap size at 1000 (@Max on ServiceResourceV2.listServices);
	// environments and infrastructure definitions have no bound. All
	// default to 100.
	max := 0
	if k == KindService {
		max = 1000
	}
	page, size, rp := s.pageParams(r.URL.Query(), "page", "size", 100, max)
	if rp != nil {
		return *rp
	}
	parent := r.URL.Query().Get("environmentIdentifier")
	s.mu.Lock()
	defer s.mu.Unlock()
	if k == KindInfrastructure && s.lookup(sc, KindEnvironment, "", parent) == nil {
		return s.envMissing(parent)
	}
	all := s.all(sc, k)
	var items []any
	for _, key := range sortedKeys(all) {
		e := all[key]
		if k == KindInfrastructure && e.parent != parent {
			continue
		}
		items = append(items, s.ngResponse(sc, e))
	}
	return s.success(pageResponse(items, page, size))
}
