package render

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// entityRule is what the structure check knows of a kind other than
// pipelines: the keys its root object may hold (Harness's YAML classes:
// NGServiceV2InfoConfig, NGEnvironmentInfoConfig,
// InfrastructureDefinitionConfig, NGTriggerConfigV2) and those this
// application requires.
type entityRule struct {
	keys     []string
	required []string
	// enums are keys whose value must be one of the listed strings.
	enums map[string][]string
}

var entityRules = map[Kind]entityRule{
	KindService: {
		keys:     []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "description", "tags", "serviceDefinition", "gitOpsEnabled"},
		required: []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "tags", "serviceDefinition"},
	},
	KindEnvironment: {
		keys:     []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "description", "color", "tags", "type", "variables", "overrides"},
		required: []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "tags", "type"},
		enums:    map[string][]string{"type": {"PreProduction", "Production"}},
	},
	KindInfrastructure: {
		keys: []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "description", "tags", "environmentRef",
			"deploymentType", "type", "spec", "allowSimultaneousDeployments", "scopedServices"},
		required: []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "tags", "environmentRef", "deploymentType", "type", "spec"},
	},
	KindTrigger: {
		keys: []string{"name", "identifier", "description", "orgIdentifier", "projectIdentifier", "pipelineIdentifier", "tags",
			"inputYaml", "pipelineBranchName", "inputSetRefs", "enabled", "encryptedWebhookSecretIdentifier", "stagesToExecute", "source"},
		required: []string{"name", "identifier", "orgIdentifier", "projectIdentifier", "pipelineIdentifier", "tags", "source"},
	},
}

// entityStructure checks an entity of kind k other than a pipeline: its
// one root key, its keys, required keys, identifier, scope and the
// managed_by tag.
func (c *checker) entityStructure(k Kind, doc *yaml.Node) {
	rk, v := c.root(doc, k.RootKey())
	if v == nil {
		return
	}
	rule := entityRules[k]
	ptr := []string{k.RootKey()}
	what := kindNoun(k)
	c.requireKeys(v, ptr, rk.Line, what, rule.required...)
	for i := 0; i+1 < len(v.Content); i += 2 {
		key := v.Content[i]
		if !slices.Contains(rule.keys, key.Value) {
			c.add(with(ptr, key.Value), key.Line, "Harness has no key %q in %s", key.Value, what)
		}
	}
	for key, allowed := range rule.enums {
		if _, val := mappingGet(v, key); val != nil && !slices.Contains(allowed, val.Value) {
			c.add(with(ptr, key), val.Line, "%s must be one of %s, not %q", key, strings.Join(allowed, ", "), val.Value)
		}
	}
	c.identifier(v, ptr, strings.TrimPrefix(what, "the "), MaxIdentifierLen)
	c.scope(v, ptr)
	c.managedBy(v, ptr, what)
}

// root checks that doc is a mapping whose one key is key, and returns that
// key's nodes; nil when it is not.
func (c *checker) root(doc *yaml.Node, key string) (k, v *yaml.Node) {
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		c.add(nil, root.Line, "the output must be a mapping with the single key %s", key)
		return nil, nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if rk := root.Content[i]; rk.Value != key {
			c.add([]string{rk.Value}, rk.Line, "unknown top-level key %q: this file holds only %s:", rk.Value, key)
		}
	}
	k, v = mappingGet(root, key)
	if v == nil || v.Kind != yaml.MappingNode {
		c.add([]string{key}, root.Line, "the output has no %s: mapping", key)
		return nil, nil
	}
	return k, v
}

// scope checks orgIdentifier and projectIdentifier.
func (c *checker) scope(v *yaml.Node, ptr []string) {
	for _, key := range []string{"orgIdentifier", "projectIdentifier"} {
		if _, s := mappingGet(v, key); s != nil && s.Kind == yaml.ScalarNode {
			if why := checkIdentifier(s.Value, 128); why != "" {
				c.add(with(ptr, key), s.Line, "%s %q %s", key, s.Value, why)
			}
		}
	}
}

// managedBy checks the tag by which the application recognises its
// entities in Harness.
func (c *checker) managedBy(v *yaml.Node, ptr []string, what string) {
	tk, tags := mappingGet(v, "tags")
	if tags == nil {
		return
	}
	if _, m := mappingGet(tags, ManagedByTag); m == nil || m.Value != ManagedByValue {
		c.add(with(ptr, "tags"), tk.Line, "%s must carry the tag %s: %s, by which the application recognises its entities in Harness", what, ManagedByTag, ManagedByValue)
	}
}

// kindNoun names an entity of kind k in messages: "the Service".
func kindNoun(k Kind) string {
	switch k {
	case KindService:
		return "the Service"
	case KindInfrastructure:
		return "the infrastructure definition"
	}
	return "the " + string(k)
}
