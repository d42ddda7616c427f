package harnesstest

import (
	"bytes"
	"fmt"
	"maps"
	"strings"

	"gopkg.in/yaml.v3"
)

// Kind names a kind of entity the stand-in holds. The values are those
// of harness.Kind.
type Kind string

// The kinds of entity the stand-in holds.
const (
	KindService        Kind = "service"
	KindEnvironment    Kind = "environment"
	KindInfrastructure Kind = "infrastructure"
	KindPipeline       Kind = "pipeline"
	KindTrigger        Kind = "trigger"
	KindConnector      Kind = "connector"
)

// rootKey is the key under which an entity's YAML holds its fields.
func (k Kind) rootKey() string {
	if k == KindInfrastructure {
		return "infrastructureDefinition"
	}
	return string(k)
}

// parentKey is the YAML field naming an entity's parent: the environment
// of an infrastructure definition, the pipeline of a trigger.
func (k Kind) parentKey() string {
	switch k {
	case KindInfrastructure:
		return "environmentRef"
	case KindTrigger:
		return "pipelineIdentifier"
	}
	return ""
}

// entity is one stored entity of any kind.
type entity struct {
	kind   Kind
	id     string
	parent string // environment of an infrastructure definition, pipeline of a trigger
	// yaml is the entity's YAML as stored and answered. A connector has no
	// YAML in Harness: its yaml is its JSON object under "connector:",
	// kept so that Entities can show it.
	yaml        []byte
	name        string
	description string
	tags        map[string]string
	// typ is a service's serviceDefinition.type, an environment's type, an
	// infrastructure definition's type, a connector's type.
	typ string
	// deploymentType is an infrastructure definition's.
	deploymentType string
	// connector is a connector's ConnectorInfoDTO as sent.
	connector map[string]any
	// Triggers.
	enabled       bool
	token         string // custom webhook token, set at creation
	validation    string // why the trigger was disabled; "" when valid
	withServiceV2 bool

	version, createdAt, updatedAt int64
}

// key is the entity's key among those of its kind in a scope: its
// identifier, prefixed by its parent where the kind has one.
func key(parent, id string) string {
	if parent == "" {
		return id
	}
	return parent + "/" + id
}

// lookup returns the entity, or nil. The caller holds s.mu.
func (s *Server) lookup(sc scope, k Kind, parent, id string) *entity {
	return s.entities[sc][k][key(parent, id)]
}

// store saves e, replacing any entity with its key. The caller holds s.mu.
func (s *Server) store(sc scope, e *entity) {
	byKind := s.entities[sc]
	if byKind == nil {
		byKind = make(map[Kind]map[string]*entity)
		s.entities[sc] = byKind
	}
	if byKind[e.kind] == nil {
		byKind[e.kind] = make(map[string]*entity)
	}
	byKind[e.kind][key(e.parent, e.id)] = e
}

// drop removes an entity. The caller holds s.mu.
func (s *Server) drop(sc scope, k Kind, parent, id string) {
	delete(s.entities[sc][k], key(parent, id))
}

// all returns the entities of kind k in sc. The caller holds s.mu.
func (s *Server) all(sc scope, k Kind) map[string]*entity {
	return s.entities[sc][k]
}

// effect records a change made through the API: verb is "create",
// "update" or "delete". The caller holds s.mu.
func (s *Server) effect(verb string, sc scope, e *entity) {
	ef := Effect{Kind: verb, Entity: e.kind, Account: sc.account, Org: sc.org, Project: sc.project,
		ID: e.id, Parent: e.parent}
	if verb != "delete" {
		ef.YAML = bytes.Clone(e.yaml)
	}
	s.effects = append(s.effects, ef)
}

// cascade records the delete of e made because of another delete. The
// caller holds s.mu.
func (s *Server) cascade(sc scope, e *entity) {
	s.effects = append(s.effects, Effect{Kind: "delete", Entity: e.kind, Account: sc.account, Org: sc.org,
		Project: sc.project, ID: e.id, Parent: e.parent, Cascade: true})
}

// Entities returns a copy of the entities of kind in org and project of the
// server's account: their YAML by key, the key being the identifier, or
// "<environment>/<identifier>" for an infrastructure definition and
// "<pipeline>/<identifier>" for a trigger. A connector's YAML is its JSON
// object under "connector:".
func (s *Server) Entities(kind Kind, org, project string) map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte)
	for k, e := range s.all(scope{s.account, org, project}, kind) {
		out[k] = bytes.Clone(e.yaml)
	}
	return out
}

// PutEntity stores an entity directly, as a change made behind the
// application's back (in the Harness UI, say), replacing any entity with
// the same key. The identifier and the parent come from the YAML (root
// key as Harness names it: infrastructureDefinition for
// KindInfrastructure). Nothing is checked beyond that, a trigger gets a
// webhook token as on creation, and it is not an Effect.
func (s *Server) PutEntity(kind Kind, org, project string, yamlSrc []byte) error {
	e, err := entityFromYAML(kind, yamlSrc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope{s.account, org, project}
	now := s.now().UnixMilli()
	e.createdAt, e.updatedAt, e.version = now, now, 1
	if old := s.lookup(sc, kind, e.parent, e.id); old != nil {
		e.createdAt, e.version, e.token = old.createdAt, old.version+1, old.token
	}
	if kind == KindTrigger && e.token == "" && isCustomWebhook(e.yaml) {
		e.token = s.newToken()
	}
	s.store(sc, e)
	return nil
}

// DeleteEntity removes an entity directly, behind the application's back,
// by its key as Entities gives it. It is not an Effect, and nothing else
// is deleted with it.
func (s *Server) DeleteEntity(kind Kind, org, project, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entities[scope{s.account, org, project}][kind], key)
}

// entityFromYAML reads what every kind's record needs from its YAML.
func entityFromYAML(kind Kind, src []byte) (*entity, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("harnesstest: %s yaml: %w", kind, err)
	}
	info, ok := doc[kind.rootKey()].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("harnesstest: %s yaml has no %s: mapping", kind, kind.rootKey())
	}
	e := &entity{kind: kind, yaml: bytes.Clone(src), id: str(info, "identifier"), name: str(info, "name"),
		description: str(info, "description"), tags: tagsOf(info), enabled: true}
	if e.id == "" {
		return nil, fmt.Errorf("harnesstest: %s yaml has no identifier", kind)
	}
	if pk := kind.parentKey(); pk != "" {
		if e.parent = str(info, pk); e.parent == "" {
			return nil, fmt.Errorf("harnesstest: %s yaml has no %s", kind, pk)
		}
	}
	switch kind {
	case KindService:
		e.typ = str(mapAt(info, "serviceDefinition"), "type")
	case KindEnvironment, KindConnector:
		e.typ = str(info, "type")
	case KindInfrastructure:
		e.typ, e.deploymentType = str(info, "type"), str(info, "deploymentType")
	case KindTrigger:
		if v, ok := info["enabled"].(bool); ok {
			e.enabled = v
		}
	}
	if kind == KindConnector {
		e.connector = info
	}
	return e, nil
}

// Pipelines returns a copy of the pipelines of org and project in the
// server's account, by identifier.
func (s *Server) Pipelines(org, project string) map[string][]byte {
	return s.Entities(KindPipeline, org, project)
}

// PutPipeline stores a pipeline directly, as a change made behind the
// application's back (in the Harness UI, say). It is not an Effect. Unlike
// PutEntity it takes the identifier as given, so that tests can store
// YAML Harness would refuse.
func (s *Server) PutPipeline(org, project, id string, yamlSrc []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope{s.account, org, project}
	now := s.now().UnixMilli()
	if p := s.lookup(sc, KindPipeline, "", id); p != nil {
		p.yaml, p.updatedAt = bytes.Clone(yamlSrc), now
		p.version++
		return
	}
	s.store(sc, &entity{kind: KindPipeline, id: id, yaml: bytes.Clone(yamlSrc), version: 1, createdAt: now, updatedAt: now})
}

// DeletePipeline removes a pipeline directly, behind the application's back.
// It is not an Effect.
//
// Its triggers go with it, as with a delete through the API (see
// deletePipeline); nothing is recorded in Effects.
func (s *Server) DeletePipeline(org, project, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := scope{s.account, org, project}
	delete(s.entities[sc][KindPipeline], id)
	for k, t := range s.all(sc, KindTrigger) {
		if t.parent == id {
			delete(s.entities[sc][KindTrigger], k)
		}
	}
}

// TriggerWebhookToken returns the custom webhook token Harness gave the
// trigger id of pipeline at creation, which fires it through
// POST /pipeline/api/webhook/custom/{token}/v3; false when there is no
// such trigger or it is no custom webhook trigger.
func (s *Server) TriggerWebhookToken(org, project, pipeline, id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.lookup(scope{s.account, org, project}, KindTrigger, pipeline, id)
	if e == nil || e.token == "" {
		return "", false
	}
	return e.token, true
}

// PutSecret stores a secret at account scope, as if created in Harness:
// ref is the reference a connector writes, "account.<identifier>" (for
// example "account.po_github_app_key" holding the GitHub App's private
// key). It panics on a reference of another scope; use PutScopedSecret.
func (s *Server) PutSecret(ref, value string) {
	id, ok := strings.CutPrefix(ref, "account.")
	if !ok || id == "" {
		panic(fmt.Sprintf("harnesstest: PutSecret(%q): not an account secret reference (account.<id>)", ref))
	}
	s.PutScopedSecret("", "", ref, value)
}

// PutScopedSecret stores a secret for the reference ref as a connector of
// org and project would write it: "account.<id>", "org.<id>" (a secret of
// org) or "<id>" (a secret of the project). It panics on a reference
// Harness would refuse.
func (s *Server) PutScopedSecret(org, project, ref, value string) {
	k, err := secretKey(s.account, org, project, ref)
	if err != nil {
		panic("harnesstest: PutScopedSecret: " + err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[k] = value
}

// SecretValue returns the value of the secret ref resolves to for an
// entity of org and project; false when there is none.
func (s *Server) SecretValue(org, project, ref string) (string, bool) {
	k, err := secretKey(s.account, org, project, ref)
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.secrets[k]
	return v, ok
}

// secretKey resolves a secret reference for an entity of org and project
// as SecretRefData reads it: "account.<id>" and "org.<id>" name the
// account's and the org's secrets, a bare "<id>" the project's, and an
// explicit "project." prefix is refused (harness-core 970-ng-commons
// io/harness/encryption/SecretRefData.java).
func secretKey(account, org, project, ref string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "account."):
		return "account/" + account + "/" + strings.TrimPrefix(ref, "account."), nil
	case strings.HasPrefix(ref, "org."):
		if org == "" {
			return "", fmt.Errorf("the org level secret %q cannot be used at account level", ref)
		}
		return "org/" + account + "/" + org + "/" + strings.TrimPrefix(ref, "org."), nil
	case strings.HasPrefix(ref, "project.") || ref == "" || strings.Contains(ref, "/"):
		return "", fmt.Errorf("Invalid Secret Reference %q", ref)
	}
	if org == "" || project == "" {
		return "", fmt.Errorf("the project level secret %q cannot be used outside a project", ref)
	}
	return "project/" + account + "/" + org + "/" + project + "/" + ref, nil
}

// str returns a string field of a decoded mapping, or "".
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// mapAt returns a mapping field of a decoded mapping, or nil.
func mapAt(m map[string]any, k string) map[string]any {
	v, _ := m[k].(map[string]any)
	return v
}

// tagsOf reads a tags map of string to string.
func tagsOf(info map[string]any) map[string]string {
	raw, ok := info["tags"].(map[string]any)
	if !ok {
		return map[string]string{}
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if v == nil {
			out[k] = ""
			continue
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}

func cloneTags(t map[string]string) map[string]string {
	if t == nil {
		return map[string]string{}
	}
	return maps.Clone(t)
}
