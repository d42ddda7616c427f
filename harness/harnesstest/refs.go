package harnesstest

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// referrers counts the entities of sc that reference the entity (k,
// parent, id), which makes Harness refuse to delete it without
// forceDelete. Harness records references as setup usages when an entity
// is saved, whether or not the referenced entity exists yet, and drops
// them when the referring entity changes or goes; computing them from
// what is stored now gives the same answer. The caller holds s.mu.
//
//   - A Service, an Environment and an infrastructure definition are
//     referenced by the pipelines whose stages name them
//     (ServiceEntityServiceImpl.checkThatServiceIsNotReferredByOthers,
//     EnvironmentServiceImpl.checkThatEnvironmentIsNotReferredByOthers,
//     InfrastructureEntitySetupUsageHelper.checkThatInfraIsNotReferredByOthers).
//   - A connector is referenced by every entity whose YAML names it as a
//     connectorRef: a Service's manifest store and artifact sources, an
//     infrastructure definition's cluster, a pipeline's steps
//     (DefaultConnectorServiceImpl.checkThatTheConnectorIsNotUsedByOthers).
//   - A pipeline is referenced by none of what the stand-in holds: its
//     triggers are deleted with it.
func (s *Server) referrers(sc scope, k Kind, parent, id string) int {
	n := 0
	switch k {
	case KindService, KindEnvironment, KindInfrastructure:
		for _, p := range s.all(sc, KindPipeline) {
			var doc any
			if yaml.Unmarshal(p.yaml, &doc) != nil {
				continue
			}
			for _, st := range stagesOf(doc) {
				if stageRefers(mapAt(st, "spec"), k, parent, id) {
					n++
					break
				}
			}
		}
	case KindConnector:
		for _, kind := range []Kind{KindService, KindEnvironment, KindInfrastructure, KindPipeline, KindTrigger} {
			for _, e := range s.all(sc, kind) {
				var doc any
				if yaml.Unmarshal(e.yaml, &doc) == nil && namesConnector(doc, id) {
					n++
				}
			}
		}
	}
	return n
}

// stageRefers reports whether a Deployment stage's spec names the entity.
// Expressions and refs of another scope ("account.x", "org.x") name no
// entity of the project.
func stageRefers(spec map[string]any, k Kind, parent, id string) bool {
	env := mapAt(spec, "environment")
	switch k {
	case KindService:
		return str(mapAt(spec, "service"), "serviceRef") == id
	case KindEnvironment:
		return str(env, "environmentRef") == id
	case KindInfrastructure:
		if str(env, "environmentRef") != parent {
			return false
		}
		list, _ := env["infrastructureDefinitions"].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			if str(m, "identifier") == id {
				return true
			}
		}
	}
	return false
}

// namesConnector reports whether a decoded document holds connectorRef: id
// anywhere.
func namesConnector(v any, id string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "connectorRef" && s == id {
				return true
			}
			if namesConnector(e, id) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if namesConnector(e, id) {
				return true
			}
		}
	}
	return false
}

// entities is "entity" or "entities", as Harness's reference messages
// write the count.
func entities(n int) string {
	if n > 1 {
		return "entities"
	}
	return "entity"
}

// isExpression reports whether a value is a Harness expression or
// runtime input rather than a literal.
func isExpression(v string) bool { return strings.Contains(v, "<+") }
