package render

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Harness merges runtime inputs (a stage's serviceInputs, an
// infrastructure's inputs, a trigger's inputYaml) into an entity's YAML
// with MergeHelper.mergeRuntimeInputValuesAndCheckForRuntimeInOriginalYaml
// (ServiceStepV3.mergeServiceInputsIntoService): a value is applied only
// where the entity holds a runtime input, <+input>; a value for a field the
// entity fixes is dropped without a word, and so is one for a field the
// entity does not have. Lists of objects merge element by element, the
// elements matched by their identifier (a manifest's, an artifact
// source's) or, for variables, their name. Harness's own runtime-input
// templates (GET /ng/api/servicesV2/runtimeInputs) repeat the identifier
// and type of each object for that matching, so those may be given when
// they equal the entity's.
//
// inputChecker reports every value that such a merge would drop, and
// runtimeInputs finds every <+input> of the entity, to report those the
// inputs leave unfilled.

// inputChecker compares runtime inputs with the entity they merge into.
type inputChecker struct {
	// entity names the entity in messages: "the Service".
	entity string
	// report is called for each value the merge would drop, with the
	// input node, its pointer tokens and the message.
	report func(n *yaml.Node, ptr []string, msg string)
}

// isRuntimeInput reports whether n is a runtime input: <+input>, possibly
// with validators (<+input>.allowedValues(a,b)).
func isRuntimeInput(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "<+input>")
}

// check walks the input value in beside target, the entity's value at the
// same place; path is the place in the entity's terms, for messages.
func (ic inputChecker) check(in, target *yaml.Node, ptr []string, path string) {
	if isRuntimeInput(target) {
		return // the entity asks for this value: any value fills it
	}
	switch in.Kind {
	case yaml.MappingNode:
		if target.Kind != yaml.MappingNode {
			ic.report(in, ptr, fmt.Sprintf("sets %s as an object, which %s holds as %s: Harness ignores it", path, ic.entity, describeNode(target)))
			return
		}
		for i := 0; i+1 < len(in.Content); i += 2 {
			k, v := in.Content[i], in.Content[i+1]
			_, tv := mappingGet(target, k.Value)
			if tv == nil {
				ic.report(k, with(ptr, k.Value), fmt.Sprintf("sets %s, which %s does not have: Harness ignores it", join(path, k.Value), ic.entity))
				continue
			}
			ic.check(v, tv, with(ptr, k.Value), join(path, k.Value))
		}
	case yaml.SequenceNode:
		ic.list(in, target, ptr, path)
	default:
		ic.scalar(in, target, ptr, path)
	}
}

// list checks a list of inputs: elements of objects matched by their key,
// anything else a fixed value.
func (ic inputChecker) list(in, target *yaml.Node, ptr []string, path string) {
	if target.Kind != yaml.SequenceNode {
		ic.report(in, ptr, fmt.Sprintf("sets %s as a list, which %s holds as %s: Harness ignores it", path, ic.entity, describeNode(target)))
		return
	}
	for i, item := range in.Content {
		key, keyed := elementKey(item)
		if !keyed {
			ic.report(in, ptr, fmt.Sprintf("sets %s, which %s fixes: only fields %s marks <+input> take runtime inputs, so Harness ignores it", path, ic.entity, ic.entity))
			return
		}
		match := findElement(target, key)
		iptr := with(ptr, strconv.Itoa(i))
		if match == nil {
			ic.report(item, iptr, fmt.Sprintf("sets %s[%s], which %s does not have: Harness ignores it", path, key, ic.entity))
			continue
		}
		ic.check(item, match, iptr, path+"["+key+"]")
	}
}

// scalar checks one input value for a field the entity fixes: only the
// identifiers and types that match elements are allowed, when equal.
func (ic inputChecker) scalar(in, target *yaml.Node, ptr []string, path string) {
	last := path[strings.LastIndexAny(path, ".]")+1:]
	if (last == "identifier" || last == "type" || last == "name") && target.Kind == yaml.ScalarNode && target.Value == in.Value {
		return
	}
	ic.report(in, ptr, fmt.Sprintf("sets %s, which %s fixes (%s): only fields %s marks <+input> take runtime inputs, so Harness ignores it",
		path, ic.entity, describeNode(target), ic.entity))
}

// elementKey returns the key a list element is matched by: its
// identifier, or the identifier of the one object it wraps (a manifest:
// under a manifests item), or its name (variables); false for an element
// that has none.
func elementKey(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.MappingNode {
		return "", false
	}
	if _, id := mappingGet(n, "identifier"); id != nil && id.Kind == yaml.ScalarNode {
		return id.Value, true
	}
	if len(n.Content) == 2 {
		if _, id := mappingGet(n.Content[1], "identifier"); id != nil && id.Kind == yaml.ScalarNode {
			return n.Content[0].Value + ":" + id.Value, true
		}
	}
	if _, name := mappingGet(n, "name"); name != nil && name.Kind == yaml.ScalarNode {
		return name.Value, true
	}
	return "", false
}

// findElement returns the element of list whose key is key.
func findElement(list *yaml.Node, key string) *yaml.Node {
	for _, item := range list.Content {
		if k, ok := elementKey(item); ok && k == key {
			return item
		}
	}
	return nil
}

// runtimeInput is an <+input> of an entity.
type runtimeInput struct {
	node *yaml.Node
	// steps lead from the entity's value to it: mapping keys, and element
	// keys (elementKey) for list items, written "[key]".
	steps []string
	path  string // the steps joined, for messages
}

// runtimeInputs returns every <+input> under n, in document order. A
// runtime input with a default (<+input>.default(x)) needs no value, and
// is left out.
func runtimeInputs(n *yaml.Node) []runtimeInput {
	var out []runtimeInput
	var walk func(n *yaml.Node, steps []string)
	walk = func(n *yaml.Node, steps []string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], append(steps[:len(steps):len(steps)], n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if key, ok := elementKey(item); ok {
					walk(item, append(steps[:len(steps):len(steps)], "["+key+"]"))
				}
			}
		case yaml.ScalarNode:
			if isRuntimeInput(n) && !strings.Contains(n.Value, ".default(") {
				out = append(out, runtimeInput{node: n, steps: steps, path: stepsPath(steps)})
			}
		}
	}
	walk(n, nil)
	return out
}

// fills reports whether the inputs in give a value other than a runtime
// input at steps.
func fills(in *yaml.Node, steps []string) bool {
	n := in
	for _, s := range steps {
		if n == nil {
			return false
		}
		if key, ok := strings.CutPrefix(s, "["); ok && n.Kind == yaml.SequenceNode {
			n = findElement(n, strings.TrimSuffix(key, "]"))
			continue
		}
		_, n = mappingGet(n, s)
	}
	return n != nil && !isRuntimeInput(n) && !(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// stepsPath joins steps for messages: "serviceDefinition.spec.manifests[manifest:k8s_manifests].spec".
func stepsPath(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describeNode describes a value in a message: its text when it is a
// short scalar, else its kind.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	}
	if len(n.Value) > 60 {
		return "a value"
	}
	return strconv.Quote(n.Value)
}
