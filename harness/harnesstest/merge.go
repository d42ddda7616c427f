package harnesstest

import "strings"

// The runtime-input merge: how Harness puts a run's inputs into the YAML
// they fill. It follows MergeHelper.mergeRuntimeInputValuesIntoOriginalYamlInternal
// with checkIfPipelineValueIsRuntime true (harness-core 953-yaml-commons
// io/harness/pms/merger/helpers/MergeHelper.java), the form every merge of
// a run uses:
//   - the runtime inputs into the pipeline (ExecutionHelper
//     .getPipelineYamlAndValidateStaticallyReferredEntities);
//   - a stage's serviceInputs into its Service, under a service: root
//     (ServiceStepV3.mergeServiceInputsIntoService);
//   - an infrastructure definition's inputs into it, under an
//     infrastructureDefinition: root
//     (InfrastructureTaskExecutableStepV2.mergeInfraInputs).
//
// MergeHelper flattens both documents into maps from a fully qualified
// name to a leaf (FQNMapGenerator) and merges leaf by leaf. The walk below
// gives the same result on the tree:
//   - A value is taken from the inputs only where the original holds a
//     runtime input, a string matching NGExpressionUtils
//     .matchesInputSetPattern ("<+input>" and anything after it, such as
//     ".allowedValues(…)"). A fixed value is kept and the input for it
//     ignored without error.
//   - An input that is itself "<+input>" fills nothing.
//   - A "type" or "identifier" leaf, or the name of a list element keyed
//     by name (FQN.isType, FQN.isIdentifierOrVariableName), is never
//     changed to another value, runtime input or not.
//   - Lists of mappings are matched element by element through the
//     element's key, as FQNMapGenerator names them (FQNHelper): a wrapper
//     element ({manifest: {identifier: …}}) by its inner identifier or id;
//     an element with identifier, id, serviceRef or environmentRef by that
//     value, and merged field by field below it; an element keyed by name,
//     key or commandType (variables) by that value, each of its fields a
//     leaf; the stages of every parallel block of a list as one list. A
//     list of scalars, an empty list or mapping, and a list whose elements
//     have no key, are leaves.
//   - Input keys the original does not have are dropped, with one
//     exception: below the first key named service, environment, template,
//     services, environments or environmentGroup (MergeHelper
//     .acceptAllChildrenKeys), a direct child the original lacks is taken
//     whole from the inputs (getNonIgnorableKeys with
//     addNonIgnorableBaseKeys: the child is added as "<+input>" and filled;
//     YamlMapGenerator then writes only what the original's shape holds,
//     so deeper new keys are lost).

// acceptAllChildrenKeys is MergeHelper.acceptAllChildrenKeys.
var acceptAllChildrenKeys = map[string]bool{
	"service": true, "environment": true, "template": true,
	"services": true, "environments": true, "environmentGroup": true,
}

// The keys FQNHelper identifies list elements by: possibleUUIDs, in order,
// and those of them below which the element is merged field by field
// (UUIDsToIdentityElementInList).
var (
	uuidKeys      = []string{"identifier", "id", "name", "key", "commandType", "serviceRef", "environmentRef"}
	identityUUIDs = map[string]bool{"identifier": true, "id": true, "serviceRef": true, "environmentRef": true}
)

// isRuntimeInput reports whether v is a runtime input: a string starting
// with "<+input>" (NGExpressionUtils.InputSetVariablePattern).
func isRuntimeInput(v any) bool {
	s, ok := v.(string)
	return ok && strings.HasPrefix(s, "<+input>")
}

// mergeRuntimeInputs returns a copy of base with inputs merged as the
// package comment above describes. Neither argument is changed.
func mergeRuntimeInputs(base, inputs any) any {
	return mergeValue("", base, inputs, false, false)
}

// mergeValue merges the input iv into the original bv found under key.
// accepting says that an acceptAllChildrenKeys key has been passed on the
// way down; nameLeaf that key is the name of a list element keyed by name.
func mergeValue(key string, bv, iv any, accepting, nameLeaf bool) any {
	switch b := bv.(type) {
	case map[string]any:
		in, ok := iv.(map[string]any)
		if !ok || len(b) == 0 {
			return deepCopy(bv)
		}
		first := !accepting && acceptAllChildrenKeys[key]
		return mergeMap(b, in, accepting || first, first)
	case []any:
		in, ok := iv.([]any)
		if !ok || !keyedList(b) {
			return deepCopy(bv)
		}
		return mergeList(b, in, accepting)
	case string:
		if !isRuntimeInput(b) || iv == nil || isRuntimeInput(iv) {
			return bv
		}
		if key == "type" || key == "identifier" || nameLeaf {
			// Never changed to another value (FQN.isType,
			// isIdentifierOrVariableName): the merge skips it.
			return bv
		}
		return deepCopy(iv)
	}
	// Numbers, booleans and null are fixed leaves.
	return bv
}

// mergeMap merges mapping in into b. acceptNew says b is the value of the
// first acceptAllChildrenKeys key: its missing direct children come whole
// from the inputs.
func mergeMap(b, in map[string]any, accepting, acceptNew bool) map[string]any {
	out := make(map[string]any, len(b))
	for k, v := range b {
		if iv, ok := in[k]; ok {
			out[k] = mergeValue(k, v, iv, accepting, false)
		} else {
			out[k] = deepCopy(v)
		}
	}
	if acceptNew {
		for k, iv := range in {
			if _, ok := b[k]; !ok && !isRuntimeInput(iv) {
				out[k] = deepCopy(iv)
			}
		}
	}
	return out
}

// elementKey returns how FQNHelper identifies a list element: the wrapper
// key and the inner identifier for a wrapper element, or the element's own
// uuid key; ok is false when the element has none (the whole list is then
// a leaf). A parallel block has wrapper "parallel".
func elementKey(e any) (wrapper, uuidKey, uuidValue string, ok bool) {
	m, isMap := e.(map[string]any)
	if !isMap {
		return "", "", "", false
	}
	if k := uuidKeyOf(m); k != "" {
		return "", k, scalarText(m[k]), true
	}
	// getWrapperKeyForArrayElement: a field whose value has a uuid key.
	for f, v := range m {
		if inner, ok := v.(map[string]any); ok && uuidKeyOf(inner) != "" {
			// getIdentifierKeyIfPresent looks only for identifier and id.
			for _, id := range []string{"identifier", "id"} {
				if _, ok := inner[id]; ok {
					return f, id, scalarText(inner[id]), true
				}
			}
			return "", "", "", false
		}
	}
	if _, ok := m["parallel"].([]any); ok {
		return "parallel", "", "", true
	}
	return "", "", "", false
}

func uuidKeyOf(m map[string]any) string {
	for _, k := range uuidKeys {
		if _, ok := m[k]; ok {
			return k
		}
	}
	return ""
}

// keyedList reports whether a list is merged element by element
// (FQNMapGenerator.generateFQNMapFromList): a non-empty list of mappings
// each of which has a key.
func keyedList(l []any) bool {
	if len(l) == 0 {
		return false
	}
	for _, e := range l {
		if _, _, _, ok := elementKey(e); !ok {
			return false
		}
	}
	return true
}

// mergeList merges the keyed list in into b, element by element.
func mergeList(b, in []any, accepting bool) []any {
	// The elements of every parallel block share one FQN prefix, so the
	// input's parallel stages are matched against all of them.
	var inParallel []any
	for _, e := range in {
		if w, _, _, ok := elementKey(e); ok && w == "parallel" {
			inParallel = append(inParallel, e.(map[string]any)["parallel"].([]any)...)
		}
	}
	out := make([]any, 0, len(b))
	for _, e := range b {
		w, uk, uv, _ := elementKey(e)
		m := e.(map[string]any)
		switch {
		case w == "parallel":
			inner := m["parallel"].([]any)
			merged := inner
			if keyedList(inner) && len(inParallel) > 0 {
				merged = mergeList(inner, inParallel, accepting)
			} else {
				merged = deepCopy(inner).([]any)
			}
			c := deepCopy(m).(map[string]any)
			c["parallel"] = merged
			out = append(out, c)
		case w != "":
			match := findElement(in, w, uk, uv)
			if match == nil {
				out = append(out, deepCopy(m))
				continue
			}
			inner, _ := m[w].(map[string]any)
			innerIn, _ := match[w].(map[string]any)
			c := deepCopy(m).(map[string]any)
			first := !accepting && acceptAllChildrenKeys[w]
			c[w] = mergeMap(inner, innerIn, accepting || first, first)
			out = append(out, c)
		default:
			match := findElement(in, "", uk, uv)
			if match == nil {
				out = append(out, deepCopy(m))
				continue
			}
			if identityUUIDs[uk] {
				out = append(out, mergeMap(m, match, accepting, false))
				continue
			}
			// Keyed by name, key or commandType: each field is a leaf.
			c := make(map[string]any, len(m))
			for k, v := range m {
				if iv, ok := match[k]; ok && !isCollection(v) {
					c[k] = mergeValue(k, v, iv, accepting, k == "name")
				} else {
					c[k] = deepCopy(v)
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// findElement returns the element of l with the same key, or nil.
func findElement(l []any, wrapper, uuidKey, uuidValue string) map[string]any {
	for _, e := range l {
		w, uk, uv, ok := elementKey(e)
		if ok && w == wrapper && uk == uuidKey && uv == uuidValue {
			return e.(map[string]any)
		}
	}
	return nil
}

func isCollection(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// scalarText is a scalar as its YAML text, "" for anything else.
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil, map[string]any, []any:
		return ""
	}
	return strings.TrimSpace(yamlScalar(v))
}

// deepCopy copies decoded YAML.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
