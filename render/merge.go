package render

import (
	"fmt"
	"slices"
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
// It keeps one stack of pointer tokens and one of steps (the place in the
// entity's terms), and turns them into text only for a problem.
type inputChecker struct {
	// entity names the entity in messages: "the Service".
	entity string
	// report is called for each value the merge would drop, with the
	// input node, its pointer tokens (valid during the call only) and the
	// message.
	report func(n *yaml.Node, ptr []string, msg string)
	ptr    []string
	steps  []string
}

// isRuntimeInput reports whether n is a runtime input: <+input>, possibly
// with validators (<+input>.allowedValues(a,b)).
func isRuntimeInput(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "<+input>")
}

// run checks the inputs in, at the pointer ptr, against target.
func (ic *inputChecker) run(in, target *yaml.Node, ptr []string) {
	ic.ptr, ic.steps = slices.Clone(ptr), ic.steps[:0]
	ic.check(in, target)
}

func (ic *inputChecker) push(token, step string) {
	ic.ptr, ic.steps = append(ic.ptr, token), append(ic.steps, step)
}

func (ic *inputChecker) pop() {
	ic.ptr, ic.steps = ic.ptr[:len(ic.ptr)-1], ic.steps[:len(ic.steps)-1]
}

func (ic *inputChecker) path() string { return stepsPath(ic.steps) }

// check walks the input value in beside target, the entity's value at the
// same place.
func (ic *inputChecker) check(in, target *yaml.Node) {
	if isRuntimeInput(target) {
		return // the entity asks for this value: any value fills it
	}
	switch in.Kind {
	case yaml.MappingNode:
		if target.Kind != yaml.MappingNode {
			ic.report(in, ic.ptr, fmt.Sprintf("sets %s as an object, which %s holds as %s: Harness ignores it", ic.path(), ic.entity, describeNode(target)))
			return
		}
		for i := 0; i+1 < len(in.Content); i += 2 {
			k, v := in.Content[i], in.Content[i+1]
			ic.push(k.Value, k.Value)
			if _, tv := mappingGet(target, k.Value); tv == nil {
				ic.report(k, ic.ptr, fmt.Sprintf("sets %s, which %s does not have: Harness ignores it", ic.path(), ic.entity))
			} else {
				ic.check(v, tv)
			}
			ic.pop()
		}
	case yaml.SequenceNode:
		ic.list(in, target)
	default:
		ic.scalar(in, target)
	}
}

// list checks a list of inputs: elements of objects matched by their key,
// anything else a fixed value.
func (ic *inputChecker) list(in, target *yaml.Node) {
	if target.Kind != yaml.SequenceNode {
		ic.report(in, ic.ptr, fmt.Sprintf("sets %s as a list, which %s holds as %s: Harness ignores it", ic.path(), ic.entity, describeNode(target)))
		return
	}
	for i, item := range in.Content {
		key, keyed := elementKey(item)
		if !keyed {
			ic.report(in, ic.ptr, fmt.Sprintf("sets %s, which %s fixes: only fields %s marks <+input> take runtime inputs, so Harness ignores it", ic.path(), ic.entity, ic.entity))
			return
		}
		ic.push(strconv.Itoa(i), "["+key+"]")
		if match := findElement(target, key); match == nil {
			ic.report(item, ic.ptr, fmt.Sprintf("sets %s, which %s does not have: Harness ignores it", ic.path(), ic.entity))
		} else {
			ic.check(item, match)
		}
		ic.pop()
	}
}

// scalar checks one input value for a field the entity fixes: only the
// identifiers, types and names that match elements are allowed, when
// equal.
func (ic *inputChecker) scalar(in, target *yaml.Node) {
	last := ""
	if len(ic.steps) > 0 {
		last = ic.steps[len(ic.steps)-1]
	}
	if (last == "identifier" || last == "type" || last == "name") && target.Kind == yaml.ScalarNode && target.Value == in.Value {
		return
	}
	ic.report(in, ic.ptr, fmt.Sprintf("sets %s, which %s fixes (%s): only fields %s marks <+input> take runtime inputs, so Harness ignores it",
		ic.path(), ic.entity, describeNode(target), ic.entity))
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
// is left out. It walks every node of a pipeline, so it keeps one stack of
// steps and copies it only for an input found.
func runtimeInputs(n *yaml.Node) []runtimeInput {
	var out []runtimeInput
	var steps []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				steps = append(steps, n.Content[i].Value)
				walk(n.Content[i+1])
				steps = steps[:len(steps)-1]
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if key, ok := elementKey(item); ok {
					steps = append(steps, "["+key+"]")
					walk(item)
					steps = steps[:len(steps)-1]
				}
			}
		case yaml.ScalarNode:
			if isRuntimeInput(n) && !strings.Contains(n.Value, ".default(") {
				found := slices.Clone(steps)
				out = append(out, runtimeInput{node: n, steps: found, path: stepsPath(found)})
			}
		}
	}
	walk(n)
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
