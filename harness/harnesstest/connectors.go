package harnesstest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Connectors: ConnectorResource (@Path("/connectors"), harness-core
// 440-connector-nextgen), implemented by DefaultConnectorServiceImpl.
// Create and update take ConnectorDTO as JSON, {"connector":
// ConnectorInfoDTO}, and the scope is the one the connector names; get,
// delete and list take it from the query.

// routeConnectors dispatches /ng/api/connectors[/<id>].
func (s *Server) routeConnectors(r *http.Request, qs scope, id string, body []byte) (reply, bool) {
	switch {
	case id == "" && r.Method == http.MethodPost:
		return s.saveConnector(r, body, false), true
	case id == "" && r.Method == http.MethodPut:
		return s.saveConnector(r, body, true), true
	case id == "listV2" && r.Method == http.MethodPost:
		return s.listConnectors(r, qs, body), true
	case id != "" && r.Method == http.MethodGet:
		return s.getConnector(qs, id), true
	case id != "" && r.Method == http.MethodDelete:
		return s.deleteConnector(r, qs, id), true
	}
	return reply{}, false
}

// secretFields are the @SecretReference fields of the GitHub connector's
// credentials and API access DTOs (GithubAppDTO and GithubAppSpecDTO:
// privateKeyRef, installationIdRef, applicationIdRef;
// GithubUsernameTokenDTO: usernameRef, tokenRef; GithubTokenSpecDTO:
// tokenRef; GithubUsernamePasswordDTO: usernameRef, passwordRef;
// GithubSshCredentialsDTO: sshKeyRef), in harness-core 954-connector-beans.
var secretFields = map[string]bool{
	"privateKeyRef": true, "installationIdRef": true, "applicationIdRef": true,
	"usernameRef": true, "tokenRef": true, "passwordRef": true, "sshKeyRef": true,
}

func (s *Server) saveConnector(r *http.Request, body []byte, update bool) reply {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var dto struct {
		Connector map[string]any `json:"connector"`
	}
	if err := dec.Decode(&dto); err != nil {
		return s.failure(http.StatusBadRequest, "INVALID_REQUEST", "Unable to process JSON: "+err.Error())
	}
	info, _ := plainNumbers(dto.Connector).(map[string]any)
	if info == nil {
		// ConnectorDTO.connectorInfo is @NotNull, checked by @Valid.
		return s.failureDTO([]string{"connector"})
	}
	var missing []string
	for _, f := range []string{"name", "identifier"} {
		if str(info, f) == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		// ConnectorInfoDTO's @NotNull name and identifier.
		return s.failureDTO(missing)
	}
	if str(info, "type") == "" {
		// ConnectorResource.create.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "Connector type cannot be null")
	}
	if str(info, "type") == "Github" {
		if fields := githubSpecProblems(mapAt(info, "spec")); len(fields) > 0 {
			return s.failureDTO(nil, fields...)
		}
	}
	sc := scope{r.URL.Query().Get("accountIdentifier"), str(info, "orgIdentifier"), str(info, "projectIdentifier")}
	id := str(info, "identifier")
	src, _ := yaml.Marshal(map[string]any{"connector": info})
	e := &entity{kind: KindConnector, id: id, yaml: src, name: str(info, "name"), description: str(info, "description"),
		tags: tagsOf(info), typ: str(info, "type"), connector: info}

	s.mu.Lock()
	defer s.mu.Unlock()
	// DefaultConnectorServiceImpl.assurePredefined, first in create and
	// update: every secret the connector references must exist
	// (assureThatTheSecretIsValidAndItExists →
	// SecretRefInputValidationHelper.validateTheSecretInput).
	if msg := s.missingSecret(sc, info); msg != "" {
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", msg)
	}
	old := s.lookup(sc, KindConnector, "", id)
	now := s.now().UnixMilli()
	verb := "create"
	switch {
	case !update && old != nil:
		// createInternal checks uniqueness first.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf(
			"Connector: %s has been given an identifier: %s that already exists. Please enter a unique ID.", e.name, id))
	case update && old == nil:
		// DefaultConnectorServiceImpl.update (the double space is Harness's).
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST", "No connector exists with the  Identifier "+id)
	case update:
		verb = "update"
		e.createdAt, e.version = old.createdAt, old.version+1
	default:
		e.createdAt, e.version = now, 1
	}
	e.updatedAt = now
	s.store(sc, e)
	s.effect(verb, sc, e)
	rp := s.success(s.connectorResponse(e))
	rp.effect = true
	return rp
}

// githubSpecProblems checks a GitHub connector's spec as @Valid checks
// GithubConnectorDTO and its credentials: url, connection type and
// authentication are @NotNull; a GitHub App's privateKeyRef is @NotNull,
// and exactly one of installationId and installationIdRef, and of
// applicationId and applicationIdRef, is given (@OneOfField on GithubAppDTO
// and GithubAppSpecDTO). Field names are the stand-in's.
func githubSpecProblems(spec map[string]any) []fieldError {
	var out []fieldError
	for _, f := range []string{"url", "type", "authentication"} {
		if spec[f] == nil {
			out = append(out, fieldError{"connector.spec." + f, "must not be null"})
		}
	}
	auth := mapAt(spec, "authentication")
	creds := mapAt(auth, "spec")
	if str(auth, "type") == "Http" && str(creds, "type") == "GithubApp" {
		out = append(out, githubAppProblems("connector.spec.authentication.spec.spec", mapAt(creds, "spec"))...)
	}
	if api := mapAt(spec, "apiAccess"); str(api, "type") == "GithubApp" {
		out = append(out, githubAppProblems("connector.spec.apiAccess.spec", mapAt(api, "spec"))...)
	}
	return out
}

func githubAppProblems(at string, app map[string]any) []fieldError {
	var out []fieldError
	if str(app, "privateKeyRef") == "" {
		out = append(out, fieldError{at + ".privateKeyRef", "must not be null"})
	}
	for _, pair := range [][2]string{{"installationId", "installationIdRef"}, {"applicationId", "applicationIdRef"}} {
		n := 0
		for _, f := range pair {
			if app[f] != nil && fmt.Sprint(app[f]) != "" {
				n++
			}
		}
		if n != 1 {
			out = append(out, fieldError{at + "." + pair[0], fmt.Sprintf("exactly one of %s and %s must be given", pair[0], pair[1])})
		}
	}
	return out
}

// missingSecret returns the message Harness gives for the first secret
// reference of a connector that names no secret, or "". It checks the
// fields in secretFields wherever they sit in the spec. The message is
// "Error while validating <field> field : " and
// SecretRefInputValidationHelper.validateTheSecretIsPresent's "No secret
// exists with the id %s %s", whose second part names the secret's own org
// and project scope. The caller holds s.mu.
func (s *Server) missingSecret(sc scope, info map[string]any) string {
	var refs [][2]string // field, ref
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if ref, ok := v[k].(string); ok && secretFields[k] && ref != "" {
					refs = append(refs, [2]string{k, ref})
					continue
				}
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(mapAt(info, "spec"))
	for _, fr := range refs {
		field, ref := fr[0], fr[1]
		k, err := secretKey(sc.account, sc.org, sc.project, ref)
		if err != nil {
			return fmt.Sprintf("Error while validating %s field : %s", field, err.Error())
		}
		if _, ok := s.secrets[k]; ok {
			continue
		}
		id, where := ref, ""
		switch {
		case strings.HasPrefix(ref, "account."):
			id = strings.TrimPrefix(ref, "account.")
		case strings.HasPrefix(ref, "org."):
			id, where = strings.TrimPrefix(ref, "org."), " in organization "+sc.org
		default:
			where = " in organization " + sc.org + " in project " + sc.project
		}
		return fmt.Sprintf("Error while validating %s field : No secret exists with the id %s %s", field, id, where)
	}
	return ""
}

// connectorResponse is ConnectorResponseDTO. Jackson writes every field
// of ConnectorInfoDTO and of GithubConnectorDTO, so fields the request
// left out come back as null or empty (inferred from the DTOs, which set
// no @JsonInclude); the client must not read that as a change.
func (s *Server) connectorResponse(e *entity) map[string]any {
	info := maps.Clone(e.connector)
	for k, v := range map[string]any{"description": nil, "orgIdentifier": nil, "projectIdentifier": nil, "tags": map[string]any{}} {
		if _, ok := info[k]; !ok {
			info[k] = v
		}
	}
	if spec := mapAt(info, "spec"); spec != nil && e.typ == "Github" {
		spec = maps.Clone(spec)
		for k, v := range map[string]any{"validationRepo": nil, "apiAccess": nil, "delegateSelectors": []any{}} {
			if _, ok := spec[k]; !ok {
				spec[k] = v
			}
		}
		info["spec"] = spec
	}
	return map[string]any{
		"connector": info, "createdAt": e.createdAt, "lastModifiedAt": e.updatedAt,
		"status": map[string]any{"status": "UNKNOWN", "errorSummary": nil, "errors": nil, "testedAt": 0,
			"lastTestedAt": 0, "lastConnectedAt": 0, "lastAlertSent": 0},
		"activityDetails": map[string]any{"lastActivityTime": e.updatedAt}, "harnessManaged": false,
		"gitDetails": map[string]any{}, "entityValidityDetails": map[string]any{"valid": true, "invalidYaml": nil},
		"governanceMetadata": nil, "isFavorite": false,
	}
}

func (s *Server) getConnector(sc scope, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(sc, KindConnector, "", id)
	if e == nil {
		// ConnectorResource.get: NotFoundException, 400
		// RESOURCE_NOT_FOUND_EXCEPTION, worded per scope.
		msg := fmt.Sprintf("Connector with identifier [%s] not found in project [%s] and org [%s].", id, sc.project, sc.org)
		switch {
		case sc.org == "":
			msg = fmt.Sprintf("Connector with identifier [%s] not found in account [%s].", id, sc.account)
		case sc.project == "":
			msg = fmt.Sprintf("Connector with identifier [%s] not found in org [%s].", id, sc.org)
		}
		return s.failure(http.StatusBadRequest, "RESOURCE_NOT_FOUND_EXCEPTION", msg)
	}
	return s.success(s.connectorResponse(e))
}

func (s *Server) deleteConnector(r *http.Request, sc scope, id string) reply {
	if r.URL.Query().Get("forceDelete") == "true" {
		// DefaultConnectorServiceImpl.delete, with the account setting off
		// (its default).
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("Parameter forcedDelete cannot be true. Force Delete is not enabled for account [%s]", sc.account))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(sc, KindConnector, "", id)
	if e == nil {
		// ConnectorErrorMessagesHelper.createConnectorNotFoundMessage.
		return s.errorDTO(http.StatusBadRequest, "INVALID_REQUEST",
			fmt.Sprintf("No connector exists with the identifier %s in account %s, organisation %s, project %s",
				id, sc.account, sc.org, sc.project))
	}
	if s.referrers(sc, KindConnector, "", id) > 0 {
		// DefaultConnectorServiceImpl.checkThatTheConnectorIsNotUsedByOthers.
		return s.errorDTO(http.StatusBadRequest, "ENTITY_REFERENCE_EXCEPTION",
			fmt.Sprintf("Could not delete the connector %s as it is referenced by other entities", id))
	}
	s.drop(sc, KindConnector, "", id)
	s.effect("delete", sc, e)
	rp := s.success(true)
	rp.effect = true
	return rp
}

// listConnectors answers POST /ng/api/connectors/listV2. The body is a
// ConnectorFilterPropertiesDTO, which Jackson recognises by filterType
// "Connector" (FilterConstants.CONNECTOR_FILTER); paging is PageRequest's
// pageIndex and pageSize (default 50, @Max(100)).
func (s *Server) listConnectors(r *http.Request, sc scope, body []byte) reply {
	var filter struct {
		FilterType string `json:"filterType"`
	}
	if err := json.Unmarshal(body, &filter); err != nil || filter.FilterType != "Connector" {
		return s.failure(http.StatusBadRequest, "INVALID_REQUEST", "Unable to process JSON: the filter's filterType must be Connector")
	}
	page, size, rp := s.pageParams(r.URL.Query(), "pageIndex", "pageSize", 50, 100)
	if rp != nil {
		return *rp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := s.all(sc, KindConnector)
	var items []any
	for _, k := range sortedKeys(all) {
		items = append(items, s.connectorResponse(all[k]))
	}
	return s.success(pageResponse(items, page, size))
}

// plainNumbers turns json.Number values into int64 where they are whole,
// else float64, as YAML would read the same numbers.
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
