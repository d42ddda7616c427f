package harnesstest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Expressions: the part of Harness's expression engine a run of the
// stand-in needs. An expression is "<+name>"; the names resolved are
// listed on evalCtx.lookup. A name nothing answers stays unresolved, and a
// string whose expressions do not all resolve fails where it is used with
// "Unresolved expressions: …", UnresolvedExpressionsException's message
// (harness-core 980-commons io/harness/exception/
// UnresolvedExpressionsException.java), which the engine throws when it
// renders in THROW_EXCEPTION_IF_UNRESOLVED mode, as it does for values
// files (K8sHelmCommonStepHelper.getValuesFileContents renders with
// skipUnresolvedExpressionsCheck false).

var exprRE = regexp.MustCompile(`<\+([^<>]*)>`)

// evalCtx is what expressions of one stage of a run can read. Fields are
// filled as the stage proceeds, so an expression that needs a later part
// (the artifact, say) is unresolved before it.
type evalCtx struct {
	pipelineID, pipelineName, executionID string
	sequenceID                            int
	variables                             map[string]any // pipeline.variables, after the merge
	trigger                               *triggerContext
	stageID, stageName                    string

	service  map[string]string // identifier, name
	env      map[string]string // identifier, name, type
	infra    map[string]string // namespace, releaseName, connectorRef, infraIdentifier, infraName, infrastructureKey(Short)
	artifact map[string]string // image, tag, imagePath, connectorRef, registryHostname, identifier, type
	depth    int
}

// triggerContext is what TriggerFunctor exposes of the event that started
// a run (harness-core pipeline-service/modules/ng-triggers
// io/harness/ngtriggers/expressions/functors/TriggerFunctor.java): payload
// is the JSON payload parsed to a map, else a list, else the raw string.
type triggerContext struct {
	identifier string
	payload    any
	raw        string
	header     map[string]string
}

// render replaces every expression in s and returns the result and the
// expressions that did not resolve, each as written ("<+…>").
func (c *evalCtx) render(s string) (string, []string) {
	var unresolved []string
	out := exprRE.ReplaceAllStringFunc(s, func(m string) string {
		name := strings.TrimSpace(m[2 : len(m)-1])
		v, ok := c.lookup(name)
		if !ok {
			unresolved = append(unresolved, m)
			return m
		}
		return v
	})
	return out, unresolved
}

// resolve renders s and fails when an expression stays unresolved.
func (c *evalCtx) resolve(s string) (string, error) {
	out, unresolved := c.render(s)
	if len(unresolved) > 0 {
		return "", fmt.Errorf("Unresolved expressions: %s", strings.Join(unresolved, ", "))
	}
	return out, nil
}

// lookup answers one expression name. It reads:
//   - pipeline.identifier, .name, .executionId, .sequenceId and
//     pipeline.variables.<name> (a variable whose value is itself an
//     expression is rendered in turn);
//   - trigger.payload.<path> (dotted keys into the JSON payload),
//     trigger.eventPayload, trigger.header.<name>, trigger.triggerIdentifier
//     (TriggerFunctor);
//   - stage.identifier, stage.name;
//   - service.identifier, service.name; env.identifier, env.name, env.type;
//     infra.namespace, infra.releaseName, infra.connectorRef,
//     infra.infraIdentifier, infra.infraName, infra.infrastructureKey,
//     infra.infrastructureKeyShort (the service, environment and
//     infrastructure outcomes), and INFRA_KEY and INFRA_KEY_SHORT_ID, the
//     aliases of the last two;
//   - artifacts.primary.<field> and its older alias artifact.<field>:
//     image, tag, imagePath, connectorRef, registryHostname, identifier,
//     type (the primary artifact's outcome, DockerArtifactOutcome and
//     GcrArtifactOutcome).
//
// "<+input>" never resolves.
func (c *evalCtx) lookup(name string) (string, bool) {
	parts := strings.Split(name, ".")
	field := func(m map[string]string, k string) (string, bool) {
		v, ok := m[k]
		return v, ok && v != ""
	}
	switch {
	case len(parts) == 2 && parts[0] == "pipeline":
		switch parts[1] {
		case "identifier":
			return c.pipelineID, true
		case "name":
			return c.pipelineName, true
		case "executionId":
			return c.executionID, true
		case "sequenceId":
			return strconv.Itoa(c.sequenceID), true
		}
	case len(parts) == 3 && parts[0] == "pipeline" && parts[1] == "variables":
		v, ok := c.variables[parts[2]]
		if !ok || v == nil || isRuntimeInput(v) {
			return "", false
		}
		s := yamlScalar(v)
		if exprRE.MatchString(s) {
			if c.depth > 10 {
				return "", false
			}
			c.depth++
			defer func() { c.depth-- }()
			r, unresolved := c.render(s)
			if len(unresolved) > 0 {
				return "", false
			}
			return r, true
		}
		return s, true
	case len(parts) >= 2 && parts[0] == "trigger" && c.trigger != nil:
		switch {
		case parts[1] == "payload" && len(parts) > 2:
			return walkJSON(c.trigger.payload, parts[2:])
		case parts[1] == "eventPayload" && len(parts) == 2:
			return c.trigger.raw, true
		case parts[1] == "triggerIdentifier" && len(parts) == 2:
			return c.trigger.identifier, true
		case parts[1] == "header" && len(parts) == 3:
			for k, v := range c.trigger.header {
				if strings.EqualFold(k, parts[2]) {
					return v, true
				}
			}
		}
	case len(parts) == 2 && parts[0] == "stage":
		switch parts[1] {
		case "identifier":
			return c.stageID, c.stageID != ""
		case "name":
			return c.stageName, c.stageName != ""
		}
	case len(parts) == 2 && parts[0] == "service":
		return field(c.service, parts[1])
	case len(parts) == 2 && parts[0] == "env":
		return field(c.env, parts[1])
	case len(parts) == 2 && parts[0] == "infra":
		return field(c.infra, parts[1])
	case len(parts) == 1 && parts[0] == "INFRA_KEY":
		// Static aliases of the infrastructure outcome's keys
		// (NextGenApplication.getStaticAliases in harness-core's
		// ng-manager: INFRA_KEY → …output.infrastructureKey,
		// INFRA_KEY_SHORT_ID → …output.infrastructureKeyShort).
		return field(c.infra, "infrastructureKey")
	case len(parts) == 1 && parts[0] == "INFRA_KEY_SHORT_ID":
		return field(c.infra, "infrastructureKeyShort")
	case len(parts) == 3 && parts[0] == "artifacts" && parts[1] == "primary":
		return field(c.artifact, parts[2])
	case len(parts) == 2 && parts[0] == "artifact":
		return field(c.artifact, parts[1])
	}
	return "", false
}

// walkJSON follows keys into decoded JSON and returns the value as text:
// a scalar as written, an object or array as JSON.
func walkJSON(v any, keys []string) (string, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return "", false
		}
		if v, ok = m[k]; !ok {
			return "", false
		}
	}
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case map[string]any, []any:
		b, _ := json.Marshal(v)
		return string(b), true
	}
	return yamlScalar(v), true
}

// yamlScalar writes a decoded scalar as YAML or JSON text would hold it.
func yamlScalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case json.Number:
		return v.String()
	}
	return fmt.Sprint(v)
}
