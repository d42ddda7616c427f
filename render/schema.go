package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// harnessSchemaJSON is Harness's published JSON Schema for NG pipeline YAML
// (see SCHEMA.md for its origin).
//
//go:embed harness-pipeline-v0.json
var harnessSchemaJSON []byte

const (
	harnessSchemaURL = "https://raw.githubusercontent.com/harness/harness-schema/main/v0/pipeline.json"
	// schemaDefsURL prefixes the URL each definition gets as a resource of
	// its own (see flattenDefinitions).
	schemaDefsURL = harnessSchemaURL + ".d/"
)

// compiledSchema is the Harness schema, ready to validate pipelines.
type compiledSchema struct {
	root *jsonschema.Schema
	// pipelineKeys are the keys the schema defines for the pipeline
	// object. The schema does not forbid others, but Harness has no use
	// for them (a "triggers" key, for one, is silently meaningless).
	pipelineKeys map[string]bool
}

var (
	schemaOnce sync.Once
	schemaVal  *compiledSchema
	schemaErr  error
)

// pipelineSchema returns the compiled Harness schema. It is compiled once,
// on first use, in about a quarter of a second.
func pipelineSchema() (*compiledSchema, error) {
	schemaOnce.Do(func() {
		schemaVal, schemaErr = compileSchema(harnessSchemaJSON, true)
	})
	return schemaVal, schemaErr
}

// compileSchema compiles the Harness schema in src. With dispatch, oneOfs
// over typed alternatives become the equivalent, faster dispatch keyword.
func compileSchema(src []byte, dispatch bool) (*compiledSchema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("reading the Harness pipeline schema: %w", err)
	}
	if err := repairSchema(doc, false); err != nil {
		return nil, fmt.Errorf("reading the Harness pipeline schema: %w", err)
	}
	keys, err := pipelineKeys(doc)
	if err != nil {
		return nil, fmt.Errorf("reading the Harness pipeline schema: %w", err)
	}
	if dispatch {
		addDispatch(doc, "", doc.(map[string]any))
	}
	top, defs, order, err := flattenDefinitions(doc)
	if err != nil {
		return nil, fmt.Errorf("reading the Harness pipeline schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	if dispatch {
		c.RegisterVocabulary(dispatchVocabulary())
	}
	// The schema repeats a few dozen patterns hundreds of times; compile
	// each once.
	regexps := map[string]jsonschema.Regexp{}
	c.UseRegexpEngine(func(src string) (jsonschema.Regexp, error) {
		if re, ok := regexps[src]; ok {
			return re, nil
		}
		re, err := compileRegexp(src)
		if err == nil {
			regexps[src] = re
		}
		return re, err
	})
	if err := c.AddResource(harnessSchemaURL, top); err != nil {
		return nil, fmt.Errorf("loading the Harness pipeline schema: %w", err)
	}
	for _, name := range order {
		if err := c.AddResource(schemaDefsURL+name, defs[name]); err != nil {
			return nil, fmt.Errorf("loading the Harness pipeline schema, definition %s: %w", name, err)
		}
	}
	for _, name := range order {
		if _, err := c.Compile(schemaDefsURL + name); err != nil {
			return nil, fmt.Errorf("compiling the Harness pipeline schema: %w", err)
		}
	}
	root, err := c.Compile(harnessSchemaURL)
	if err != nil {
		return nil, fmt.Errorf("compiling the Harness pipeline schema: %w", err)
	}
	return &compiledSchema{root: root, pipelineKeys: keys}, nil
}

// pipelineKeys returns the property names of
// #/definitions/pipeline/pipeline.
func pipelineKeys(doc any) (map[string]bool, error) {
	v := doc
	for _, k := range []string{"definitions", "pipeline", "pipeline", "properties"} {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no #/definitions/pipeline/pipeline/properties")
		}
		v = m[k]
	}
	props, ok := v.(map[string]any)
	if !ok || len(props) == 0 {
		return nil, fmt.Errorf("no #/definitions/pipeline/pipeline/properties")
	}
	keys := make(map[string]bool, len(props))
	for k := range props {
		keys[k] = true
	}
	return keys, nil
}

// repairSchema rewrites, in the decoded schema, the constructs of the
// published file that draft-07's metaschema rejects, keeping what they
// evidently mean:
//   - an empty "enum" (no value is valid) becomes "not": {};
//   - an empty "allOf" (no constraint) is removed;
//   - a keyword whose value is null ("properties": null, "minLength": null)
//     is removed, as if it were absent;
//   - a property whose schema is written as a list of schemas becomes
//     "anyOf" that list;
//   - a "properties" entry that is not a schema at all (a stray
//     "$schema": "<url>" line) is removed.
//
// props says that v is the value of a "properties" or "patternProperties"
// keyword, whose keys are property names and whose values are schemas.
func repairSchema(v any, props bool) error {
	switch v := v.(type) {
	case map[string]any:
		if props {
			for name, sub := range v {
				switch sub := sub.(type) {
				case map[string]any, bool:
				case []any:
					v[name] = map[string]any{"anyOf": sub}
				default:
					delete(v, name)
				}
			}
		} else {
			if e, ok := v["enum"].([]any); ok && len(e) == 0 {
				if _, ok := v["not"]; ok {
					return fmt.Errorf("a schema has both an empty enum and a not")
				}
				delete(v, "enum")
				v["not"] = map[string]any{}
			}
			if a, ok := v["allOf"].([]any); ok && len(a) == 0 {
				delete(v, "allOf")
			}
			for key, child := range v {
				if child == nil && key != "const" && key != "default" {
					delete(v, key)
				}
			}
		}
		for key, child := range v {
			if err := repairSchema(child, !props && (key == "properties" || key == "patternProperties")); err != nil {
				return err
			}
		}
	case []any:
		for _, child := range v {
			if err := repairSchema(child, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// flattenDefinitions splits the schema into a top document (without
// "definitions") and one document per definition that a $ref points to,
// named by its old path with dots ("pipeline.steps.cd.K8sApplyStepInfo");
// every $ref is rewritten to the URL schemaDefsURL+name. It returns the
// names in the order to compile them (see compileOrder).
//
// Why: jsonschema/v6 compiles, with any subschema, the resource that holds
// it, and queues what it compiles in a list it searches linearly; it also
// copies its bookkeeping for each $ref target it meets inside a resource.
// With the whole 3.4 MB file as one resource, compiling is quadratic in
// the ~29,000 subschemas and takes about 16 s. One resource per
// definition, compiled leaves first, keeps every step small.
func flattenDefinitions(doc any) (top map[string]any, defs map[string]any, order []string, err error) {
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, nil, nil, fmt.Errorf("the schema root is not an object")
	}
	const prefix = "#/definitions/"
	defs = map[string]any{}
	refs := map[string][]string{} // definition name → names it refers to
	lookup := func(name string) (any, error) {
		var v any = root["definitions"]
		for _, part := range strings.Split(name, ".") {
			m, ok := v.(map[string]any)
			if ok {
				v, ok = m[part]
			}
			if !ok {
				return nil, fmt.Errorf("$ref %s%s: no such definition", prefix, strings.ReplaceAll(name, ".", "/"))
			}
		}
		return v, nil
	}
	var queue []string
	// rewrite replaces the $refs in v, records them under owner, and
	// queues each newly seen target.
	var rewrite func(v any, owner string) error
	rewrite = func(v any, owner string) error {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var name string
				if path, ok := strings.CutPrefix(ref, prefix); ok {
					name = strings.ReplaceAll(path, "/", ".")
				} else if n, ok := strings.CutPrefix(ref, schemaDefsURL); ok {
					name = n // a target nested in another target, met twice
				} else {
					return fmt.Errorf("$ref %q: only local definitions are supported", ref)
				}
				v["$ref"] = schemaDefsURL + name
				refs[owner] = append(refs[owner], name)
				if _, seen := defs[name]; !seen {
					target, err := lookup(name)
					if err != nil {
						return err
					}
					defs[name] = target
					queue = append(queue, name)
				}
			}
			for key, child := range v {
				if key == "$ref" {
					continue
				}
				if err := rewrite(child, owner); err != nil {
					return err
				}
			}
		case []any:
			for _, child := range v {
				if err := rewrite(child, owner); err != nil {
					return err
				}
			}
		}
		return nil
	}
	top = map[string]any{}
	for k, v := range root {
		if k != "definitions" {
			top[k] = v
		}
	}
	if err := rewrite(top, ""); err != nil {
		return nil, nil, nil, err
	}
	for i := 0; i < len(queue); i++ {
		if err := rewrite(defs[queue[i]], queue[i]); err != nil {
			return nil, nil, nil, err
		}
	}

	return top, defs, compileOrder(defs, refs), nil
}

// compileOrder orders the definitions so that each comes after everything
// it refers to, except members of one reference cycle, which come
// together. It is Tarjan's strongly connected components algorithm, which
// emits each component after every component reachable from it. (A plain
// depth-first post-order is not enough: a definition that closes a cycle
// would come first and pull the whole cycle's reach into one compilation.)
func compileOrder(defs map[string]any, refs map[string][]string) []string {
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
		sort.Strings(refs[name])
	}
	sort.Strings(names)
	var (
		order   = make([]string, 0, len(names))
		index   = map[string]int{}
		low     = map[string]int{}
		onStack = map[string]bool{}
		stack   []string
		next    int
	)
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range refs[v] {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				order = append(order, w)
				if w == v {
					break
				}
			}
		}
	}
	for _, name := range names {
		if _, seen := index[name]; !seen {
			strong(name)
		}
	}
	return order
}

// schemaProblem is one complaint of the schema about a pipeline.
type schemaProblem struct {
	pointer []string // instance location
	message string
	// missing is the property a "missing property" complaint is about.
	missing string
}

// explain turns a validation error tree into the few complaints a person
// needs. Where the schema offers alternatives (oneOf, anyOf) and one of
// them is meant (its "type" matches, or its JSON type does), only that
// alternative's complaints are kept; 300 "value must be 'MergePR'" lines
// about the other step types say nothing.
func explain(ve *jsonschema.ValidationError) []schemaProblem {
	printer := message.NewPrinter(language.English)
	var out []schemaProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		switch k := e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf, *noneMatched:
			if k, ok := k.(*kind.OneOf); ok && len(k.Subschemas) > 1 {
				out = append(out, schemaProblem{pointer: e.InstanceLocation, message: "matches more than one of the schema's alternatives"})
				return
			}
			meant := meantAlternatives(e)
			if len(meant) == 0 {
				out = append(out, schemaProblem{pointer: e.InstanceLocation, message: noAlternative})
				return
			}
			for _, c := range meant {
				walk(c)
			}
			return
		case *kind.Group, *kind.Schema, *kind.AllOf, *kind.Reference:
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		p := schemaProblem{pointer: e.InstanceLocation, message: e.ErrorKind.LocalizedString(printer)}
		if k, ok := e.ErrorKind.(*kind.Required); ok && len(k.Missing) == 1 {
			p.missing = k.Missing[0]
		}
		out = append(out, p)
	}
	walk(ve)
	return out
}

// meantAlternatives returns the causes of a failed oneOf/anyOf that the
// value was evidently meant to match: those that do not fail on the
// value's JSON type, on its "type" discriminator, or on a "not"; and of
// those, the ones whose complaints reach deepest into the value (a stage
// that got as far as its steps was meant to be of that stage type).
func meantAlternatives(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	var meant []*jsonschema.ValidationError
	best := -1
	for _, c := range e.Causes {
		if failsOnDiscriminator(c, len(e.InstanceLocation)) {
			continue
		}
		switch d := deepest(c); {
		case d > best:
			meant, best = []*jsonschema.ValidationError{c}, d
		case d == best:
			meant = append(meant, c)
		}
	}
	return meant
}

// deepest returns the length of the longest instance location in e.
func deepest(e *jsonschema.ValidationError) int {
	d := len(e.InstanceLocation)
	for _, c := range e.Causes {
		d = max(d, deepest(c))
	}
	return d
}

// failsOnDiscriminator reports whether e has a complaint about the value
// at depth itself being of another JSON type, or about its "type" property.
func failsOnDiscriminator(e *jsonschema.ValidationError, depth int) bool {
	loc := e.InstanceLocation
	switch e.ErrorKind.(type) {
	case *kind.Type:
		if len(loc) == depth {
			return true
		}
	case *kind.Enum, *kind.Const, *kind.Not:
		if len(loc) == depth+1 && loc[depth] == "type" {
			return true
		}
	}
	for _, c := range e.Causes {
		if failsOnDiscriminator(c, depth) {
			return true
		}
	}
	return false
}

// noAlternative explains a value that matches none of the schema's
// alternatives, none of which it was evidently meant for.
const noAlternative = "matches none of the forms the schema allows here (check its \"type\" and the kind of its value)"
