package harnesstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Pipelines: PipelineResource and PlanExecutionResource in harness-core's
// pipeline-service contracts, implemented by PipelineResourceImpl and
// PMSPipelineServiceImpl.

var (
	identifierRE  = regexp.MustCompile(`^[a-zA-Z_][0-9a-zA-Z_]{0,127}$`)
	reservedWords = map[string]bool{}
)

func init() {
	// EntityIdentifierValidator's reserved words (harness-core 980-commons).
	for _, w := range strings.Fields(`or and eq ne lt gt le ge div mod not null true false new var return step
		parallel stepGroup org account class shellScriptProvisioner`) {
		reservedWords[w] = true
	}
}

type basicPipeline struct {
	Identifier        string            `yaml:"identifier"`
	Name              string            `yaml:"name"`
	OrgIdentifier     string            `yaml:"orgIdentifier"`
	ProjectIdentifier string            `yaml:"projectIdentifier"`
	Description       string            `yaml:"description"`
	Tags              map[string]string `yaml:"tags"`
	Stages            []any             `yaml:"stages"`
}

// parsePipeline validates a create or update body the way Harness does.
func (s *Server) parsePipeline(r *http.Request, sc scope, body []byte) (*basicPipeline, *reply) {
	if rp := s.requireYAML(r); rp != nil {
		return nil, rp
	}
	if len(bytes.TrimSpace(body)) == 0 {
		rp := s.failureDTO(nil, fieldError{"yaml", "must not be null"})
		return nil, &rp
	}
	var root yaml.Node
	if err := yaml.Unmarshal(body, &root); err != nil {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR", "Invalid yaml: "+err.Error())
		return nil, &rp
	}
	var doc struct {
		Pipeline *basicPipeline `yaml:"pipeline"`
	}
	if err := root.Decode(&doc); err != nil || doc.Pipeline == nil {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_YAML_ERROR",
			"Invalid yaml: the document must have a pipeline: root with the pipeline's fields")
		return nil, &rp
	}
	p := doc.Pipeline
	bad := func(msg string) (*basicPipeline, *reply) {
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
		return nil, &rp
	}
	switch {
	case strings.HasPrefix(p.Identifier, "<+input>"):
		return bad("Pipeline identifier cannot be runtime input")
	case p.Identifier == "":
		return bad("Pipeline identifier cannot be empty")
	case !identifierRE.MatchString(p.Identifier):
		return bad(fmt.Sprintf("Pipeline identifier [%s] must match regex %s", p.Identifier, identifierRE))
	case reservedWords[p.Identifier]:
		return bad(fmt.Sprintf("Pipeline identifier [%s] is a reserved word", p.Identifier))
	case strings.TrimSpace(p.Name) == "":
		return bad("Pipeline name cannot be empty")
	case p.OrgIdentifier != "" && p.OrgIdentifier != sc.org:
		return bad(fmt.Sprintf("Expected Pipeline Organization identifier in YAML to be [%s], but was [%s]",
			sc.org, p.OrgIdentifier))
	case p.ProjectIdentifier != "" && p.ProjectIdentifier != sc.project:
		return bad(fmt.Sprintf("Expected Pipeline Project identifier in YAML to be [%s], but was [%s]",
			sc.project, p.ProjectIdentifier))
	}
	return p, nil
}

func (s *Server) requireYAML(r *http.Request) *reply {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml" {
		return nil
	}
	rp := s.errorDTO(http.StatusUnsupportedMediaType, "INVALID_REQUEST", "HTTP 415 Unsupported Media Type")
	return &rp
}

func notFoundMessage(sc scope, id string) string {
	// PipelineCRUDErrorResponse.errorMessageForPipelineNotFound.
	return fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] doesn't exist or has been deleted.",
		id, sc.project, sc.org)
}

func governanceOK() map[string]any {
	return map[string]any{"id": "", "deny": false, "details": []any{}, "message": "", "status": "pass"}
}

func (s *Server) governanceDeny() reply {
	return s.success(map[string]any{
		"governanceMetadata": map[string]any{
			"id": "gov1", "deny": true, "status": "error",
			"message": "Pipeline does not follow the Policies in these Policy Sets: [deny_all]",
			"details": []any{map[string]any{"identifier": "deny_all", "deny": true, "status": "error"}},
		},
	})
}

// pipelineSchema checks a pipeline against the pipeline schema, as
// PipelineValidationServiceImpl does through PMSYamlSchemaServiceImpl
// .validateYamlSchema before governance and filter creation. It needs no
// lock: the schema is the same whatever the state.
func (s *Server) pipelineSchema(body []byte) *reply {
	var doc any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil // parsePipeline has answered it already
	}
	v, rp := s.schemaViolations(schemaPipeline, doc)
	if rp == nil && len(v) > 0 {
		r := s.schemaFailed(v)
		rp = &r
	}
	return rp
}

// filterCreation runs filter creation's save-time checks of a pipeline's
// stages against existing entities (see stageTypes). update says which
// call it is: a failure comes back differently. The caller holds s.mu.
func (s *Server) filterCreation(sc scope, id string, body []byte, update bool) *reply {
	var doc any
	_ = yaml.Unmarshal(body, &doc)
	msg := s.stageTypes(sc, doc)
	if msg == "" {
		return nil
	}
	if update {
		// PMSPipelineServiceImpl.makePipelineUpdateCall wraps every
		// failure of filter creation.
		rp := s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Error while updating pipeline [%s]: %s", id, msg))
		return &rp
	}
	// validateAndCreatePipeline lets FilterCreatorException through: code
	// FILTER_CREATION_ERROR, default status 400, the filter creators'
	// messages joined (PmsExceptionUtils.checkAndThrowFilterCreatorException).
	// With feature flag PIE_ASYNC_FILTER_CREATION on, Harness runs filter
	// creation after saving instead.
	rp := s.errorDTO(http.StatusBadRequest, "FILTER_CREATION_ERROR", msg)
	return &rp
}

// stageTypes is the save-time check of DeploymentStageFilterJsonCreatorV2
// .addFiltersFromServiceV2 (harness-core 125-cd-nextgen): a Deployment
// stage whose serviceRef names an existing Service must have that
// Service's deployment type ("deploymentType should be the same as in
// service [svc]. Please correct it and try again", an
// InvalidYamlRuntimeException). A stage whose Service does not exist, or
// whose serviceRef is an expression, saves: references are only looked up
// (the Terraform provider's acceptance tests save pipelines whose Service
// exists nowhere). It returns the first failure's message, or "". The
// caller holds s.mu.
func (s *Server) stageTypes(sc scope, doc any) string {
	for _, st := range stagesOf(doc) {
		spec := mapAt(st, "spec")
		ref := str(mapAt(spec, "service"), "serviceRef")
		if ref == "" || strings.Contains(ref, "<+") {
			continue
		}
		svc := s.lookup(sc, KindService, "", ref)
		if svc == nil || svc.typ == "" {
			// A Service without a definition is only logged there.
			continue
		}
		if str(spec, "deploymentType") != svc.typ {
			return fmt.Sprintf("deploymentType should be the same as in service [%s]. Please correct it and try again", ref)
		}
	}
	return ""
}

func (s *Server) create(r *http.Request, sc scope, body []byte) reply {
	p, rp := s.parsePipeline(r, sc, body)
	if rp != nil {
		return *rp
	}
	if rp := s.pipelineSchema(body); rp != nil {
		return *rp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.governance {
		return s.governanceDeny()
	}
	if rp := s.filterCreation(sc, p.Identifier, body, false); rp != nil {
		return *rp
	}
	if s.lookup(sc, KindPipeline, "", p.Identifier) != nil {
		// PMSPipelineServiceImpl's DUP_KEY_EXP_FORMAT_STRING.
		return s.errorDTO(http.StatusBadRequest, "DUPLICATE_FIELD",
			fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] already exists or has been deleted.",
				p.Identifier, sc.project, sc.org))
	}
	now := s.now().UnixMilli()
	e := &entity{kind: KindPipeline, id: p.Identifier, yaml: bytes.Clone(body), name: p.Name, tags: p.Tags,
		version: 1, createdAt: now, updatedAt: now}
	s.store(sc, e)
	s.effect("create", sc, e)
	rp2 := s.success(map[string]any{"identifier": p.Identifier, "governanceMetadata": governanceOK()})
	rp2.effect = true
	return rp2
}

func (s *Server) update(r *http.Request, sc scope, id string, body []byte) reply {
	p, rp := s.parsePipeline(r, sc, body)
	if rp != nil {
		return *rp
	}
	if p.Identifier != id {
		// PMSPipelineDtoMapper.toPipelineEntityWithVersion.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Expected Pipeline identifier in YAML to be [%s], but was [%s]", id, p.Identifier))
	}
	if rp := s.pipelineSchema(body); rp != nil {
		return *rp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.governance {
		return s.governanceDeny()
	}
	// makePipelineUpdateCall runs filter creation before the repository
	// finds out whether the pipeline exists.
	if rp := s.filterCreation(sc, id, body, true); rp != nil {
		return *rp
	}
	cur := s.lookup(sc, KindPipeline, "", id)
	if cur == nil {
		if s.updateMissing == http.StatusNotFound {
			return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
		}
		// The repository's EntityNotFoundException, re-wrapped by
		// PMSPipelineServiceImpl.makePipelineUpdateCall.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Error while updating pipeline [%s]: Pipeline with identifier %s does not exist in account %s, org %s, project %s",
				id, id, sc.account, sc.org, sc.project))
	}
	cur.yaml, cur.name, cur.tags = bytes.Clone(body), p.Name, p.Tags
	cur.version++
	cur.updatedAt = s.now().UnixMilli()
	s.effect("update", sc, cur)
	rp2 := s.success(map[string]any{"identifier": id, "governanceMetadata": governanceOK()})
	rp2.effect = true
	return rp2
}

func (s *Server) get(sc scope, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(sc, KindPipeline, "", id)
	if p == nil {
		return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
	}
	return s.success(map[string]any{
		"yamlPipeline":          string(p.yaml),
		"modules":               []string{"pms"},
		"entityValidityDetails": map[string]any{"valid": true},
		"storeType":             "INLINE",
	})
}

func (s *Server) del(sc scope, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.lookup(sc, KindPipeline, "", id)
	if p == nil {
		switch s.deleteMissing {
		case http.StatusNotFound:
			return s.errorDTO(http.StatusNotFound, "ENTITY_NOT_FOUND", notFoundMessage(sc, id))
		case http.StatusOK:
			return s.success(true)
		}
		// PMSPipelineServiceImpl.delete: findAndRemove finds nothing and the
		// generic catch answers this.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Pipeline [%s] under Project[%s], Organization [%s] could not be deleted.", id, sc.project, sc.org))
	}
	s.drop(sc, KindPipeline, "", id)
	s.effect("delete", sc, p)
	// Deleting a pipeline deletes its triggers: the pipeline's delete event
	// reaches PipelineEntityCRUDStreamListener, which calls
	// NGTriggerService.deleteAllForPipeline (harness-core pipeline-service
	// io/harness/pms/event/entitycrud). Harness does it asynchronously;
	// the stand-in at once.
	for k, t := range s.all(sc, KindTrigger) {
		if t.parent == id {
			delete(s.entities[sc][KindTrigger], k)
			s.cascade(sc, t)
		}
	}
	rp := s.success(true)
	rp.effect = true
	return rp
}

func (s *Server) list(r *http.Request, sc scope, body []byte) reply {
	var filter struct {
		FilterType          string   `json:"filterType"`
		PipelineIdentifiers []string `json:"pipelineIdentifiers"`
	}
	if err := json.Unmarshal(body, &filter); err != nil || filter.FilterType != "PipelineSetup" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "Filter type must be PipelineSetup")
	}
	q := r.URL.Query()
	page, size := 0, 25
	if v := q.Get("page"); v != "" {
		page, _ = strconv.Atoi(v)
	}
	if v := q.Get("size"); v != "" {
		size, _ = strconv.Atoi(v)
	}
	if page < 0 || size <= 0 || size > 200 {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "page must be >= 0 and size between 1 and 200")
	}
	want := map[string]bool{}
	for _, id := range filter.PipelineIdentifiers {
		want[id] = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.all(sc, KindPipeline) {
		if len(want) == 0 || want[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	total := len(ids)
	from, to := min(page*size, total), min((page+1)*size, total)
	content := []any{}
	for _, id := range ids[from:to] {
		p := s.lookup(sc, KindPipeline, "", id)
		var doc struct {
			Pipeline basicPipeline `yaml:"pipeline"`
		}
		_ = yaml.Unmarshal(p.yaml, &doc)
		tags := doc.Pipeline.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		content = append(content, map[string]any{
			"name": doc.Pipeline.Name, "identifier": id, "description": doc.Pipeline.Description, "tags": tags,
			"version": p.version, "numOfStages": len(doc.Pipeline.Stages), "createdAt": p.createdAt,
			"lastUpdatedAt": p.updatedAt, "modules": []string{"pms"}, "storeType": "INLINE",
		})
	}
	totalPages := (total + size - 1) / size
	sortObj := map[string]any{"empty": false, "sorted": true, "unsorted": false}
	// A Spring Data Page, as Jackson writes PageImpl.
	return s.success(map[string]any{
		"content": content,
		"pageable": map[string]any{"sort": sortObj, "offset": page * size, "pageNumber": page, "pageSize": size,
			"paged": true, "unpaged": false},
		"totalElements":    total,
		"totalPages":       totalPages,
		"last":             page >= totalPages-1,
		"size":             size,
		"number":           page,
		"sort":             sortObj,
		"numberOfElements": len(content),
		"first":            page == 0,
		"empty":            len(content) == 0,
	})
}

// stagesOf returns the stage mappings of a decoded pipeline document,
// parallel groups included.
func stagesOf(doc any) []map[string]any {
	root, _ := doc.(map[string]any)
	list, _ := mapAt(root, "pipeline")["stages"].([]any)
	var out []map[string]any
	for _, item := range list {
		m, _ := item.(map[string]any)
		if st := mapAt(m, "stage"); st != nil {
			out = append(out, st)
		}
		par, _ := m["parallel"].([]any)
		for _, p := range par {
			pm, _ := p.(map[string]any)
			if st := mapAt(pm, "stage"); st != nil {
				out = append(out, st)
			}
		}
	}
	return out
}
